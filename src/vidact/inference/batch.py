"""Batch tagging: every video of a corpus once, decoded by worker processes while the model runs.

``find_videos`` turns folders, globs and files into one sorted list; ``shard_of`` keeps the
videos of shard i of n (by a hash of the path below the input folder, so machines that list
the corpus in different orders, or mount it at different places, still split it the same
way); ``load_batches`` yields batches of decoded views; ``RowLog`` writes one CSV or JSON-lines
row per video as soon as it is known (flushed, so an interrupted batch keeps every finished
row) and, when resumed, names the videos already done.
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from vidact.data.index import DEFAULT_EXTENSIONS, is_hidden
from vidact.errors import ConfigError
from vidact.inference.timeline import TimelineSettings
from vidact.inference.views import ViewLoader, is_long
from vidact.io.outputs import replacing
from vidact.io.reader import VideoReader, VideoReadError
from vidact.progress import progress

CSV_COLUMNS = ("video", "label", "probability", "top_k", "timeline", "error")
SEGMENT_COLUMNS = ("video", "start_s", "end_s", "label", "mean_p", "peak_p")
BATCH_OUTPUTS = (".csv", ".jsonl")


def find_videos(inputs: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders searched recursively for video files; glob patterns expanded.

    A name that is none of these is an error naming it, before any work starts."""
    found: list[Path] = []
    for given in inputs:
        path = Path(given)
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in DEFAULT_EXTENSIONS
                and not any(is_hidden(part) for part in p.relative_to(path).parts)
            )
        elif path.exists():
            found.append(path)
        elif glob.has_magic(str(given)):
            matches = sorted(Path(m) for m in glob.glob(str(given), recursive=True))
            if not matches:
                raise ConfigError(f"{given}: no file matches this pattern")
            found += [m for m in matches if m.is_file()]
        else:
            raise ConfigError(f"{given}: no such file or folder")
    unique = list(dict.fromkeys(found))
    if not unique:
        raise ConfigError(f"no video files in {', '.join(map(str, inputs))}")
    return unique


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` (1 <= i <= n) -> (i, n)."""
    try:
        part, count = (int(x) for x in text.split("/"))
    except ValueError:
        raise ConfigError(f"--shard {text!r}: write it as i/n, for example 2/4") from None
    if not 1 <= part <= count:
        raise ConfigError(f"--shard {text!r}: i must be between 1 and n")
    return part, count


def shard_of(
    videos: Sequence[Path], inputs: Iterable[str | Path], shard: tuple[int, int]
) -> list[Path]:
    """The videos of shard ``(i, n)``.

    Each is hashed by its path below the first input folder that holds it (the path as given
    otherwise), so machines that mount the corpus at different places still agree."""
    part, count = shard
    folders = [Path(given) for given in inputs if Path(given).is_dir()]

    def key(video: Path) -> str:
        holder = next((f for f in folders if video.is_relative_to(f)), None)
        return (video.relative_to(holder) if holder else video).as_posix()

    return [v for v in videos if zlib.crc32(key(v).encode()) % count == part - 1]


@dataclass
class LoadedVideo:
    video: str
    views: torch.Tensor | None  # (V, T, 3, S, S); None when unreadable
    error: str | None = None
    duration: float = 0.0
    long: bool = False  # gets a timeline of its own


class _VideoViews(Dataset):
    def __init__(
        self,
        videos: Sequence[str | Path],
        load_views: ViewLoader,
        settings: TimelineSettings,
    ) -> None:
        self.videos = list(videos)
        self.load_views = load_views
        self.settings = settings

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> LoadedVideo:
        video = self.videos[index]
        try:
            with VideoReader(video, self.load_views.allow_images) as reader:
                views = self.load_views(reader)
                return LoadedVideo(
                    str(video), views, None, reader.num_frames / reader.fps,
                    is_long(reader, self.settings),
                )  # fmt: skip
        except VideoReadError as err:
            return LoadedVideo(str(video), None, str(err))


def load_batches(
    videos: Sequence[str | Path],
    load_views: ViewLoader,
    settings: TimelineSettings,
    workers: int,
    batch_size: int,
) -> Iterator[list[LoadedVideo]]:
    """Batches of decoded videos in order, with a progress bar (or log lines) over the videos."""
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")
    if workers < 0:
        raise ConfigError(f"--workers must be 0 or more, got {workers}")
    loader = DataLoader(
        _VideoViews(videos, load_views, settings),
        batch_size=batch_size,
        num_workers=workers,
        collate_fn=list,
    )
    if len(loader) == 1:  # one call: nothing to follow
        yield from loader
        return
    yield from progress(loader, "predicting", total=len(loader), unit="batches")


class RowLog:
    """Prediction rows written to ``path`` (``.csv`` or ``.jsonl``), one per video, flushed;
    with ``segments``, a CSV of one row per timeline segment (``SEGMENT_COLUMNS``).

    A new file is written in place (an interrupted batch keeps its rows for ``resume``);
    ``resume`` appends to a file vidact wrote, recognised by its CSV header or by every line
    being a prediction object, and refuses any other file without touching it; ``overwrite``
    writes a temporary file that replaces the old one only when the batch ends well.
    """

    def __init__(
        self, path: Path, resume: bool = False, overwrite: bool = False, segments: bool = False
    ) -> None:
        if path.suffix.lower() not in ((".csv",) if segments else BATCH_OUTPUTS):
            raise ConfigError(f"{path}: batch output must end in .csv or .jsonl")
        self.path = path
        self.is_csv = path.suffix.lower() == ".csv"
        self.segments = segments
        self.columns = SEGMENT_COLUMNS if segments else CSV_COLUMNS
        self.done: dict[str, bool] = {}  # video -> whether its row is an error
        exists = path.exists()
        if exists and not (resume or overwrite):
            raise ConfigError(
                f"{path} exists: --resume adds the videos not in it yet, --overwrite replaces it"
            )
        self.replacing = contextlib.ExitStack()
        target = path
        if exists and resume:
            self.done = self._read_done()
        elif exists:
            target = self.replacing.enter_context(replacing(path))
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh = not target.exists() or target.stat().st_size == 0
        self.file = target.open("a", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.file, self.columns) if self.is_csv else None
        if self.writer is not None and fresh:
            self.writer.writeheader()
            self.file.flush()

    def _read_done(self) -> dict[str, bool]:
        """Videos with a complete row. The whole file is checked first; only then is a last
        line cut off by an interruption removed."""
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        try:
            lines = complete.decode("utf-8").splitlines()
            done = self._rows(lines) if lines else {}
        except (UnicodeDecodeError, ValueError, KeyError, TypeError, csv.Error) as err:
            raise ConfigError(
                f"{self.path}: not a prediction file vidact wrote ({type(err).__name__}); "
                "--resume appends only to those (the file is left as it was)"
            ) from None
        if len(complete) != len(data):
            os.truncate(self.path, len(complete))
        return done

    def _rows(self, lines: list[str]) -> dict[str, bool]:
        if self.is_csv:
            if next(csv.reader(lines[:1])) != list(self.columns):
                raise ValueError("header")
            rows = list(csv.reader(lines[1:]))
            if any(len(row) != len(self.columns) for row in rows):
                raise ValueError("row")
            return {row[0]: not self.segments and bool(row[-1]) for row in rows}
        records = [json.loads(line) for line in lines]
        if not all(
            isinstance(r, dict) and isinstance(r["video"], str) and ("top_k" in r or "error" in r)
            for r in records
        ):
            raise ValueError("record")
        return {r["video"]: "error" in r for r in records}

    def write(self, result: dict[str, Any]) -> None:
        if self.segments:  # an unreadable video has no segments; stderr and --csv tell why
            assert self.writer is not None
            for part in result.get("timeline", ()):
                row = {"video": result["video"], **part}
                self.writer.writerow({column: row[column] for column in self.columns})
        elif self.writer is None:
            self.file.write(json.dumps(result, allow_nan=False) + "\n")
        else:
            top = result.get("top_k") or [{"label": "", "probability": ""}]
            self.writer.writerow(
                {
                    "video": result["video"],
                    "label": top[0]["label"],
                    "probability": top[0]["probability"],
                    "top_k": json.dumps(result["top_k"]) if "top_k" in result else "",
                    "timeline": json.dumps(result["timeline"]) if "timeline" in result else "",
                    "error": result.get("error", ""),
                }
            )
        self.file.flush()

    def __enter__(self) -> RowLog:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.file.close()
        self.replacing.__exit__(*exc)  # an --overwrite file replaces the old one on success
