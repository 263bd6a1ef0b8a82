"""What a dataset's videos are like: durations, frame rates and sizes per class, and a grid of
sample frames per class (seed 003's figure), for ``vidact dataset info`` and the HTML report."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from torch.utils.data import DataLoader, Dataset

from vidact.data.index import VideoIndex, VideoItem
from vidact.io.outputs import replacing
from vidact.io.reader import VideoReader, VideoReadError, probe
from vidact.progress import progress


class _Probe(Dataset):
    def __init__(self, items: Sequence[VideoItem]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[int, dict[str, Any] | None]:
        item = self.items[index]
        try:
            facts = probe(item.path)
        except VideoReadError:
            return item.label, None
        return item.label, {
            "duration": facts["duration"],
            "fps": round(facts["fps"], 3),
            "size": f"{facts['width']}x{facts['height']}",
        }


def media_summary(index: VideoIndex, workers: int = 0) -> dict[str, Any]:
    """Per class: videos, unreadable ones, duration (min / mean / max seconds), frame rates and
    frame sizes with their counts; the same over the whole dataset."""
    loader = DataLoader(_Probe(index.items), batch_size=None, num_workers=workers)
    found: dict[int, list[dict[str, Any]]] = defaultdict(list)
    bad: Counter[int] = Counter()
    for label, facts in progress(loader, "probing", total=len(index.items)):
        if facts is None:
            bad[label] += 1
        else:
            found[label].append(facts)

    def describe(rows: list[dict[str, Any]], unreadable: int) -> dict[str, Any]:
        durations = [row["duration"] for row in rows]
        return {
            "videos": len(rows) + unreadable,
            "unreadable": unreadable,
            "duration_s": {
                "min": round(min(durations), 2),
                "mean": round(statistics.mean(durations), 2),
                "max": round(max(durations), 2),
            }
            if durations
            else None,
            "fps": dict(Counter(str(row["fps"]) for row in rows).most_common()),
            "sizes": dict(Counter(row["size"] for row in rows).most_common()),
        }

    every = [row for rows in found.values() for row in rows]
    return {
        "all": describe(every, sum(bad.values())),
        "per_class": {
            name: describe(found.get(label, []), bad[label])
            for label, name in enumerate(index.classes)
        },
    }


def frames_grid(
    index: VideoIndex, path: str | Path, per_class: int = 4, thumb: int = 112, seed: int = 0
) -> Path:
    """One row per class (its name on the left), ``per_class`` videos' middle frames."""
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[VideoItem]] = defaultdict(list)
    for item in index.items:
        by_class[item.label].append(item)
    font = ImageFont.load_default(size=max(12, thumb // 8))
    label_width = thumb * 2
    grid = Image.new("RGB", (label_width + per_class * thumb, len(index.classes) * thumb), "white")
    draw = ImageDraw.Draw(grid)
    for row, name in enumerate(progress(index.classes, "frames grid", unit="classes")):
        draw.text((8, row * thumb + thumb // 2), name, fill="black", font=font, anchor="lm")
        videos = by_class.get(row, [])
        chosen = rng.choice(len(videos), size=min(per_class, len(videos)), replace=False)
        for column, choice in enumerate(sorted(chosen)):
            image = _middle_frame(videos[int(choice)].path, thumb)
            if image is not None:
                grid.paste(image, (label_width + column * thumb, row * thumb))
    with replacing(path) as partial:
        grid.save(partial)
    return Path(path)


def _middle_frame(path: Path, thumb: int) -> Image.Image | None:
    """The video's middle frame, centre-cropped to a square thumbnail."""
    try:
        with VideoReader(path) as reader:
            frame = reader.read([reader.num_frames // 2], short_side=thumb)[0]
    except VideoReadError:
        return None
    height, width = frame.shape[:2]
    top, left = (height - thumb) // 2, (width - thumb) // 2
    return Image.fromarray(frame[top : top + thumb, left : left + thumb])
