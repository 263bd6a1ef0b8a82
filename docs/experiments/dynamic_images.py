"""Dynamic images against `configs/people_rgb.yaml`'s frame differences on fight-dev, each scored
by a logistic regression on six source-disjoint partitions (docs/measurements.md, "Dynamic
images").

A dynamic image (Bilen et al., 2016) sums W consecutive frames with approximate rank-pooling
weights 2t - W - 1, so one picture holds how the window moves, and an ImageNet network reads it
as it reads a frame. Here: 16 windows of 8 frames spread over the clip, the whole frame padded to
288 as the recipe reads scenes of several people, scaled to Lite0's input range either as the
recipe scales a difference (the weighted sum over the positive weights, times 2, clipped:
`fixed`) or per picture from its least to its largest value (`minmax`, as the paper does).
Lite0's map is averaged over the left and the right half as the recipe's `pool: halves`, each
clip summarised by its features' mean, spread and mean change. Needs scikit-learn.

    python docs/experiments/dynamic_images.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from motion_regions import (  # this folder's script (run as a script)
    clips,
    recipe_changes,
    scored,
    show,
    summary,
)

from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.models.backbones import MotionEncoder
from vidact.progress import progress

WINDOW, WINDOWS = 8, 16


def by_halves(model: torch.nn.Module, images: torch.Tensor) -> np.ndarray:
    """(N, 2560) float16: Lite0's map averaged over the left and the right half."""
    maps = model.forward_features(images)
    return F.adaptive_avg_pool2d(maps, (1, 2)).flatten(1).numpy().astype(np.float16)


def dynamic_images(frames: torch.Tensor, scaling: str) -> torch.Tensor:
    """(WINDOWS * WINDOW, 3, S, S) normalised frames -> (WINDOWS, 3, S, S) dynamic images."""
    windows = frames.view(WINDOWS, WINDOW, *frames.shape[1:])
    weights = torch.arange(1, WINDOW + 1, dtype=torch.float32) * 2 - WINDOW - 1
    summed = (weights.view(1, WINDOW, 1, 1, 1) * windows).sum(1)
    if scaling == "fixed":
        return (summed / weights.clamp(min=0).sum() * 2).clamp(-1.0, 1.0)
    flat = summed.flatten(1)
    low = flat.min(1).values.view(-1, 1, 1, 1)
    high = flat.max(1).values.view(-1, 1, 1, 1)
    return (summed - low) / (high - low + 1e-6) * 2 - 1


def encode(root: Path, rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """Per clip: the recipe's 48 differences and both kinds of dynamic image, through Lite0."""
    encoder = MotionEncoder().eval()
    spec = encoder.input_spec(288).fitted("pad")
    found: dict[str, list[np.ndarray]] = {"rec": [], "fix": [], "mm": []}
    with torch.inference_mode():
        for row in progress(rows, "encoding", unit="clips"):
            video = root / row["path"]
            found["rec"].append(by_halves(encoder.encoder.model, recipe_changes(encoder, video)))
            with VideoReader(video) as reader:
                last = reader.num_frames - 1
                starts = np.linspace(0, max(last + 1 - WINDOW, 0), WINDOWS).round().astype(int)
                positions = np.clip(starts[:, None] + np.arange(WINDOW), 0, last).ravel()
                frames = eval_transform(spec)(reader.read(positions, short_side=spec.short_side))
            for key, scaling in (("fix", "fixed"), ("mm", "minmax")):
                images = dynamic_images(frames, scaling)
                found[key].append(by_halves(encoder.encoder.model, images))
    return {key: np.stack(value) for key, value in found.items()}


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    stored = out / "feats.npz"
    if not stored.is_file():  # about 18 minutes on two cores
        np.savez(stored, **encode(root, rows))
    encoded = np.load(stored)
    summaries = {
        key: np.stack([summary(c) for c in encoded[key].astype(np.float32)])
        for key in ("rec", "fix", "mm")
    }
    variants = {
        "the recipe's frame differences": summaries["rec"],
        "dynamic images, scaled as a difference": summaries["fix"],
        "dynamic images, scaled from least to largest": summaries["mm"],
        "differences and dynamic images (as a difference) side by side": np.hstack(
            [summaries["rec"], summaries["fix"]]
        ),
        "differences and dynamic images (least to largest) side by side": np.hstack(
            [summaries["rec"], summaries["mm"]]
        ),
    }
    for name, features in variants.items():
        show(name, partial(scored, features), labels, splits)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
