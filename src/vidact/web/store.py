"""The server's private files: uploads and annotated videos, named by random ids, never by what a
client sent, in a folder only this user can read; annotated videos expire after a time-to-live
and everything is removed at shutdown."""

from __future__ import annotations

import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path

_ID = re.compile(r"[0-9a-f]{32}")


class TempStore:
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self.root = Path(tempfile.mkdtemp(prefix="vidact-serve-"))  # mode 0700
        self.uploads = self.root / "uploads"
        self.media_dir = self.root / "media"
        self.uploads.mkdir(mode=0o700)  # no one else lists or reads what clients sent
        self.media_dir.mkdir(mode=0o700)

    def new_upload(self) -> Path:
        return self.uploads / secrets.token_hex(16)

    def new_media(self) -> tuple[str, Path]:
        media_id = secrets.token_hex(16)
        return media_id, self.media_dir / f"{media_id}.mp4"

    def media(self, media_id: str) -> Path | None:
        """The annotated video of an id, or None for an unknown, expired or malformed id."""
        if not _ID.fullmatch(media_id):
            return None
        path = self.media_dir / f"{media_id}.mp4"
        return path if path.is_file() else None

    def expire(self) -> int:
        """Delete annotated videos older than the time-to-live; return how many."""
        cutoff = time.time() - self.ttl_s
        removed = 0
        for path in self.media_dir.glob("*.mp4"):
            if not _ID.fullmatch(path.stem):  # a video still being written (hidden, partial)
                continue
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:  # removed meanwhile
                pass
        return removed

    def files(self) -> list[Path]:
        return sorted(p for p in self.root.rglob("*") if p.is_file())

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
