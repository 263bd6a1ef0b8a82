"""On-disk caches of per-video arrays, safe to share between runs and processes.

Two kinds live under one cache folder: ``clips`` (decoded, resized uint8 frames, so later epochs
decode nothing) and ``features`` (a frozen backbone's frame features, so comparing heads costs
seconds). An entry is keyed by the file's identity (resolved path, size, mtime) inside a namespace
that hashes the settings that produced it, so editing a video or changing the decode size never
serves stale data. Entries are written to a temporary file and renamed, so an interrupted run leaves
no half-written entry; an entry that fails to load is deleted and reported missing, to be rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

KINDS = ("clips", "features")


@dataclass(frozen=True)
class CachedVideo:
    """A cache entry: ``frames`` (N, ...) taken evenly from the video, and the video's facts."""

    array: np.ndarray
    num_frames: int  # of the video itself
    fps: float  # of the video itself

    @property
    def fps_of_entry(self) -> float:
        """The frame rate of the stored frames (lower when the video was subsampled)."""
        return self.fps * len(self.array) / self.num_frames


class ArrayCache:
    """Arrays per video under ``root/<kind>/<namespace>/``, the namespace hashing ``settings``."""

    def __init__(self, root: str | Path, kind: str, settings: dict[str, Any]) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown cache kind {kind!r}; known: {', '.join(KINDS)}")
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self.dir = Path(root).expanduser() / kind / digest
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "settings.json"
        if not meta.exists():
            _atomic_write(meta, json.dumps(settings, indent=2, sort_keys=True).encode())

    def _key(self, video: Path) -> Path:
        video = Path(video).resolve()
        stat = video.stat()
        key = f"{video}|{stat.st_size}|{stat.st_mtime_ns}"
        return self.dir / hashlib.sha1(key.encode()).hexdigest()

    def contains(self, video: Path) -> bool:
        return self._key(video).with_suffix(".npy").exists()

    def load(self, video: Path, mmap: bool = False) -> CachedVideo | None:
        """The entry of ``video``, or None when absent or damaged (a damaged one is removed)."""
        key = self._key(video)
        array_path, meta_path = key.with_suffix(".npy"), key.with_suffix(".json")
        if not array_path.exists():
            return None
        try:
            meta = json.loads(meta_path.read_text())
            array = np.load(array_path, mmap_mode="r" if mmap else None, allow_pickle=False)
            if array.ndim < 2 or len(array) == 0 or len(array) != meta["stored"]:
                raise ValueError(f"holds {array.shape}, expected {meta['stored']} frames")
            return CachedVideo(array, int(meta["num_frames"]), float(meta["fps"]))
        except (ValueError, OSError, EOFError, KeyError) as err:
            log.warning("%s: damaged cache entry %s (%s); rebuilding it", video, array_path, err)
            array_path.unlink(missing_ok=True)
            meta_path.unlink(missing_ok=True)
            return None

    def save(self, video: Path, entry: CachedVideo) -> None:
        key = self._key(video)
        meta = {
            "stored": len(entry.array),
            "num_frames": entry.num_frames,
            "fps": entry.fps,
            "video": str(Path(video).resolve()),
        }
        _atomic_write(key.with_suffix(".json"), json.dumps(meta).encode())
        handle, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.save(stream, np.ascontiguousarray(entry.array), allow_pickle=False)
            os.replace(tmp, key.with_suffix(".npy"))  # the array last: it marks a whole entry
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _atomic_write(path: Path, data: bytes) -> None:
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as stream:
        stream.write(data)
    os.replace(tmp, path)


def cache_summary(root: str | Path) -> dict[str, Any]:
    """Entries and bytes per kind and namespace under a cache folder."""
    root = Path(root).expanduser()
    summary: dict[str, Any] = {"root": str(root), "kinds": {}}
    total = 0
    for kind in KINDS:
        spaces = []
        for space in sorted((root / kind).glob("*")) if (root / kind).is_dir() else []:
            entries = list(space.glob("*.npy"))
            size = sum(p.stat().st_size for p in space.iterdir() if p.is_file())
            total += size
            settings_file = space / "settings.json"
            settings = json.loads(settings_file.read_text()) if settings_file.exists() else {}
            spaces.append(
                {
                    "namespace": space.name,
                    "entries": len(entries),
                    "bytes": size,
                    "settings": settings,
                }
            )
        summary["kinds"][kind] = spaces
    summary["bytes"] = total
    return summary


def clear_cache(root: str | Path, kind: str | None = None) -> int:
    """Delete one kind (or every kind) of cache under ``root``; returns the bytes freed."""
    root = Path(root).expanduser()
    freed = 0
    for name in [kind] if kind else list(KINDS):
        if name not in KINDS:
            raise ValueError(f"unknown cache kind {name!r}; known: {', '.join(KINDS)}")
        folder = root / name
        if folder.is_dir():
            freed += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
            shutil.rmtree(folder)
    return freed
