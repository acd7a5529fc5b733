"""The one place for paths, local or remote, as datatrove's `DataFolder` is.

Local paths use the OS directly (atomic `os.replace`, real directories); anything with a scheme (gs://, s3://,
...) goes through Beam's `FileSystems`, which Dataflow workers already have. `file://` paths are local. No other
module tests for "://", calls `os.replace` on an output, or hashes a file itself: call these functions.

Atomic writes: bytes go to `.<name>.tmp-<random>` beside the target and are renamed over it, so a killed run
never leaves a half-written file under a final name (object stores: write, then rename, which their
FileSystems implement as copy + delete; a reader never sees a partial object either way).
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import uuid
from typing import IO, Iterator

from corpusforge.errors import ConfigError

_READ_CHUNK = 1 << 22
TMP_MARK = ".tmp-"


def _fs():
    from apache_beam.io.filesystems import FileSystems  # imported lazily: local use stays Beam-free

    return FileSystems


def is_remote(path: str) -> bool:
    return "://" in str(path) and not str(path).startswith("file://")


def local(path: str | os.PathLike) -> str:
    """The OS path of a local path (`file://` prefix removed)."""
    return str(path).removeprefix("file://")


def join(base: str, *names: str) -> str:
    """Join with "/" (the separator of every object store and of POSIX)."""
    out = str(base)
    for name in names:
        out = f"{out.rstrip('/')}/{name}" if out else name
    return out


def exists(path: str) -> bool:
    return _fs().exists(path) if is_remote(path) else os.path.exists(local(path))


def is_dir(path: str) -> bool:
    """A local directory, or a remote prefix under which at least one object exists."""
    if is_remote(path):
        return bool(_fs().match([join(path, "*")])[0].metadata_list)
    return os.path.isdir(local(path))


def size(path: str) -> int:
    if is_remote(path):
        return _fs().match([path])[0].metadata_list[0].size_in_bytes
    return os.path.getsize(local(path))


def match(pattern: str) -> list[str]:
    """Paths matching a glob, sorted; [] when none match."""
    try:
        return sorted(m.path for m in _fs().match([pattern])[0].metadata_list)
    except Exception:  # Beam raises when a local pattern's directory does not exist
        return []


def match_sizes(pattern: str) -> list[tuple[str, int]]:
    """(path, size in bytes) of every file matching a glob (or naming one file), sorted by path."""
    try:
        found = _fs().match([pattern])[0].metadata_list
    except Exception:
        return []
    return sorted((m.path, m.size_in_bytes) for m in found)


def list_names(directory: str) -> list[str]:
    """Names directly under a directory (files, and local subdirectories), sorted; [] when it is missing."""
    if is_remote(directory):
        prefix = join(directory, "")
        return sorted({p[len(prefix):].split("/", 1)[0] for p in match(prefix + "**")})
    d = local(directory)
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def makedirs(path: str) -> None:
    """Create a local directory and its parents; object stores have no directories to create."""
    if not is_remote(path):
        os.makedirs(local(path), exist_ok=True)


def open_read(path: str) -> IO[bytes]:
    if is_remote(path):
        return _fs().open(path, compression_type="uncompressed")
    return open(local(path), "rb")


def open_write(path: str) -> IO[bytes]:
    """A plain (non-atomic) binary writer, creating local parent directories; prefer `atomic_writer`."""
    if is_remote(path):
        return _fs().create(path, mime_type="application/octet-stream", compression_type="uncompressed")
    parent = os.path.dirname(local(path))
    if parent:
        os.makedirs(parent, exist_ok=True)
    return open(local(path), "wb")


def read_bytes(path: str) -> bytes:
    with open_read(path) as f:
        return f.read()


def read_text(path: str) -> str:
    return read_bytes(path).decode("utf-8")


def tmp_name(path: str) -> str:
    """A hidden temporary name beside `path`, unique per writer."""
    head, tail = path.rsplit("/", 1) if "/" in path else ("", path)
    name = f".{tail}{TMP_MARK}{uuid.uuid4().hex[:8]}"
    return f"{head}/{name}" if head else name


def replace(src: str, dst: str) -> None:
    """Rename `src` over `dst` (a file): atomic on a local disk."""
    if not is_remote(dst):
        os.replace(local(src), local(dst))
        return
    fs = _fs()
    if fs.exists(dst):
        fs.delete([dst])
    fs.rename([src], [dst])


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike, durable: bool = False) -> Iterator[IO[bytes]]:
    """A binary file that appears under `path` only when the block ends without an exception. `durable`:
    fsync before the rename (checkpoints a resumed run trusts after a power loss; local files only)."""
    tmp = tmp_name(str(path))
    try:
        with open_write(tmp) as f:
            yield f
            if durable and not is_remote(tmp):
                f.flush()
                os.fsync(f.fileno())
        replace(tmp, str(path))
    except BaseException:
        remove(tmp)
        raise


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> str:
    with atomic_writer(str(path)) as f:
        f.write(data)
    return str(path)


def write_text_atomic(path: str | os.PathLike, text: str) -> str:
    return write_bytes_atomic(path, text.encode("utf-8"))


def remove(path: str) -> None:
    """Remove a file or a whole directory (a remote prefix); nothing happens when it is missing."""
    if not is_remote(path):
        p = local(path)
        if os.path.isdir(p) and not os.path.islink(p):
            shutil.rmtree(p)
        elif os.path.lexists(p):
            os.remove(p)
        return
    targets = match(join(path, "**"))  # the objects under a prefix ("directory")
    if _fs().exists(path):
        targets.append(path)
    if targets:
        _fs().delete(targets)


def remove_if_empty(directory: str) -> None:
    """Remove a local directory when nothing is left in it (object stores have no directories: nothing to do)."""
    if not is_remote(directory):
        try:
            os.rmdir(local(directory))
        except OSError:  # not empty, or gone
            pass


def move_dir(src: str, dst: str) -> None:
    """Move a directory into place, replacing any partial copy an earlier killed attempt left at `dst`.
    Object stores rename object by object; a rerun moves what is left (matched again under `src`)."""
    if not is_remote(src):
        remove(dst)
        os.replace(local(src), local(dst))
        return
    matched = match(join(src, "*"))
    _fs().rename(matched, [p.replace(src, dst, 1) for p in matched])


def copy_files(srcs: list[str], dsts: list[str]) -> None:
    if not srcs:
        return
    if any(is_remote(p) for p in (*srcs, *dsts)):
        _fs().copy(srcs, dsts)
        return
    for s, d in zip(srcs, dsts):
        shutil.copyfile(local(s), local(d))


def cached_local_copy(path: str, cache_dir: str | os.PathLike) -> str:
    """A local path for `path`: itself when local; a remote file is copied once into `cache_dir` (keyed by its
    URL, atomic rename, reused while the size matches), for libraries that can only open local files."""
    if not is_remote(path):
        return local(path)
    key = hashlib.sha1(path.encode("utf-8")).hexdigest()[:16]
    target = os.path.join(str(cache_dir), f"{key}-{path.rsplit('/', 1)[-1]}")
    if os.path.exists(target) and os.path.getsize(target) == size(path):
        return target
    with open_read(path) as src, atomic_writer(target) as dst:
        shutil.copyfileobj(src, dst, _READ_CHUNK)
    return target


def remove_stray_temp_files(directory: str) -> None:
    """Half-written `.name.tmp-xxxx` files of a write killed between its write and its rename (local only:
    object stores never show a partial object)."""
    if is_remote(directory):
        return
    for name in list_names(directory):
        if name.startswith(".") and TMP_MARK in name:
            remove(join(directory, name))


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open_read(path) as f:
        while chunk := f.read(_READ_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def checksum(path: str) -> str:
    """A content fingerprint: the store's own checksum where it has one (no download), else "sha256:<hex>"."""
    if is_remote(path):
        try:
            return "store:" + str(_fs().checksum(path))
        except Exception:  # some stores have no checksum: hash the bytes
            pass
    return "sha256:" + sha256_file(path)


