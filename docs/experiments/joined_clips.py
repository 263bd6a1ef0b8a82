"""The joined-clips case: 4 test clips of one class then 4 of another in one video, predicted
with the default timeline and with --raw; does the timeline say "A, then B" at the cut?

    vidact synth data/synthetic --seed 102
    python docs/experiments/joined_clips.py RUN/checkpoints/best.ckpt data/synthetic OUT \
        [SPLIT [DRAWS [PREDICT OPTIONS]]]

Clips come from the test split of SPLIT (default: DATA/split.csv), DRAWS (default 2) sets of
them per class pair (4 pairs: 4 x DRAWS videos). Prints one line per video and how many meet
each point: at most 4 segments, begins with the first class, ends with the second, a segment
of the second class starting within 1 s of the cut. PREDICT OPTIONS (``--cuts off``) go to every
`vidact predict`.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from vidact.io.reader import VideoReader
from vidact.io.writer import write_video

PAIRS = (
    ("growing", "shrinking"),
    ("brightening", "warming"),
    ("appearing", "vanishing"),
    ("cooling", "darkening"),
)


def timeline(checkpoint: str, video: Path, *extra: str) -> list[dict]:
    command = ["vidact", "predict", checkpoint, str(video), "--json", "--window", "24"]
    output = subprocess.run(
        [*command, "--stride", "6", *extra], capture_output=True, text=True, check=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])["timeline"]


def main(
    checkpoint: str,
    root: Path,
    out: Path,
    split: Path | None = None,
    draws: int = 2,
    options: list[str] | None = None,
) -> None:
    rows = list(csv.DictReader((split or root / "split.csv").open()))
    met = np.zeros(4, int)
    for draw in range(1, draws + 1):
        rng = np.random.default_rng(draw)
        for first, second in PAIRS:
            clips = []
            for name in (first, second):
                tests = [
                    r["path"]
                    for r in rows
                    if r["split"] == "test" and r["path"].startswith(f"{name}/")
                ]
                clips += list(rng.choice(tests, 4, replace=False))
            frames = []
            for clip in clips:
                with VideoReader(root / clip) as reader:
                    frames += [frame for _, frame in reader.frames(np.arange(reader.num_frames))]
                    fps = reader.fps
            video = write_video(out / f"joined_{first}_{second}_{draw}.mp4", np.stack(frames), fps)
            cut = len(frames) / fps / 2
            parts = timeline(checkpoint, video, *(options or []))
            raw = timeline(checkpoint, video, "--raw", *(options or []))
            met += (points := four_points(parts, first, second, cut))
            print(f"{video.name}: raw {len(raw)} segments; default {shown(parts)} {points}")
    print(f"of {draws * len(PAIRS)}: {described(met)}")


def four_points(parts: list[dict], first: str, second: str, cut: float) -> tuple[bool, ...]:
    """At most 4 segments, begins with the first class, ends with the second, and a segment
    of the second class starts within 1 s of the cut."""
    return (
        len(parts) <= 4,
        parts[0]["label"] == first,
        parts[-1]["label"] == second,
        any(p["label"] == second and abs(p["start_s"] - cut) <= 1 for p in parts[1:]),
    )


def shown(parts: list[dict]) -> list[tuple]:
    return [(p["label"], p["start_s"], p["end_s"]) for p in parts]


def described(met: np.ndarray) -> str:
    return (
        f"<=4 segments {met[0]}, first class first {met[1]}, second class last {met[2]}, "
        f"change within 1 s of the cut {met[3]}"
    )


if __name__ == "__main__":
    split = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    draws = int(sys.argv[5]) if len(sys.argv) > 5 else 2
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), split, draws, sys.argv[6:])
