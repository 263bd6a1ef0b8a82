"""Clip transforms on torchvision.transforms.v2 video tensors.

v2 draws a transform's random parameters once per call, so a clip (T, C, H, W) passed as one
``tv_tensors.Video`` gets the same crop and flip on every frame. Mean, std and crop ratio come from
the backbone's config (``models.backbones.FrameEncoder.data_config``), never from literals here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2

ClipTransform = Callable[[np.ndarray], torch.Tensor]


class _ClipPipeline:
    """uint8 (T, H, W, 3) numpy clip -> float (T, 3, S, S) tensor; picklable for workers."""

    def __init__(self, steps: list[v2.Transform]) -> None:
        self.pipeline = v2.Compose(steps)

    def __call__(self, clip: np.ndarray) -> torch.Tensor:
        video = tv_tensors.Video(torch.from_numpy(clip).permute(0, 3, 1, 2))  # (T,H,W,3)->(T,3,H,W)
        return self.pipeline(video).as_subclass(torch.Tensor)


@dataclass(frozen=True)
class InputSpec:
    """What the network expects: crop size, the short side to decode at, normalisation."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop_pct: float = 0.875

    @property
    def short_side(self) -> int:
        """Frames are decoded with this short side, then centre-cropped to ``size``."""
        return round(self.size / self.crop_pct)


def _normalise(mean: Sequence[float], std: Sequence[float]) -> list[v2.Transform]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]


def eval_transform(spec: InputSpec) -> ClipTransform:
    """Resize the short side, centre-crop, normalise: uint8 (T, H, W, 3) -> float (T, 3, S, S)."""
    return _ClipPipeline(
        [
            v2.Resize(spec.short_side, antialias=True),
            v2.CenterCrop(spec.size),
            *_normalise(spec.mean, spec.std),
        ]
    )


def train_transform(spec: InputSpec, flip: bool = True) -> ClipTransform:
    """Random resized crop and horizontal flip, drawn once per clip, then normalise."""
    steps: list[v2.Transform] = [v2.RandomResizedCrop(spec.size, scale=(0.35, 1.0), antialias=True)]
    if flip:
        steps.append(v2.RandomHorizontalFlip())
    return _ClipPipeline([*steps, *_normalise(spec.mean, spec.std)])
