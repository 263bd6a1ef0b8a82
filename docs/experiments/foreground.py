"""The moving people without their camera's scene: each frame minus the clip's median frame
(what stays put: floor, walls, parked things) as Lite0's input, against and beside
`configs/people_rgb.yaml`'s motion features of fight-dev, on six source-disjoint partitions
(docs/measurements.md, "The foreground against the clip's median").

Each clip is read as the recipe reads scenes of several people (48 frames of the segment
sampling, the whole frame padded to 288, Lite0's map averaged over the left and the right half;
the recipe's own features are its frame pairs' differences). Two foregrounds: the difference to
the median itself, and the frame where it differs from the median by more than 0.08 (about 10
of 255, widened by 4 pixels), grey elsewhere: how the moving people look. Each clip is its
features' mean, spread and mean change; a logistic regression scores each alone, side by side
with the recipe's, and late-fused (the two regressions' log probabilities added). Needs
scikit-learn.

    python docs/experiments/foreground.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from dynamic_images import by_halves
from motion_regions import (  # this folder's scripts (run as a script)
    STRENGTHS,
    classified,
    clips,
    described,
    encoded_once,
    recipe_frames,
    show_scored,
    summary,
)
from other_classifiers import encode as encode_recipe
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vidact.models.backbones import MotionEncoder
from vidact.progress import progress

MOVED = 0.08  # mean absolute difference to the median, on Lite0's [-1, 1] input


def encode(root: Path, rows: list[dict[str, str]]) -> np.ndarray:
    """(2, N, 48, 2560) float16: each clip's features of its difference to the median and of
    its masked frames, by halves."""
    encoder = MotionEncoder().eval()
    model = encoder.encoder.model
    difference, masked = [], []
    with torch.inference_mode():
        for row in progress(rows, "encoding", unit="clips"):
            frames = recipe_frames(encoder, root / row["path"], pairs=False)
            apart = frames - frames.median(0).values
            difference.append(by_halves(model, apart.clamp(-1.0, 1.0)))
            moved = (apart.abs().mean(1, keepdim=True) > MOVED).float()
            moved = F.max_pool2d(moved, 9, stride=1, padding=4)
            masked.append(by_halves(model, frames * moved))
    return np.stack([np.stack(difference), np.stack(masked)])


class LateFusion:
    """Two logistic regressions, one on the first ``width`` columns and one on the rest, a clip
    their log probabilities added: what ``classified`` scores as one classifier."""

    def __init__(self, width: int, strength: float) -> None:
        self.width, self.strength = width, strength

    def fit(self, features: np.ndarray, labels: np.ndarray) -> LateFusion:
        self.fits = [
            make_pipeline(StandardScaler(), LogisticRegression(C=self.strength, max_iter=5000)).fit(
                part, labels
            )
            for part in self._parts(features)
        ]
        return self

    def predict(self, features: np.ndarray) -> np.ndarray:
        parts = zip(self.fits, self._parts(features), strict=True)
        summed = sum(fit.predict_log_proba(part) for fit, part in parts)
        return self.fits[0].classes_[np.argmax(summed, axis=1)]

    def _parts(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return features[:, : self.width], features[:, self.width :]


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    foreground = encoded_once(out / "foreground.npy", lambda: encode(root, rows))  # 10 minutes
    recipe = encoded_once(out / "recipe.npy", lambda: encode_recipe(root, rows))  # 5 minutes
    own, difference, masked = (np.stack([summary(c) for c in x]) for x in (recipe, *foreground))
    others = {"the difference to the median": difference, "the frame where it moved": masked}
    show_beside_recipe(own, others, labels, splits)


def show_beside_recipe(
    own: np.ndarray, others: dict[str, np.ndarray], labels: np.ndarray, splits: list
) -> None:
    """Print the recipe's frame differences ``own`` and each of ``others`` alone, side by side
    with the recipe's, and late-fused with them, per C (``STRENGTHS``)."""
    variants = {"the recipe's frame differences": own, **others}
    for name, other in others.items():
        variants[f"the recipe's and {name} side by side"] = np.hstack([own, other])
    show_scored(variants, labels, splits)
    for name, other in others.items():
        show_late_fused(name, own, other, labels, splits)


def show_late_fused(
    name: str, own: np.ndarray, other: np.ndarray, labels: np.ndarray, splits: list
) -> None:
    """Print the recipe's features ``own`` and ``name``'s late-fused, per C (``STRENGTHS``)."""
    both = np.hstack([own, other])
    shown = " / ".join(
        described(classified(partial(LateFusion, own.shape[1], c), both, labels, splits))
        for c in STRENGTHS
    )
    print(f"the recipe's and {name}, late-fused: {shown}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
