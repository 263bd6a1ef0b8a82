"""On-disk cache of per-video arrays (frozen-backbone frame features), safe to share between runs.

An entry is keyed by the file's identity (resolved path, size, mtime) and the settings that
produced it, so editing a video or changing the backbone never serves stale data. Entries are
written to a temporary file and renamed, so an interrupted run leaves no half-written entry; an
entry that fails to load is deleted and reported as missing, to be rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)


class FeatureCache:
    """Arrays per video under ``root/<namespace>/``, the namespace hashing ``settings``."""

    def __init__(self, root: str | Path, settings: dict[str, Any]) -> None:
        self.settings = settings
        digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]
        self.dir = Path(root).expanduser() / "features" / digest
        self.dir.mkdir(parents=True, exist_ok=True)
        meta = self.dir / "settings.json"
        if not meta.exists():
            meta.write_text(json.dumps(settings, indent=2, sort_keys=True))

    def _entry(self, video: Path) -> Path:
        video = Path(video).resolve()
        stat = video.stat()
        key = f"{video}|{stat.st_size}|{stat.st_mtime_ns}"
        return self.dir / f"{hashlib.sha1(key.encode()).hexdigest()}.npy"

    def load(self, video: Path) -> np.ndarray | None:
        entry = self._entry(video)
        if not entry.exists():
            return None
        try:
            return np.load(entry, allow_pickle=False)
        except (ValueError, OSError, EOFError) as err:
            log.warning("%s: damaged cache entry %s (%s); it will be rebuilt", video, entry, err)
            entry.unlink(missing_ok=True)
            return None

    def contains(self, video: Path) -> bool:
        return self._entry(video).exists()

    def save(self, video: Path, array: np.ndarray) -> None:
        entry = self._entry(video)
        handle, tmp = tempfile.mkstemp(dir=self.dir, suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as stream:
                np.save(stream, array, allow_pickle=False)
            os.replace(tmp, entry)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
