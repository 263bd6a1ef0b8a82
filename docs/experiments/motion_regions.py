"""Where in the picture and when in the clip `configs/people_rgb.yaml`'s motion features could
say more on fight-dev, each idea scored by a logistic regression on six source-disjoint
partitions (docs/measurements.md, "Where the motion features end").

Each clip is read as the recipe reads it (48 frame pairs, the whole frame padded to 288, the
amplified difference through Lite0, `vidact`'s own `MotionEncoder`), and Lite0's 9 x 9 map is
kept pooled to a 3 x 3 grid of cells. Surveillance people are small and a fight fills a corner:
the variants look at the cells (each cell's summary, its largest value over the cells, the cell
that changes most beside the whole picture, or each cell a training instance whose clip score is
its two likeliest cells', a naive multiple-instance fit) and at other summaries over time (the
largest value, the mean of the top quarter, thirds of the clip, changes over 2 and 4 frames).
Needs scikit-learn.

    python docs/experiments/motion_regions.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import csv
import logging
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.base import ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vidact.data.datasets import read_clips
from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.models.backbones import MotionEncoder
from vidact.progress import progress
from vidact.sampling import ClipSampling

STRENGTHS = (1e-3, 1e-2)  # C; 1e-3 is about the recipe's weight decay 10 on 100 clips


def recipe_frames(encoder: MotionEncoder, video: Path, pairs: bool) -> torch.Tensor:
    """(48, 3, 288, 288), with ``pairs`` (96, ...) each followed by the frame it is paired with
    (`vidact.sampling.pair_rows`): a clip's frames as the recipe reads scenes of several people
    (48 segment frames, the whole frame padded)."""
    spec = encoder.input_spec(288).fitted("pad")
    sampling = ClipSampling(frames=48, strategy="segment", span=2 if pairs else 1)
    with VideoReader(video) as reader:
        positions = sampling.indices(reader.num_frames, reader.fps)[None]
        frames = read_clips(reader, positions, sampling, spec.short_side)[0]  # pairs as chosen
        return eval_transform(spec)(frames)


def recipe_changes(encoder: MotionEncoder, video: Path) -> torch.Tensor:
    """(48, 3, 288, 288): the amplified frame differences Lite0 reads of a clip, as the recipe
    reads them."""
    return encoder.changes(recipe_frames(encoder, video, pairs=True))


def encode(root: Path, rows: list[dict[str, str]]) -> np.ndarray:
    """(N, 48, 1280, 9) float16: each clip's motion features in 3 x 3 cells of Lite0's map."""
    encoder = MotionEncoder().eval()
    cells = []
    with torch.inference_mode():
        for row in progress(rows, "encoding", unit="clips"):
            changes = recipe_changes(encoder, root / row["path"])
            maps = encoder.encoder.model.forward_features(changes)  # (48, 1280, 9, 9)
            cells.append(F.adaptive_avg_pool2d(maps, 3).flatten(2).numpy().astype(np.float16))
    return np.stack(cells)


def change(clip: np.ndarray, reduce: Callable[..., np.ndarray] = np.mean) -> np.ndarray:
    """Each feature's mean (or ``reduce``d) absolute change between neighbouring frames."""
    return reduce(np.abs(np.diff(clip, axis=0)), axis=0)


def summary(clip: np.ndarray) -> np.ndarray:
    """The recipe's summary over time: each feature's mean, spread and mean change."""
    return np.concatenate([clip.mean(0), clip.std(0), change(clip)])


def cell_summaries(cells: np.ndarray) -> np.ndarray:
    """(N, 9, 3F): each cell's summary over time."""
    return np.stack([[summary(clip[:, :, k]) for k in range(9)] for clip in cells])


def top_mean(clip: np.ndarray, share: float) -> np.ndarray:
    """Each feature's mean over its largest ``share`` of the frames."""
    count = max(1, int(len(clip) * share))
    return np.sort(clip, axis=0)[-count:].mean(0)


def variants(cells: np.ndarray, per_cell: np.ndarray) -> dict[str, np.ndarray]:
    """Clip features of each variant: (N, D); ``per_cell``: ``cell_summaries(cells)``."""
    whole = cells.mean(-1)  # (N, T, F): the map averaged, as the recipe without halves
    moving = (
        np.abs(np.diff(cells, axis=1)).mean((1, 2)).argmax(1)
    )  # (N,) the cell that changes most
    overall = np.stack([summary(c) for c in whole])
    extra: dict[str, Callable[[np.ndarray], np.ndarray]] = {
        "largest value over time": lambda c: c.max(0),
        "mean of the top quarter of the frames": lambda c: top_mean(c, 0.25),
        "means of thirds of the clip": lambda c: np.concatenate(
            [part.mean(0) for part in np.array_split(c, 3)]
        ),
        "mean change over 2 frames": lambda c: np.abs(c[2:] - c[:-2]).mean(0),
        "mean change over 4 frames": lambda c: np.abs(c[4:] - c[:-4]).mean(0),
    }
    found = {
        "the whole picture (mean, spread, mean change)": overall,
        "each cell's summary, its largest over the cells": per_cell.max(1),
        "the whole picture and the most-changing cell": np.hstack(
            [overall, per_cell[np.arange(len(cells)), moving]]
        ),
    }
    for name, statistic in extra.items():
        found[f"the whole picture and the {name}"] = np.hstack(
            [overall, np.stack([statistic(c) for c in whole])]
        )
    return found


