"""The surrogate CLIP that protection optimizes against, and the text-side pieces MEM needs.

The model itself comes from `corpusforge.unlearnable.clip.build_clip` (open_clip model definitions, randomly
initialized as in MEM's main setting, or a local checkpoint). This module adds what the min-min loop needs on
top: pixel-space image encoding (normalization inside, so PGD works on [0,1] pixels), token-level text
construction `[sot] trigger caption [eot]`, the token embedding used by HotFlip, and the set of tokens a
trigger may use.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from corpusforge.unlearnable.clip import build_clip, encode_images, encode_texts, logit_scale


@dataclass
class Surrogate:
    model: torch.nn.Module
    tokenizer: object
    image_size: int
    device: torch.device

    def __post_init__(self):
        self.context_length = int(getattr(self.model, "context_length", 77) or 77)

    # ---------------------------------------------------------------------------- encoders
    def encode_image(self, x01: torch.Tensor) -> torch.Tensor:
        """[0,1] pixels (B,3,H,W) -> L2-normalized features. Noise may live at a higher working resolution than
        the model's input; it is then downsampled here (bilinear with antialiasing, differentiable), so PGD
        optimizes the full-resolution noise through the same kind of resize a scraper's loader applies."""
        x = x01.to(self.device)
        if x.shape[-1] != self.image_size or x.shape[-2] != self.image_size:
            x = F.interpolate(x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False,
                              antialias=True)
        return encode_images(self.model, x)

    def encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return encode_texts(self.model, tokens)

    def logit_scale(self) -> torch.Tensor:
        return logit_scale(self.model)

    @property
    def token_embedding(self) -> torch.nn.Embedding:
        if hasattr(self.model, "token_embedding"):
            return self.model.token_embedding
        return self.model.text.token_embedding  # CustomTextCLIP

    @property
    def vocab_limit(self) -> int:
        return int(self.token_embedding.num_embeddings)

    # ---------------------------------------------------------------------------- text
    @property
    def sot(self) -> int:
        return int(self.tokenizer.sot_token_id)

    @property
    def eot(self) -> int:
        return int(self.tokenizer.eot_token_id)

    def encode_caption(self, caption: str) -> list[int]:
        return list(self.tokenizer.encode(caption))

    def build_tokens(self, triggers: list[list[int]] | torch.Tensor, captions: list[list[int]]) -> torch.Tensor:
        """Rows `[sot] trigger caption [eot]`, caption truncated so eot always fits (pooling reads it)."""
        n = self.context_length
        out = torch.zeros(len(captions), n, dtype=torch.long)
        for r, cap in enumerate(captions):
            trig = [int(t) for t in triggers[r]] if triggers is not None else []
            body = (trig + list(cap))[: n - 2]
            row = [self.sot] + body + [self.eot]
            out[r, : len(row)] = torch.tensor(row, dtype=torch.long)
        return out


def load_surrogate(model_name: str, checkpoint: str | None, device: str | torch.device, seed: int) -> Surrogate:
    model, tokenizer, image_size = build_clip(model_name, checkpoint, device, seed)
    return Surrogate(model=model, tokenizer=tokenizer, image_size=int(image_size), device=torch.device(device))


@functools.lru_cache(maxsize=8)
def _allowed_ids_cached(tokenizer, vocab_limit: int) -> tuple[int, ...]:
    special = set(int(i) for i in getattr(tokenizer, "all_special_ids", []))
    decoder = tokenizer.decoder
    out = []
    for tid in range(min(vocab_limit, len(decoder))):
        if tid in special:
            continue
        piece = decoder[tid]
        # Only whole words (`</w>`): a sub-word piece decodes glued to the next token and re-encodes differently.
        if not piece.endswith("</w>"):
            continue
        text = tokenizer.decode([tid]).strip()
        if not text or "start_of_text" in text or "end_of_text" in text:
            continue
        if list(tokenizer.encode(text)) != [tid]:
            continue
        if not text.isprintable():
            continue
        out.append(tid)
    return tuple(out)


def allowed_trigger_ids(tokenizer, vocab_limit: int) -> torch.Tensor:
    """Token ids a trigger may use: not special (CLIP pools at the end-of-text token), whole words, and
    decode -> encode gives back exactly that id. Triggers built from these survive as plain text."""
    return torch.tensor(_allowed_ids_cached(tokenizer, int(vocab_limit)), dtype=torch.long)


def trigger_text(tokenizer, ids) -> str:
    return " ".join(tokenizer.decode([int(t)]).strip() for t in ids)


def protected_caption(tokenizer, ids, caption: str) -> str:
    t = trigger_text(tokenizer, ids)
    return f"{t} {caption}" if t else caption