# ----------------------------------------------------------------------------- an output directory we own
WORK_DIR = "_work"


def claim_output_dir(out_dir: str, owned, finished: str, overwrite: bool, what: str) -> str:
    """An empty `<out_dir>/_work` to build an output in, for commands whose output is a directory of their own
    files (tokenizer, token shards). Refuses a directory holding files `owned(name)` does not claim, and a
    finished output (its `finished` entry exists) unless `overwrite`. What an earlier killed run left in
    `_work` is removed; a finished output stays readable until `publish_work_dir` replaces it."""
    if exists(join(out_dir, finished)) and not overwrite:
        raise ConfigError(f"{out_dir} already holds {what}; pass --overwrite to replace it")
    foreign = [n for n in list_names(out_dir) if n != WORK_DIR and not owned(n)]
    if foreign:
        raise ConfigError(f"--out {out_dir} holds files that are not {what} ({foreign[0]}, ...); "
                              "choose an empty or new directory")
    work = join(out_dir, WORK_DIR)
    remove(work)
    makedirs(work)
    return work


def publish_work_dir(work: str, out_dir: str, owned, marker: str | None = None) -> None:
    """Replace the output in `out_dir` by what `work` holds: every owned entry of the old output goes first
    (so no file of an earlier, different output survives beside the new one), then `work`'s entries move in,
    and `marker` (if any) is written last."""
    for name in list_names(out_dir):
        if name != WORK_DIR and owned(name):
            remove(join(out_dir, name))
    for name in list_names(work):
        src, dst = join(work, name), join(out_dir, name)
        if is_remote(src) or not os.path.isdir(local(src)):
            replace(src, dst)
        else:
            os.replace(local(src), local(dst))
    remove(work)
    if marker:
        write_bytes_atomic(join(out_dir, marker), b"")
