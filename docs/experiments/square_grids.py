"""Finer places in the person's square for `configs/people_rgb.yaml` on rendered arm gestures:
Lite0's map of frame differences pooled by halves (the recipe), quadrants, 3 x 3 cells, thirds
of the height by halves, or whole, screened by a logistic regression (docs/measurements.md,
"Finer places in the person's square").

A wave and a raise of the right arm move in the same half of the square; a raise passes the
lower part of it twice, a wave holds the hand up. Each clip is read as the recipe reads one
person in view (48 frame pairs, the person's square at 224, the amplified difference through
Lite0), each clip its features' mean over each half of the clip, spread and mean change (the
`linear` head with `segments: 2`), scored leaving one person out within each 3-person half of a
6-person set (p0-p2, p3-p5). Needs scikit-learn and the pose extra.

    python docs/experiments/pose_gestures.py gestures-10 --seed 10 --fps 30 --seconds 6
    python docs/experiments/square_grids.py gestures-10 OUT
"""

from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from motion_regions import encoded_once  # this folder's scripts (run as a script)
from person_square import scored

from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.models.backbones import MotionEncoder
from vidact.progress import progress
from vidact.sampling import ClipSampling

CELLS = 6  # the 7 x 7 map pooled to 6 x 6 first, so that every grid below divides it
GRIDS = {"halves": (1, 2), "quadrants": (2, 2), "3 x 3": (3, 3), "thirds by halves": (3, 2)}
GRIDS["whole"] = (1, 1)
STRENGTHS = (1e-3, 1e-2)  # C of the logistic regression
HALVES = [[["p0"], ["p1"], ["p2"]], [["p3"], ["p4"], ["p5"]]]


def encode(root: Path, rows: list[dict[str, str]]) -> np.ndarray:
    """(N, 48, 1280, 6, 6) float16: each clip's map of frame differences in the square."""
    encoder = MotionEncoder().eval()
    spec = encoder.input_spec(224).fitted("person")
    transform = eval_transform(spec)
    sampling = ClipSampling(frames=48, strategy="segment", span=2)
    maps = []
    with torch.inference_mode():
        for row in progress(rows, "encoding", unit="clips"):
            with VideoReader(root / row["path"]) as reader:
                count = reader.num_frames
                positions = sampling.as_read(sampling.indices(count, reader.fps), count)
                frames = reader.read(positions, short_side=spec.short_side)
            found = encoder.encoder.model.forward_features(encoder.changes(transform(frames)))
            maps.append(F.adaptive_avg_pool2d(found, CELLS).numpy().astype(np.float16))
    return np.stack(maps)


def pooled(maps: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """(N, T, F, 6, 6) -> (N, T, F * rows * columns): the map averaged over a grid."""
    n, t, f = maps.shape[:3]
    grid = maps.reshape(n, t, f, rows, CELLS // rows, columns, CELLS // columns).mean((4, 6))
    return grid.reshape(n, t, -1)


def summary(clips: np.ndarray) -> np.ndarray:
    """(N, T, F) -> (N, 4F): the mean of each half of the clip, the spread, the mean change."""
    halves = [part.mean(1) for part in np.array_split(clips, 2, axis=1)]
    change = np.abs(np.diff(clips, axis=1)).mean(1)
    return np.concatenate([*halves, clips.std(1), change], axis=1)


def main(root: Path, out: Path) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the encoding's progress
    rows = list(csv.DictReader((root / "groups.csv").open()))
    out.mkdir(parents=True, exist_ok=True)
    maps = encoded_once(out / "maps.npy", lambda: encode(root, rows))
    labels = np.array([row["path"].split("/")[0] for row in rows])
    groups = np.array([row["group"] for row in rows])
    for name, grid in GRIDS.items():
        features = summary(pooled(maps, *grid))
        figures = [
            " ".join(f"{scored(features, labels, groups, folds, c):.3f}" for folds in HALVES)
            for c in STRENGTHS
        ]
        print(f"{name}: {' / '.join(figures)} (C {' / '.join(map(str, STRENGTHS))})", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
