"""How `configs/people_rgb.yaml`'s `linear` head summarises each motion feature over a clip's
time, for scenes of several people: the recipe's each half's mean, spread and mean change
against one mean over the clip, peaks, quartiles and products of the picture's two halves, on
fight-dev's six source-disjoint partitions (docs/measurements.md, "Summaries over time").

Each clip is read as the recipe reads scenes (48 frame pairs, the whole frame padded to 288,
Lite0's map averaged over the left and the right half); half of how the training sources differ
within a class is projected out (`nuisance: 0.5`), classes weigh alike, a logistic regression.
Needs scikit-learn.

    python docs/experiments/time_summaries.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from motion_regions import STRENGTHS, change, clips, encoded_once, top_mean  # this folder's
from motion_regions import summary as whole_summary
from nuisance import halves_summary, scored, versus
from other_classifiers import encode


def left_right(clip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(T, 2560) features by halves -> the left half's (T, 1280) and the right half's."""
    return clip[:, : clip.shape[1] // 2], clip[:, clip.shape[1] // 2 :]


def whole_map(clip: np.ndarray) -> np.ndarray:
    """Lite0's map averaged at once (the halves' mean: they are alike in size)."""
    left, right = left_right(clip)
    return (left + right) / 2


def mirrored_alike(clip: np.ndarray) -> np.ndarray:
    """Each feature's larger and smaller value of the two halves: left and right unordered."""
    left, right = left_right(clip)
    return np.hstack([np.maximum(left, right), np.minimum(left, right)])


SUMMARIES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "each half's mean, spread, change (the recipe's, `segments: 2`)": halves_summary,
    "one mean over the clip, spread, change (`segments: 1`)": whole_summary,
    "the recipe's and each feature's peak": lambda c: np.hstack([halves_summary(c), c.max(0)]),
    "the recipe's and each feature's top quarter's mean": lambda c: np.hstack(
        [halves_summary(c), top_mean(c, 0.25)]
    ),
    "the top quarter's mean in place of the means": lambda c: np.hstack(
        [top_mean(c, 0.25), c.std(0), change(c)]
    ),
    "the recipe's and each feature's quartiles": lambda c: np.hstack(
        [halves_summary(c), np.quantile(c, [0.25, 0.75], axis=0).reshape(-1)]
    ),
    "the recipe's and each feature's largest change": lambda c: np.hstack(
        [halves_summary(c), change(c, np.max)]
    ),
    "the recipe's and the left times the right half, averaged": lambda c: np.hstack(
        [halves_summary(c), np.prod(left_right(c), axis=0).mean(0)]
    ),
    "one mean over the clip of the whole map": lambda c: whole_summary(whole_map(c)),
    "one mean over the clip, the halves unordered": lambda c: whole_summary(mirrored_alike(c)),
}


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    groups = np.array([row["group"] for row in rows])
    encoded = encoded_once(out / "recipe.npy", lambda: encode(root, rows)).astype(np.float64)
    base = {}
    for name, summarise in SUMMARIES.items():
        features = np.stack([summarise(clip) for clip in encoded])
        for c in STRENGTHS:
            got = scored(features, labels, groups, splits, 0.5, c, weight="balanced")
            print(
                versus(f"{name}, C {c}", got, base.setdefault(c, got), "the recipe's"), flush=True
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
