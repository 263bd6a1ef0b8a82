"""Class-balanced weights in the logistic regression of `configs/people_rgb.yaml`'s motion
features of fight-dev, on six source-disjoint partitions (docs/measurements.md, "Class weights").

A fold's training sources hold fights and other clips in shares that depend on which sources it
drew (src16: 1 fight of 20; src06: 5 of 5), so an unweighted fit learns that share as a prior for
new sources. `class_weight="balanced"` (what `--class-weight balanced` does) weighs each class
alike. The recipe's view and summary (`segments: 2`), nuisance shares 0 and 0.5, C 1e-3 / 1e-2;
first on a copy of fight-dev whose classes are not alike (one fight in three kept: 20 fights, 60
other clips), top-1 and mean class accuracy, then on all of it.
Needs scikit-learn; the recipe's features are encoded once into OUT/recipe.npy (as nuisance.py's).

    python docs/experiments/class_weights.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from motion_regions import STRENGTHS, clips, encoded_once, partitions  # this folder's scripts
from nuisance import halves_summary, scored, versus
from other_classifiers import encode as encode_recipe
from sklearn.metrics import accuracy_score, balanced_accuracy_score


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    groups = np.array([row["group"] for row in rows])
    recipe = encoded_once(out / "recipe.npy", lambda: encode_recipe(root, rows))  # 5 minutes
    features = np.stack([halves_summary(clip) for clip in recipe]).astype(np.float64)
    # a dataset whose classes are not alike: one fight in three kept (20 fights, 60 others)
    fights = np.flatnonzero(labels == "fight")
    kept = np.sort(np.concatenate([np.flatnonzero(labels != "fight"), fights[::3]]))
    few = features[kept], labels[kept], groups[kept]
    few_splits = partitions(few[1], few[2])
    for c in STRENGTHS:
        for name, metric in (
            ("top-1", accuracy_score),
            ("mean class accuracy", balanced_accuracy_score),
        ):
            plain, balanced = (
                scored(*few, few_splits, 0.5, c, weight=w, metric=metric)
                for w in (None, "balanced")
            )
            print(f"one fight in three, share 0.5, C {c}, {name}: none {plain.mean():.3f}")
            print(versus("  balanced", balanced, plain, "none"), flush=True)
    for share in (0.0, 0.5):
        for c in STRENGTHS:
            plain = scored(features, labels, groups, splits, share, c)
            balanced = scored(features, labels, groups, splits, share, c, weight="balanced")
            print(f"share {share}, C {c}: none {plain.mean():.3f} +- {plain.std():.3f}")
            print(versus(f"share {share}, C {c}, balanced", balanced, plain, "none"), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
