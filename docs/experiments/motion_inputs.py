"""Other pictures of motion for `configs/people_rgb.yaml` on fight-dev, and its features centred
per source, on six source-disjoint partitions (docs/measurements.md, "Larger networks, other
differences and centring per camera").

Each clip is read as the recipe reads scenes of several people (48 frame pairs, the whole frame
padded to 288, the map averaged over the left and the right half). Other pictures: the larger
EfficientNet-Lite1 and Lite2 (offline ImageNet weights) on the recipe's amplified difference;
Lite0 on the difference of grey frames (no colour: white balance and chroma noise are the
camera's), of frames blurred first (a Gaussian of 1.5 pixels: compression noise is the
camera's), and on the absolute difference (motion energy, not whether the moving thing is
lighter or darker than what it covers). Each alone, side by side with the recipe's features and,
for the networks, late-fused (the two regressions' log probabilities added). Centring: each
clip's summary less the mean of its source's clips (the camera's ordinary motion taken out, in
training and test alike; no labels used). Each clip is its features' mean, spread and mean
change; a logistic regression scores it. Needs scikit-learn.

    python docs/experiments/motion_inputs.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from dynamic_images import by_halves
from foreground import show_late_fused
from motion_regions import (  # this folder's scripts (run as a script)
    clips,
    encoded_once,
    recipe_frames,
    show_scored,
    summary,
)
from other_classifiers import encode as encode_recipe

from vidact.models.backbones import MotionEncoder
from vidact.progress import progress

NETWORKS = ("tf_efficientnet_lite1", "tf_efficientnet_lite2")
DIFFERENCES = ("the grey difference", "the blurred difference", "the absolute difference")
BLUR = 1.5  # pixels at 288, the Gaussian's spread


def blurred(images: torch.Tensor) -> torch.Tensor:
    """(N, 3, S, S) images under a Gaussian of ``BLUR`` pixels, one channel at a time."""
    taps = torch.arange(-2, 3, dtype=torch.float32)
    kernel = torch.exp(-(taps**2) / (2 * BLUR**2))
    kernel = (kernel / kernel.sum()).repeat(3, 1)
    padded = F.pad(images, (2, 2, 2, 2), mode="replicate")
    across = F.conv2d(padded, kernel.view(3, 1, 1, 5), groups=3)
    return F.conv2d(across, kernel.view(3, 1, 5, 1), groups=3)


def encode_differences(root: Path, rows: list[dict[str, str]]) -> np.ndarray:
    """(3, N, 48, 2560) float16: Lite0 by halves on each clip's grey, blurred and absolute
    differences (``DIFFERENCES``), amplified as the recipe amplifies its own."""
    encoder = MotionEncoder().eval()
    model, gain = encoder.encoder.model, encoder.gain
    encoded: list[list[np.ndarray]] = [[] for _ in DIFFERENCES]
    with torch.inference_mode():
        for row in progress(rows, "encoding (differences)", unit="clips"):
            pairs = recipe_frames(encoder, root / row["path"], pairs=True)
            change = pairs[1::2] - pairs[0::2]
            smooth = blurred(pairs)
            pictures = (
                change.mean(1, keepdim=True).expand_as(change) * gain,
                (smooth[1::2] - smooth[0::2]) * gain,
                change.abs() * 2 * gain - 1,  # from Lite0's -1 (no change) upwards
            )
            for kept, picture in zip(encoded, pictures, strict=True):
                kept.append(by_halves(model, picture.clamp(-1.0, 1.0)))
    return np.stack([np.stack(kept) for kept in encoded])


def centred(features: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each clip's features less the mean of its group's clips."""
    out = features.copy()
    for group in np.unique(groups):
        out[groups == group] -= features[groups == group].mean(0)
    return out


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    groups = np.array([row["group"] for row in rows])
    recipe = encoded_once(out / "recipe.npy", lambda: encode_recipe(root, rows))  # 5 minutes
    own = np.stack([summary(c) for c in recipe])
    networks = {
        network: encoded_once(out / f"{network}.npy", partial(encode_recipe, root, rows, network))
        for network in NETWORKS  # 4 minutes each
    }
    differences = encoded_once(out / "differences.npy", lambda: encode_differences(root, rows))
    others = {
        name: np.stack([summary(c) for c in clip_features])
        for name, clip_features in [*networks.items(), *zip(DIFFERENCES, differences, strict=True)]
    }
    variants = {"the recipe's features (Lite0)": own}
    for name, features in others.items():
        variants[name] = features
        variants[f"{name} beside the recipe's"] = np.hstack([own, features])
    variants["the recipe's features centred per source"] = centred(own, groups)
    variants["the recipe's beside them centred"] = np.hstack([own, centred(own, groups)])
    show_scored(variants, labels, splits)
    for network in NETWORKS:
        show_late_fused(network, own, others[network], labels, splits)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
