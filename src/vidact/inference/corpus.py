"""Tagging a corpus: every video of folders, globs and files once, a row per video as soon as it
is known, resumable and splittable across machines; what `vidact predict --csv/--jsonl/--segments`
runs, and Python callers alike.

``Corpus.find`` turns the inputs into one sorted list (``find_videos``), keeps shard i of n (by
a hash of the path below the input folder, so machines that list the corpus in different
orders, or mount it at different places, still split it the same way) and checks every output
before any model loads; ``Corpus.tag`` predicts what the row files do not hold yet and writes
each row (``RowLog``: flushed, so an interrupted batch keeps every finished row).
"""

from __future__ import annotations

import contextlib
import csv
import glob
import json
import logging
import os
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidact.data.datasets import default_workers
from vidact.data.index import video_files
from vidact.errors import ConfigError
from vidact.inference.annotate import OUTPUTS
from vidact.inference.predictor import VideoPredictor
from vidact.inference.timeline import TimelineSettings
from vidact.io.outputs import check_output, replacing

log = logging.getLogger(__name__)

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
            found += video_files(path)
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


@dataclass(frozen=True)
class Corpus:
    """The videos to tag and where their rows go, checked (``find``); ``tag`` runs a model
    over them."""

    videos: tuple[Path, ...]
    rows: tuple[Path, ...] = ()  # .csv or .jsonl: a row per video
    segments: Path | None = None  # .csv: a row per timeline segment
    annotate: Path | None = None  # one video: its annotated video (.mp4) or timeline (.png)
    resume: bool = False
    overwrite: bool = False

    @classmethod
    def find(
        cls,
        inputs: Sequence[str | Path],
        rows: Sequence[str | Path] = (),
        segments: str | Path | None = None,
        annotate: str | Path | None = None,
        resume: bool = False,
        overwrite: bool = False,
        shard: str | tuple[int, int] | None = None,
        protect: Sequence[str | Path] = (),
    ) -> Corpus:
        """The videos of ``inputs`` (files, folders searched recursively, glob patterns), only
        shard ``"i/n"`` of them when given. Every output is checked here, before a model loads:
        never one of the inputs or ``protect`` (the checkpoint), never replaced without
        ``overwrite``; ``resume`` appends to row files vidact wrote."""
        row_files = tuple(Path(path) for path in rows)
        segment_file = Path(segments) if segments is not None else None
        logs = [*row_files, *([segment_file] if segment_file else [])]
        if resume and not logs:
            raise ConfigError("--resume continues a --csv, --jsonl or --segments file; give one")
        if resume and overwrite:
            raise ConfigError(
                "--resume appends to the files and --overwrite replaces them: pick one"
            )
        videos = find_videos(inputs)
        if shard is not None:
            videos = shard_of(
                videos, inputs, parse_shard(shard) if isinstance(shard, str) else shard
            )
        reads = [Path(path) for path in protect] + videos
        output = Path(annotate) if annotate is not None else None
        if output is not None:  # never an input, never by surprise
            check_output(output, reads, overwrite, suffixes=OUTPUTS)
            if len(videos) != 1:
                raise ConfigError(f"--output {output}: give one video, not {len(videos)}")
        for path in row_files:
            option = {".csv": "--csv", ".jsonl": "--jsonl"}.get(
                path.suffix.lower(), "--csv/--jsonl"
            )
            check_output(path, reads, overwrite or resume, option, BATCH_OUTPUTS)
        if segment_file is not None:
            check_output(segment_file, reads, overwrite or resume, "--segments", (".csv",))
        return cls(tuple(videos), row_files, segment_file, output, resume, overwrite)

    def tag(
        self,
        predictor: VideoPredictor,
        topk: int = 5,
        timeline: TimelineSettings | None = None,
        workers: int | None = None,
        batch_size: int = 8,
    ) -> Iterator[dict[str, Any]]:
        """Predict every video the row files do not hold yet, in order, writing its rows as it
        comes and yielding its result (``{"video", "error"}`` for an unreadable one; the others
        go on). ``workers``: decoding processes (None: up to 4 for several videos)."""
        with ExitStack() as stack:
            logs = [
                stack.enter_context(RowLog(path, self.resume, self.overwrite)) for path in self.rows
            ]
            if self.segments is not None:
                logs.append(
                    stack.enter_context(
                        RowLog(self.segments, self.resume, self.overwrite, segments=True)
                    )
                )
            done = set.intersection(*(set(row.done) for row in logs)) if logs else set()
            todo = [video for video in self.videos if str(video) not in done]
            if done:
                log.info("resuming: %d video(s) already done", len(self.videos) - len(todo))
            if workers is None:
                workers = 0 if len(todo) < 2 else min(default_workers(), 4)
            if self.annotate is not None:  # its answer and annotated video from one scan
                results = iter(
                    [
                        predictor.predict(
                            self.videos[0], topk, timeline, self.annotate, self.overwrite
                        )
                    ]
                )
            else:
                results = predictor.predict_many(todo, topk, timeline, workers, batch_size)
            for result in results:
                for row in logs:
                    if result["video"] not in row.done:
                        row.write(result)
                yield result


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
                    "label": result.get("label", top[0]["label"]),  # the answer: maybe unknown
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
