"""On-disk caches of per-video arrays, safe to share between runs and processes.

Two kinds live under one cache folder: ``clips`` (decoded, resized uint8 frames, so later epochs
decode nothing) and ``features`` (a frozen backbone's frame features, so comparing heads costs
seconds). An entry is keyed by the file's identity (resolved path, size, mtime) inside a namespace
that hashes the settings that produced it, so editing a video or changing the decode size never
serves stale data.

Entries can be trusted: each is written to a temporary file and renamed (an interrupted run leaves
no half-written entry), its metadata carries a CRC-32 per stored row, checked on every row read,
and non-finite values are refused on write and on read. A damaged or vanished entry reads as
missing and is rebuilt in place by the caller; it never makes a good video "unreadable". The
folder is tagged (``CACHEDIR.TAG``, which backup tools also honour), and ``clear_cache`` deletes
only the files vidact wrote, in tagged folders only.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vidact.errors import CacheError
from vidact.io.reader import VideoReadError

log = logging.getLogger(__name__)

KINDS = ("clips", "features")
TAG_NAME = "CACHEDIR.TAG"
_TAG = (
    "Signature: 8a477f597d28d172789f06886806bc55\n"
    "# This file marks a vidact cache (clips and frame features); see `vidact cache info`.\n"
)
_NAMESPACE = re.compile(r"^[0-9a-f]{16}$")
# writes of one entry, each from a fresh folder: a `cache clear` running meanwhile removes the
# namespace's folder and temporary files, and two attempts lost to one clearing every 50 ms on
# two busy cores
SAVE_ATTEMPTS = 5
_ENTRY_FILE = re.compile(r"^([0-9a-f]{40}\.(npy|json)|settings\.json|tmp\w*\.tmp)$")


@dataclass(frozen=True)
class CachedVideo:
    """A cache entry: ``frames`` (N, ...) taken evenly from the video, and the video's facts.

    An entry read memory-mapped carries a CRC-32 per row (``checks``) and verifies the rows a
    clip takes as ``rows`` reads them, so a cached clip costs the frames it uses, not the
    whole entry."""

    array: np.ndarray
    num_frames: int  # of the video itself
    fps: float  # of the video itself
    checks: tuple[int, ...] | None = None  # per-row CRC-32, when not yet verified

    @property
    def fps_of_entry(self) -> float:
        """The frame rate of the stored frames (lower when the video was subsampled)."""
        return self.fps * len(self.array) / self.num_frames

    def rows(self, positions: np.ndarray) -> np.ndarray:
        """A copy of the rows at ``positions``; DamagedEntry if one fails its check."""
        out = np.asarray(self.array[positions])
        if self.checks is not None:
            for position, row in zip(positions, out, strict=True):
                if _checksum(row) != self.checks[int(position)] or not _finite(row):
                    raise DamagedEntry(f"row {int(position)} fails its checksum")
        return out


class DamagedEntry(ValueError):
    """A cached entry's bytes no longer match their checksums: rebuild it."""


def _checksum(array: np.ndarray) -> int:
    return zlib.crc32(memoryview(np.ascontiguousarray(array)).cast("B"))


def _row_checksums(array: np.ndarray) -> list[int]:
    return [_checksum(row) for row in array]


def _finite(array: np.ndarray) -> bool:
    return array.dtype.kind != "f" or bool(np.isfinite(array).all())


