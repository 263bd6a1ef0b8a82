"""Other classifiers and scale-free summaries on `configs/people_rgb.yaml`'s motion features of
fight-dev, against the recipe's logistic regression, on six source-disjoint partitions
(docs/measurements.md, "Other classifiers and scale-free summaries").

Each clip is read as the recipe reads scenes of several people (48 frame pairs, the whole frame
padded to 288, Lite0's map averaged over the left and the right half). The classifiers see the
recipe's summary (each feature's mean, spread and mean change over time); the summaries tried
instead divide out how much a camera's picture changes (a compressed, noisy or nearer camera
changes more whatever happens), which a linear model of standardised features cannot do.
Needs scikit-learn.

    python docs/experiments/other_classifiers.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
from dynamic_images import by_halves
from motion_regions import (  # this folder's scripts (run as a script)
    classified,
    clips,
    described,
    encoded_once,
    recipe_changes,
    scored,
    show,
    summary,
)
from sklearn.base import ClassifierMixin
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression, RidgeClassifier
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from vidact.models.backbones import MotionEncoder
from vidact.progress import progress

TINY = 1e-3  # keeps a ratio finite where a feature is never active


def encode(
    root: Path, rows: list[dict[str, str]], network: str = "tf_efficientnet_lite0"
) -> np.ndarray:
    """(N, 48, 2560) float16: each clip's 48 motion features by halves, as the recipe's (or
    through another ``network`` on the same differences)."""
    encoder = MotionEncoder(network).eval()
    with torch.inference_mode():
        return np.stack(
            [
                by_halves(encoder.encoder.model, recipe_changes(encoder, root / row["path"]))
                for row in progress(rows, "encoding", unit="clips")
            ]
        )


def classifiers() -> dict[str, Callable[[], ClassifierMixin]]:
    """Each classifier tried on the recipe's summary (made fresh for every fold)."""
    return {
        "ridge classifier, alpha 1e3": lambda: make_pipeline(
            StandardScaler(), RidgeClassifier(alpha=1e3)
        ),
        "ridge classifier, alpha 1e4": lambda: make_pipeline(
            StandardScaler(), RidgeClassifier(alpha=1e4)
        ),
        "RBF support vector machine, C 1": lambda: make_pipeline(StandardScaler(), SVC(C=1)),
        "RBF support vector machine, C 10": lambda: make_pipeline(StandardScaler(), SVC(C=10)),
        "32 principal components, logistic regression C 0.1": lambda: make_pipeline(
            StandardScaler(),
            PCA(32, whiten=True, random_state=0),
            LogisticRegression(C=0.1, max_iter=5000),
        ),
        "64 principal components, shrunk linear discriminant": lambda: make_pipeline(
            StandardScaler(),
            PCA(64, random_state=0),
            LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto"),
        ),
        "random forest, 300 trees": lambda: RandomForestClassifier(300, random_state=0, n_jobs=2),
        "extra trees, 300 trees": lambda: ExtraTreesClassifier(300, random_state=0, n_jobs=2),
        "7 nearest neighbours (cosine)": lambda: make_pipeline(
            StandardScaler(), KNeighborsClassifier(7, metric="cosine")
        ),
    }


def scale_free(clip: np.ndarray) -> np.ndarray:
    """Each feature's spread and mean change over its own mean: how it varies, not how much."""
    level = clip.mean(0) + TINY
    return np.concatenate([clip.std(0) / level, np.abs(np.diff(clip, axis=0)).mean(0) / level])


def summaries(clips_: np.ndarray) -> dict[str, np.ndarray]:
    """Clip features of each summary tried in place of (or beside) the recipe's."""
    recipe = np.stack([summary(c) for c in clips_])
    ratios = np.stack([scale_free(c) for c in clips_])
    return {
        "spread and change over each feature's mean": ratios,
        "the recipe's summary and those ratios": np.hstack([recipe, ratios]),
        "the recipe's summary of the logged features": np.stack(
            [summary(np.log(c + 1e-2)) for c in clips_]
        ),
        "each frame divided by its mean activation, then summarised": np.stack(
            [summary(c / (c.mean(1, keepdims=True) + TINY)) for c in clips_]
        ),
    }


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    encoded = encoded_once(out / "recipe.npy", lambda: encode(root, rows))  # 5 minutes
    recipe = np.stack([summary(c) for c in encoded])
    show("the recipe: logistic regression on its summary", partial(scored, recipe), labels, splits)
    for name, make in classifiers().items():  # each with its own strength: one figure
        print(f"{name}: {described(classified(make, recipe, labels, splits))}", flush=True)
    for name, features in summaries(encoded).items():
        show(name, partial(scored, features), labels, splits)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
