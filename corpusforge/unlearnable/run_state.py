"""On-disk state of a protection run: int8 deltas, uint8 working images, round checkpoints.

RAM stays bounded as the dataset grows: the working-resolution clean images (uint8) and the noise (int8,
value = round(delta * 255), so eps = 8/255 stores as |v| <= 8) live in `np.memmap` files and only the current
batch is ever materialized as float. The official MEM code keeps float32 noise for every caption row in RAM.

Noise is double-buffered: a round reads buffer A and writes buffer B, and the round checkpoint names the buffer
that holds the last complete round. A run killed mid-round resumes from a consistent pair (checkpoint, buffer)
without copying the whole noise array each round.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from corpusforge import storage


class Int8DeltaStore:
    """Noise deltas as int8 memmaps of shape (n, 3, h, w), two buffers (`a`, `b`). Units: 1/255."""

    def __init__(self, directory: str | os.PathLike, n: int, size: int):
        self.dir = Path(directory)
        self.shape = (int(n), 3, int(size), int(size))
        self.dir.mkdir(parents=True, exist_ok=True)
        self._maps: dict[str, np.memmap] = {}
        for name in ("a", "b"):
            path = self.dir / f"deltas_{name}.int8"
            expected = int(np.prod(self.shape))
            mode = "r+" if path.exists() and path.stat().st_size == expected else "w+"
            # w+ creates a sparse zero-filled file: a fresh run starts from delta = 0.
            self._maps[name] = np.memmap(path, dtype=np.int8, mode=mode, shape=self.shape)

    @staticmethod
    def other(name: str) -> str:
        return "b" if name == "a" else "a"

    def read(self, buf: str, idx) -> torch.Tensor:
        """Float deltas (in [0,1] pixel units) for rows `idx` (sorted or not)."""
        arr = np.asarray(self._maps[buf][np.asarray(idx)], dtype=np.float32)
        return torch.from_numpy(arr) / 255.0

    def read_int8(self, buf: str, idx) -> np.ndarray:
        return np.array(self._maps[buf][np.asarray(idx)])

    def write(self, buf: str, idx, delta: torch.Tensor) -> None:
        q = torch.round(delta.detach().float().cpu() * 255.0).clamp_(-127, 127).to(torch.int8).numpy()
        m = self._maps[buf]
        for row, i in enumerate(np.asarray(idx).tolist()):
            m[i] = q[row]

    def copy(self, src: str, dst: str, chunk: int = 256) -> None:
        for s in range(0, self.shape[0], chunk):
            self._maps[dst][s:s + chunk] = self._maps[src][s:s + chunk]

    def flush(self) -> None:
        for m in self._maps.values():
            m.flush()

    def nbytes(self) -> int:
        return 2 * int(np.prod(self.shape))


class ImageCache:
    """Clean images at the surrogate's working resolution, uint8 (n, 3, s, s), written once then read-only."""

    def __init__(self, path: str | os.PathLike, n: int, size: int, create: bool):
        self.path = Path(path)
        self.shape = (int(n), 3, int(size), int(size))
        self.map = np.memmap(self.path, dtype=np.uint8, mode="w+" if create else "r+", shape=self.shape)

    def put(self, i: int, chw_uint8: np.ndarray) -> None:
        self.map[i] = chw_uint8

    def read(self, idx) -> torch.Tensor:
        return torch.from_numpy(np.asarray(self.map[np.asarray(idx)], dtype=np.float32)) / 255.0

    def flush(self) -> None:
        self.map.flush()


def save_torch_atomic(obj: Any, path: str | os.PathLike) -> None:
    with storage.atomic_writer(path, durable=True) as f:
        torch.save(obj, f)


def load_torch(path: str | os.PathLike) -> Any:
    # Our own checkpoint (tensors, dicts, lists, numbers): weights_only loading is enough and safe.
    return torch.load(str(path), map_location="cpu", weights_only=True)


def write_json(obj: Any, path: str | os.PathLike) -> None:
    storage.write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n")
