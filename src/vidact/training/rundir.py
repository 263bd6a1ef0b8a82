"""A run directory held by one process at a time, never half-replaced, never left half-made.

- A lock (``RUN/.lock``, an ``flock`` the kernel releases when the process dies, so a killed run
  leaves no stale lock) stops a second training on the same ``--out`` with the holder's pid.
- ``--overwrite`` moves the old run aside (``RUN/.replaced/``) only once the new run has passed
  validation, and deletes it only when the new run has saved its first checkpoint; a new run that
  fails before that gets the old one put back. A process killed in between leaves the old run
  aside; the next process to open the directory puts it back.
- A new run that fails before its first checkpoint removes what it wrote (config.yaml,
  split.csv, ...), so a failed start leaves nothing that looks like a run.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import socket
import time
from pathlib import Path
from types import TracebackType

from vidact.errors import RunError

log = logging.getLogger(__name__)

LOCK_NAME = ".lock"
ASIDE_NAME = ".replaced"
_RUN_MARKERS = ("checkpoints", "metrics.csv", "config.yaml")


def holds_run(path: Path) -> bool:
    return any((path / name).exists() for name in _RUN_MARKERS)


class RunDirectory:
    """Context manager owning ``path`` while a run writes it (see the module docstring).

    ``resume=True`` continues the run already there; otherwise a run there is an error unless
    ``overwrite``. Call ``commit()`` once the run has a checkpoint of its own.
    """

    def __init__(self, path: str | Path, overwrite: bool = False, resume: bool = False) -> None:
        self.path = Path(path)
        self.overwrite = overwrite
        self.resume = resume
        self.committed = resume  # a resumed run's files are its own from the start
        self._fd: int | None = None
        self._created = False
        self._before: set[str] = set()

    @property
    def _aside(self) -> Path:
        return self.path / ASIDE_NAME

    def __enter__(self) -> RunDirectory:
        if self.path.exists() and not self.path.is_dir():
            raise RunError(f"{self.path}: exists and is not a folder; choose another --out")
        self._created = not self.path.exists()
        self.path.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            if self._aside.exists():
                log.warning(
                    "%s: an earlier --overwrite was interrupted; restoring the old run", self.path
                )
                self._restore()
            if not self.resume and holds_run(self.path):
                if not self.overwrite:
                    raise RunError(
                        f"{self.path} already holds a run; choose another --out, pass "
                        f"--overwrite, or continue it with --resume {self.path}"
                    )
                self._set_aside()
            self._before = self._entries()
        except BaseException:
            self._unlock()
            raise
        return self

    def commit(self) -> None:
        """The new run has a checkpoint: the run it replaced can go."""
        if self.committed:
            return
        self.committed = True
        if self._aside.exists():
            shutil.rmtree(self._aside, ignore_errors=True)
            log.info("%s: the replaced run was deleted", self.path)

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            if kind is not None and not self.committed:
                for name in self._entries() - self._before:  # what this failed start wrote
                    _remove(self.path / name)
                if self._aside.exists():
                    self._restore()
            elif kind is None:
                self.commit()
        finally:
            self._unlock()

    def _entries(self) -> set[str]:
        return {p.name for p in self.path.iterdir()} - {LOCK_NAME, ASIDE_NAME}

    def _set_aside(self) -> None:
        self._aside.mkdir()
        for name in self._entries():
            os.replace(self.path / name, self._aside / name)
        log.info("%s: the old run is set aside until the new one saves a checkpoint", self.path)

    def _restore(self) -> None:
        for entry in self._aside.iterdir():
            _remove(self.path / entry.name)
            os.replace(entry, self.path / entry.name)
        self._aside.rmdir()

    def _lock(self) -> None:
        lock = self.path / LOCK_NAME
        while True:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 200).decode(errors="replace").strip() or "another process"
                os.close(fd)
                if _holder_is_dead(holder):
                    # killed: only its orphaned DataLoader workers (which inherited the lock)
                    # still hold it, for a moment; the run is free to take
                    log.warning("%s: taking over the lock of %s, which is gone", self.path, holder)
                    lock.unlink(missing_ok=True)
                    continue
                raise RunError(
                    f"{self.path} is being written by {holder}; wait for it to finish, or "
                    "choose another --out"
                ) from None
            try:  # the holder before us may have removed the file after we opened it
                if os.fstat(fd).st_ino == os.stat(lock).st_ino:
                    break
            except FileNotFoundError:
                pass
            os.close(fd)
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%d %H:%M:%S")
        os.write(fd, f"process {os.getpid()} on {socket.gethostname()} since {started}\n".encode())
        self._fd = fd

    def _unlock(self) -> None:
        if self._fd is None:
            return
        (self.path / LOCK_NAME).unlink(missing_ok=True)
        os.close(self._fd)
        self._fd = None
        if self._created and self.path.is_dir() and not any(self.path.iterdir()):
            self.path.rmdir()


def _holder_is_dead(holder: str) -> bool:
    """Whether the lock's writer ("process PID on HOST since ...") has exited (this host only)."""
    parts = holder.split()
    if len(parts) < 4 or parts[0] != "process" or parts[3] != socket.gethostname():
        return False
    pid = int(parts[1]) if parts[1].isdigit() else 0
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:  # a zombie (killed, not yet reaped) is gone as well
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
