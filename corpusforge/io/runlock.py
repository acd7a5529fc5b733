"""An exclusive lock on a run directory (or a refresh state directory), safe to take over after a crash.

Local paths use `fcntl.flock` on `<dir>/_LOCK`: the kernel drops the lock when the holding process dies
(kill -9 included), so a lock left by a crashed run is stale by construction and the next run simply takes
it; no pid guessing, no timeouts. The file holds who has it (host, pid, command, start time) so a refused
run can name the other process. The file is unlinked on release; an acquirer re-checks that the path still
names the inode it locked (the standard flock + unlink protocol), so release cannot race a new acquirer.

Object stores (gs://) have no flock: there the lock is a create-once JSON object, and one whose holder is
on this host and no longer alive is taken over. A lock held from another host must be removed by hand
(the message says so) -- an object store cannot tell a live remote run from a dead one.
"""
from __future__ import annotations

import json
import os
import socket
import sys
import time

from corpusforge import storage
from corpusforge.config import ConfigError

LOCK_NAME = "_LOCK"


class RunLocked(ConfigError):
    """Another live process holds the lock on this directory (a ConfigError: the CLI prints it as one line)."""


def _holder_info() -> dict:
    return {"host": socket.gethostname(), "pid": os.getpid(), "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "command": " ".join(sys.argv)[:500]}


def _describe(info: dict | None, path: str) -> str:
    if not info:
        return f"another process holds {path}"
    return (f"another corpusforge run holds {path}: pid {info.get('pid')} on {info.get('host')}, started "
            f"{info.get('started')} ({info.get('command')!r})")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RunLock:
    """`with RunLock(directory, what="output.dir"):` -- raises RunLocked naming the holder if taken."""

    def __init__(self, directory: str, what: str = "output.dir"):
        self.directory = directory.rstrip("/")
        self.path = f"{self.directory}/{LOCK_NAME}"
        self.what = what
        self._fd: int | None = None

    # ------------------------------------------------------------------------------------ local
    def _acquire_local(self) -> None:
        import fcntl

        while True:
            try:
                os.makedirs(self.directory, exist_ok=True)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as e:
                raise ConfigError(f"{self.what} {self.directory!r} is not a writable directory ({e.strerror})") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                try:
                    info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "null")
                except (ValueError, OSError):
                    info = None
                os.close(fd)
                raise RunLocked(f"{self.what} is in use: {_describe(info, self.path)}; wait for it to finish "
                                "or choose another directory") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)  # the holder unlinked it between our open and flock: try the new file
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_holder_info()).encode("utf-8"), 0)
        self._fd = fd

    def _release_local(self) -> None:
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = None

    # ------------------------------------------------------------------------------------ remote
    def _acquire_remote(self) -> None:
        if storage.exists(self.path):
            info = json.loads(storage.read_text(self.path) or "null") or {}
            if info.get("host") == socket.gethostname() and not _pid_alive(int(info.get("pid", 0))):
                storage.remove(self.path)  # its holder on this host is gone: stale
            else:
                raise RunLocked(f"{self.what} is in use: {_describe(info, self.path)}; if that run is dead, "
                                f"delete {self.path}")
        with storage.open_write(self.path) as f:
            f.write(json.dumps(_holder_info()).encode("utf-8"))

    def _release_remote(self) -> None:
        storage.remove(self.path)

    # ------------------------------------------------------------------------------------ protocol
    def __enter__(self) -> "RunLock":
        self._acquire_remote() if storage.is_remote(self.path) else self._acquire_local()
        return self

    def __exit__(self, *exc) -> None:
        if storage.is_remote(self.path):
            self._release_remote()
        elif self._fd is not None:
            self._release_local()