class ArrayCache:
    """Arrays per video under ``root/<kind>/<namespace>/``, the namespace hashing ``settings``."""

    def __init__(self, root: str | Path, kind: str, settings: dict[str, Any]) -> None:
        if kind not in KINDS:
            raise CacheError(f"unknown cache kind {kind!r}; known: {', '.join(KINDS)}")
        self.root = Path(root).expanduser()
        self.settings = settings
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self.dir = self.root / kind / digest

    def _prepare(self) -> None:
        """Create (again, if it was cleared meanwhile) the tagged folder of this namespace."""
        if (self.dir / "settings.json").is_file() and (self.root / TAG_NAME).is_file():
            return
        if self.root.exists() and not self.root.is_dir():
            raise CacheError(f"{self.root}: not a folder; choose another --cache-dir")
        self.dir.mkdir(parents=True, exist_ok=True)
        if not (self.root / TAG_NAME).exists():
            _atomic_write(self.root / TAG_NAME, _TAG.encode())
        _atomic_write(
            self.dir / "settings.json", json.dumps(self.settings, indent=2, sort_keys=True).encode()
        )

    def _key(self, video: Path) -> Path:
        video = Path(video).resolve()
        try:
            stat = video.stat()
        except FileNotFoundError:  # gone since it was indexed: unreadable, like any lost file
            raise VideoReadError(video, "file not found") from None
        key = f"{video}|{stat.st_size}|{stat.st_mtime_ns}"
        return self.dir / hashlib.sha1(key.encode()).hexdigest()

    def contains(self, video: Path) -> bool:
        try:
            return self._key(video).with_suffix(".npy").exists()
        except VideoReadError:
            return False  # a missing video has no entry; reading it reports the problem

    def load(self, video: Path, mmap: bool = False) -> CachedVideo | None:
        """The entry of ``video``, or None when it is absent or damaged (to be rebuilt).

        ``mmap``: map the array and leave the checks to ``CachedVideo.rows`` (large clip
        entries of which a clip reads a few rows); otherwise every row is checked now.
        """
        key = self._key(video)
        array_path, meta_path = key.with_suffix(".npy"), key.with_suffix(".json")
        try:
            meta = json.loads(meta_path.read_text())
            checks = tuple(int(c) for c in meta["row_crc32"])
            array = np.load(array_path, mmap_mode="r" if mmap else None, allow_pickle=False)
            if array.ndim < 2 or not len(array) == meta["stored"] == len(checks) > 0:
                raise ValueError(f"holds {array.shape}, expected {meta['stored']} frames")
            entry = CachedVideo(array, int(meta["num_frames"]), float(meta["fps"]), checks)
            if mmap:
                return entry
            entry.rows(np.arange(len(array)))
            return CachedVideo(array, entry.num_frames, entry.fps)
        except FileNotFoundError:
            return None
        except (ValueError, OSError, EOFError, KeyError, TypeError) as err:
            log.warning("%s: damaged cache entry %s (%s); rebuilding it", video, array_path, err)
            return None

    def save(self, video: Path, entry: CachedVideo) -> None:
        if not _finite(entry.array):
            raise CacheError(
                f"{video}: refusing to cache NaN/Inf values (the encoder's output is not finite; "
                "check --weights)"
            )
        key = self._key(video)
        array = np.ascontiguousarray(entry.array)
        meta = {
            "stored": len(array),
            "num_frames": entry.num_frames,
            "fps": entry.fps,
            "row_crc32": _row_checksums(array),
            "video": str(Path(video).resolve()),
        }
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            try:
                self._prepare()
                _atomic_write(key.with_suffix(".json"), json.dumps(meta).encode())
                _atomic_write(key.with_suffix(".npy"), array)  # last: it marks a whole entry
                return
            except FileNotFoundError:  # a `cache clear` removed the folder or a temporary file
                if attempt == SAVE_ATTEMPTS:
                    raise
            except OSError as err:
                raise CacheError(f"{self.dir}: cannot write a cache entry ({err})") from None


def _atomic_write(path: Path, data: bytes | np.ndarray) -> None:
    """Write beside ``path`` and rename, so a reader never sees half a file."""
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            if isinstance(data, np.ndarray):
                np.save(stream, data, allow_pickle=False)
            else:
                stream.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _namespaces(root: Path, kind: str) -> list[Path]:
    folder = root / kind
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_dir() and _NAMESPACE.match(p.name))


def _is_vidact_cache(root: Path) -> bool:
    tag = root / TAG_NAME
    return tag.is_file() and "vidact" in tag.read_text(errors="replace")


def cache_summary(root: str | Path) -> dict[str, Any]:
    """Entries and bytes per kind and namespace under a cache folder."""
    root = Path(root).expanduser()
    summary: dict[str, Any] = {"root": str(root), "kinds": {}}
    total = 0
    for kind in KINDS:
        spaces = []
        for space in _namespaces(root, kind):
            files = [p for p in space.iterdir() if p.is_file()]
            size = sum(p.stat().st_size for p in files)
            total += size
            settings_file = space / "settings.json"
            settings = json.loads(settings_file.read_text()) if settings_file.exists() else {}
            spaces.append(
                {
                    "namespace": space.name,
                    "entries": sum(p.suffix == ".npy" for p in files),
                    "bytes": size,
                    "settings": settings,
                }
            )
        summary["kinds"][kind] = spaces
    summary["bytes"] = total
    return summary


def clear_cache(root: str | Path, kind: str | None = None) -> tuple[int, list[Path]]:
    """Delete the entries vidact wrote of one kind (or every kind) under ``root``.

    Returns the bytes freed and the files left alone (anything vidact did not write). A folder
    without vidact's ``CACHEDIR.TAG`` is refused: clearing must never delete someone's data.
    """
    root = Path(root).expanduser()
    if kind is not None and kind not in KINDS:
        raise CacheError(f"unknown cache kind {kind!r}; known: {', '.join(KINDS)}")
    if not root.exists():
        return 0, []
    if not _is_vidact_cache(root):
        raise CacheError(
            f"{root}: not a vidact cache (no {TAG_NAME} written by vidact); nothing deleted"
        )
    freed, kept = 0, []
    for name in [kind] if kind else list(KINDS):
        folder = root / name
        spaces = _namespaces(root, name)
        if folder.is_dir():
            kept += [p for p in sorted(folder.iterdir()) if p not in spaces]
        for space in spaces:
            for path in sorted(space.iterdir()):
                if path.is_file() and _ENTRY_FILE.match(path.name):
                    with contextlib.suppress(FileNotFoundError):  # a writer renamed it just now
                        freed += path.stat().st_size
                        path.unlink()
                elif path.exists():  # a temporary file may be renamed away meanwhile
                    kept.append(path)
            _remove_if_empty(space)
        _remove_if_empty(folder)
    return freed, kept


def _remove_if_empty(folder: Path) -> None:
    """Remove ``folder`` unless something is in it (a run may be writing there right now)."""
    with contextlib.suppress(OSError):
        folder.rmdir()