def partitions(labels: np.ndarray, groups: np.ndarray) -> list[list[tuple[np.ndarray, np.ndarray]]]:
    """Six source-disjoint 5-fold partitions (scikit-learn's StratifiedGroupKFold, seeds 0-5)."""
    return [
        list(StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(labels, labels, groups))
        for seed in range(6)
    ]


def classified(
    make: Callable[[], ClassifierMixin], features: np.ndarray, labels: np.ndarray, splits: list
) -> list[float]:
    """Pooled top-1 on each partition of a classifier ``make()`` gives fresh for every fold."""
    accuracy = []
    for folds in splits:
        predicted = np.empty_like(labels)
        for train, test in folds:
            predicted[test] = make().fit(features[train], labels[train]).predict(features[test])
        accuracy.append(float((predicted == labels).mean()))
    return accuracy


def scored(features: np.ndarray, labels: np.ndarray, splits: list, strength: float) -> list[float]:
    """Pooled top-1 of a logistic regression on each partition."""
    return classified(
        lambda: make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=5000)),
        features,
        labels,
        splits,
    )


def instances_scored(
    per_cell: np.ndarray, labels: np.ndarray, splits: list, strength: float
) -> list[float]:
    """Each cell a training instance with its clip's label; a clip is its two likeliest cells."""
    positive, other = sorted(set(labels))
    accuracy = []
    for folds in splits:
        predicted = np.empty_like(labels)
        for train, test in folds:
            model = make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=3000))
            model.fit(per_cell[train].reshape(-1, per_cell.shape[-1]), np.repeat(labels[train], 9))
            column = list(model.classes_).index(positive)
            cell_scores = model.predict_proba(per_cell[test].reshape(-1, per_cell.shape[-1]))
            clip = np.sort(cell_scores[:, column].reshape(-1, 9), axis=1)[:, -2:].mean(1)
            predicted[test] = np.where(clip > 0.5, positive, other)
        accuracy.append(float((predicted == labels).mean()))
    return accuracy


def clips(root: Path, out: Path) -> tuple[list[dict[str, str]], np.ndarray, list]:
    """The clips of ``root``'s groups.csv, their labels and the six partitions (OUT made)."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the encoding's progress
    rows = list(csv.DictReader((root / "groups.csv").open()))
    out.mkdir(parents=True, exist_ok=True)
    labels = np.array([row["path"].split("/")[0] for row in rows])
    return rows, labels, partitions(labels, np.array([row["group"] for row in rows]))


def encoded_once(stored: Path, encode_all: Callable[[], np.ndarray]) -> np.ndarray:
    """``encode_all()`` as float32, stored in ``stored`` the first time and read from it after."""
    if not stored.is_file():
        np.save(stored, encode_all())
    return np.load(stored).astype(np.float32)


def described(accuracy: list[float]) -> str:
    """'0.779 +- 0.017': the mean and spread of a variant's pooled top-1 over the partitions."""
    return f"{np.mean(accuracy):.3f} +- {np.std(accuracy):.3f}"


def show_scored(variants: dict[str, np.ndarray], labels: np.ndarray, splits: list) -> None:
    """Print each variant's mean and spread of a logistic regression's pooled top-1, per C."""
    for name, features in variants.items():
        shown = " / ".join(described(scored(features, labels, splits, c)) for c in STRENGTHS)
        print(f"{name}: {shown}", flush=True)


def show(
    name: str, score: Callable[[np.ndarray, list, float], list[float]], labels, splits
) -> None:
    """Print a variant's mean and spread of the pooled top-1 over the partitions, per C."""
    shown = " / ".join(described(score(labels, splits, c)) for c in STRENGTHS)
    print(f"{name}: {shown} (C {' / '.join(map(str, STRENGTHS))})", flush=True)


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    cells = encoded_once(out / "cells.npy", lambda: encode(root, rows))  # 8 minutes on 2 cores
    per_cell = cell_summaries(cells)
    runs = [(name, partial(scored, f)) for name, f in variants(cells, per_cell).items()]
    runs.append(
        (
            "each cell an instance, a clip its two likeliest cells",
            partial(instances_scored, per_cell),
        )
    )
    for name, score in runs:
        show(name, score, labels, splits)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
