"""Halves of the picture or of the body for `configs/people_rgb.yaml` on rendered arm gestures: a
logistic-regression screen before the `person` frame fit was built (docs/measurements.md,
"Halves of the body").

Each clip is read as the recipe read it then (48 frame pairs, the whole frame padded to 288, the
amplified difference through Lite0, `vidact`'s own `MotionEncoder`), and three clip features are
compared, each feature's mean, spread and mean change over time: A, Lite0's map pooled over the
left and the right half of the picture (the recipe); B, the same map split at the person's torso
centre (MediaPipe, the median over 8 frames); C, Lite0 on the square of 4 torso lengths around
the person at 224 px, its map's halves. Scored leaving one person out within each 3-person half
of a 6-person set (p0-p2, p3-p5) and with 2 people tested per fold on the whole set. Needs
scikit-learn and the pose extra; about 6 minutes a set on two cores.

    python docs/experiments/pose_gestures.py gestures-0 --seed 0
    python docs/experiments/person_square.py gestures-0 OUT
"""

from __future__ import annotations

import csv
import logging
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vidact.data.bodies import body_centre
from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.models.backbones import MotionEncoder
from vidact.progress import progress
from vidact.sampling import ClipSampling

STRENGTHS = (1e-3, 1e-2, 1e-1)  # C of the logistic regression


def encode(root: Path, rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """``columns`` (N, 48, 1280, 9): the map's columns over time (A, B); ``where`` (N,): the
    torso centre's x as a share of the width; ``squares`` (N, 48, 2560): C's halves."""
    encoder = MotionEncoder().eval()
    lite0 = encoder.encoder.model
    transform = eval_transform(encoder.input_spec(288).fitted("pad"))
    sampling = ClipSampling(frames=48, strategy="segment", span=2)
    columns, where, squares = [], [], []
    with torch.inference_mode():
        for row in progress(rows, "encoding", unit="clips"):
            with VideoReader(root / row["path"]) as reader:
                frames = reader.num_frames
                raw = reader.read(sampling.as_read(sampling.indices(frames, reader.fps), frames))
            height, width = raw.shape[1:3]
            x, y, torso = body_centre(raw[0::12]) or (width / 2, height / 2, height / 4)
            maps = lite0.forward_features(encoder.changes(transform(raw)))  # (48, 1280, 9, 9)
            columns.append(maps.mean(2).numpy().astype(np.float16))
            side = round(4 * torso)
            pixels = F.pad(torch.from_numpy(raw).permute(0, 3, 1, 2).float() / 255, [side] * 4)
            top, left = round(y - side / 2) + side, round(x - side / 2) + side
            square = pixels[:, :, top : top + side, left : left + side]
            square = F.interpolate(square, size=(224, 224), mode="bilinear", antialias=True)
            maps = lite0.forward_features(encoder.changes((square - 0.5) / 0.5))
            squares.append(F.adaptive_avg_pool2d(maps, (1, 2)).flatten(1).numpy())
            where.append(x / width)
    return {
        "columns": np.stack(columns),
        "where": np.array(where, np.float32),
        "squares": np.stack(squares).astype(np.float16),
    }


def summary(clips: np.ndarray) -> np.ndarray:
    """(N, T, F) -> (N, 3F): each feature's mean, spread and mean change over time."""
    change = np.abs(np.diff(clips, axis=1)).mean(1)
    return np.concatenate([clips.mean(1), clips.std(1), change], axis=1)


def variants(columns: np.ndarray, where: np.ndarray, squares: np.ndarray) -> dict[str, np.ndarray]:
    """Each variant's clip features, (N, D)."""
    maps = columns.astype(np.float32)
    width = maps.shape[-1]
    picture = np.concatenate(
        [maps[..., : width // 2 + 1].mean(-1), maps[..., width // 2 :].mean(-1)], -1
    )
    left = np.clip(where[:, None] * width - np.arange(width), 0, 1)  # (N, 9) share left of it
    body = np.concatenate(
        [
            (maps * left[:, None, None]).sum(-1) / left.sum(1)[:, None, None],
            (maps * (1 - left)[:, None, None]).sum(-1) / (1 - left).sum(1)[:, None, None],
        ],
        -1,
    )
    return {
        "A the picture's halves (the recipe then)": summary(picture),
        "B the map split at the torso": summary(body),
        "C the square of 4 torso lengths, its halves": summary(squares.astype(np.float32)),
    }


def scored(
    features: np.ndarray, labels: np.ndarray, groups: np.ndarray, folds: list, c: float
) -> float:
    """Pooled top-1 over the videos of ``folds``' people, each fold's people tested once."""
    people = np.isin(groups, [person for fold in folds for person in fold])
    x, y, g = features[people], labels[people], groups[people]
    predicted = np.empty(len(y), dtype=object)
    for tested in folds:
        test = np.isin(g, tested)
        model = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000))
        predicted[test] = model.fit(x[~test], y[~test]).predict(x[test])
    return float((predicted == y).mean())


def main(root: Path, out: Path) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the encoding's progress
    rows = list(csv.DictReader((root / "groups.csv").open()))
    out.mkdir(parents=True, exist_ok=True)
    stored = out / "features.npz"
    if not stored.is_file():
        np.savez(stored, **encode(root, rows))
    features = dict(np.load(stored))
    labels = np.array([row["path"].split("/")[0] for row in rows])
    groups = np.array([row["group"] for row in rows])
    protocols = {
        "3 people (p0-p2, p3-p5)": [[["p0"], ["p1"], ["p2"]], [["p3"], ["p4"], ["p5"]]],
        "6 people": [[["p0", "p1"], ["p2", "p3"], ["p4", "p5"]]],
    }
    for name, clip_features in variants(**features).items():
        for protocol, halves in protocols.items():
            figures = [
                " ".join(
                    f"{scored(clip_features, labels, groups, folds, c):.3f}" for folds in halves
                )
                for c in STRENGTHS
            ]
            print(f"{name}, {protocol}: {' / '.join(figures)} (C {STRENGTHS})", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
