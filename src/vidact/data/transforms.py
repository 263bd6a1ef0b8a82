"""Clip transforms on torchvision.transforms.v2 video tensors.

v2 draws a transform's random parameters once per call, so a clip (T, C, H, W) passed as one
``tv_tensors.Video`` gets the same crop, rotation, flip and colour change on every frame, and a new
draw on every call (every epoch). Mean, std and crop ratio come from the backbone's config
(``models.backbones.FrameEncoder.input_spec``), never from literals here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from vidact.data.bodies import STEADY, TORSO_SEEN, body_centre, check_available
from vidact.errors import ConfigError
from vidact.registry import Registry
from vidact.sampling import GLANCE, sample_indices

ClipTransform = Callable[[np.ndarray], torch.Tensor]


@dataclass(frozen=True)
class InputSpec:
    """What the network expects: crop size, the short side to decode at, normalisation."""

    size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    crop_pct: float = 0.875
    # crop: centre square of the short side; pad: whole frame, padded square; person: the
    # square around the person in the clip (PersonSquare)
    fit: str = "crop"

    @property
    def short_side(self) -> int:
        """Frames are decoded with this short side, then cropped (or padded) to ``size``."""
        if self.fit == "person":  # a square of half the short side keeps ``size`` real pixels
            return 2 * self.size
        return round(self.size / self.crop_pct)

    def fitted(self, fit: str) -> InputSpec:
        """The same input with frames fitted another way (``crop``, ``pad`` or ``person``); a
        padded frame is decoded at ``size``, since none of it is cropped away."""
        return replace(self, fit=fit, crop_pct=self.crop_pct if fit == "crop" else 1.0)


@dataclass(frozen=True)
class Augment:
    """Training augmentation; every draw is shared by all frames of a clip."""

    crop_scale: float | None = 0.35  # random resized crop down to this area; None: centre crop
    flip: bool = True  # horizontal; turn off for direction-sensitive classes
    rotation: float = 0.0  # degrees, +-
    translate: float = 0.0  # shift, as a fraction of the size, +-
    zoom: float = 0.0  # scale change, +-
    color_jitter: float = 0.0  # brightness, contrast and saturation strength


AUGMENT_PRESETS: Registry[Augment] = Registry("augmentation preset")
AUGMENT_PRESETS.register("none", Augment(crop_scale=None, flip=False))
AUGMENT_PRESETS.register("light", Augment(crop_scale=0.35, flip=True))
# the seeds' Keras ImageDataGenerator settings: zoom 0.1, rotation 8, shifts 0.2, flip
AUGMENT_PRESETS.register(
    "seeds", Augment(crop_scale=None, flip=True, rotation=8, translate=0.2, zoom=0.1)
)
AUGMENT_PRESETS.register(
    "strong",
    Augment(crop_scale=0.25, flip=True, rotation=15, translate=0.1, zoom=0.2, color_jitter=0.4),
)


def resolve_augment(preset: str, **overrides: Any) -> Augment:
    """A preset with individual settings overridden (``None`` keeps the preset's value)."""
    base = AUGMENT_PRESETS.get(preset)
    known = {f.name for f in fields(Augment)}
    unknown = set(overrides) - known
    if unknown:
        raise ConfigError(f"unknown augmentation settings: {', '.join(sorted(unknown))}")
    augment = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    for name in ("rotation", "translate", "zoom", "color_jitter"):
        if getattr(augment, name) < 0:
            raise ConfigError(
                f"--{name.replace('_', '-')} must be 0 or more, got {getattr(augment, name)}"
            )
    if augment.crop_scale is not None and not 0 < augment.crop_scale <= 1:
        raise ConfigError(f"--crop-scale must lie in (0, 1], got {augment.crop_scale}")
    return augment


class _ClipPipeline:
    """uint8 (T, H, W, 3) numpy clip -> float (T, 3, S, S) tensor; picklable for workers."""

    def __init__(self, steps: list[v2.Transform]) -> None:
        self.pipeline = v2.Compose(steps)

    def __call__(self, clip: np.ndarray) -> torch.Tensor:
        video = tv_tensors.Video(torch.from_numpy(np.ascontiguousarray(clip)).permute(0, 3, 1, 2))
        return self.pipeline(video).as_subclass(torch.Tensor)  # (T,H,W,3) -> (T,3,S,S)


class ThreeCrop(v2.Transform):
    """Three size x size crops along the long side (start, centre, end): (T,C,H,W) -> (3,T,C,S,S).

    The standard three-crop test of video recognition (after resizing the short side to size),
    which sees the whole frame where a centre crop cuts the sides off.
    """

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, video: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        height, width = video.shape[-2:]
        crops = []
        for fraction in (0.0, 0.5, 1.0):
            top = (
                round((height - self.size) * fraction)
                if height > width
                else (height - self.size) // 2
            )
            left = (
                round((width - self.size) * fraction)
                if width >= height
                else (width - self.size) // 2
            )
            crops.append(F.crop(video, top, left, self.size, self.size))
        return torch.stack([c.as_subclass(torch.Tensor) for c in crops])


class PersonSquare(v2.Transform):
    """(T, C, H, W) uint8 clip -> (T, C, S, S): the square of ``TORSOS`` torso lengths centred on
    the person MediaPipe's pose model finds in the clip (the median over up to ``LOOKS`` of its
    frames), black beyond the frame; the whole frame padded to a square unless one person is
    steadily in view (``vidact.data.bodies.body_centre``).

    A picture's left and right half are the body's only when the person stands in the middle, and
    people stand anywhere, near or far: centred and scaled on the body, a raised left arm is the
    same movement for every person and camera. A scene of several people, or of people passing,
    keeps the whole frame (docs/measurements.md, "Halves of the body")."""

    TORSOS = 4.0
    LOOKS = 8

    def __init__(self, size: int) -> None:
        check_available()  # the install hint now, not from a loader worker at the first clip
        super().__init__()
        self.size = size
        self.whole = v2.Compose(_padded(size))

    def forward(self, video: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        square = self.locate(video)
        if square is None:
            return self.whole(video)
        top, left, side = square
        return F.resize(F.crop(video, top, left, side, side), [self.size] * 2, antialias=True)

    def locate(self, video: torch.Tensor) -> tuple[int, int, int] | None:
        """(top, left, side) in pixels of the body's square, or None unless one person is
        steadily in view. It looks at frames spread over the clip's distinct pictures, however
        often each was read: evaluation reads some frames of a video shorter than its T twice
        (and a motion encoder reads overlapping frames around each), and the square must lie
        where it lies for the video read frame by frame, so that the features of a full-batch
        fit's training entry and of an evaluation view are one encoding."""
        distinct = distinct_rows(video)
        looks = distinct[np.unique(sample_indices(len(distinct), self.LOOKS, "uniform"))]
        frames = video[looks].permute(0, 2, 3, 1).contiguous().numpy()
        found = body_centre(frames)
        if found is None:
            return None
        x, y, torso = found
        side = max(8, round(self.TORSOS * torso))
        return round(y - side / 2), round(x - side / 2), side


def distinct_rows(video: torch.Tensor) -> np.ndarray:
    """Rows of a (T, C, H, W) clip whose picture none before it holds, in order: the same rows
    however often a read repeats a frame (compared where ``sampling.pair_rows`` compares
    pictures: ``GLANCE``)."""
    seen: set[bytes] = set()
    rows = []
    for row, frame in enumerate(video[:, :, ::GLANCE, ::GLANCE].contiguous().numpy()):
        if (picture := frame.tobytes()) not in seen:
            seen.add(picture)
            rows.append(row)
    return np.array(rows)


def fit_rule(spec: InputSpec) -> dict[str, float | str] | None:
    """What decides the pictures of ``spec``'s fit beyond its name (the person square's rule),
    for the feature caches' keys: change a constant and the features are computed again."""
    if spec.fit != "person":
        return None
    return {
        "torsos": PersonSquare.TORSOS,
        "looks": PersonSquare.LOOKS,
        "seen": TORSO_SEEN,
        "steady": STEADY,
        "looks_among": "distinct frames",
    }


def worker_start(spec: InputSpec, workers: int) -> str | None:
    """How a DataLoader starts the ``workers`` that transform frames fitted to ``spec``:
    ``forkserver`` for the person fit, whose MediaPipe crashes (SIGSEGV) in a child forked from
    a process that has run MediaPipe itself (a pose model, a timeline or a run without workers
    before); the default (fork) otherwise, which starts at once."""
    return "forkserver" if spec.fit == "person" and workers > 0 else None


def _fit(spec: InputSpec) -> list[v2.Transform]:
    """A decoded frame -> the size x size square: its centre, all of it padded with black, or the
    square around the person (``PersonSquare``)."""
    if spec.fit == "person":
        return [PersonSquare(spec.size)]
    if spec.fit == "pad":
        return _padded(spec.size)
    return [v2.Resize(spec.short_side, antialias=True), v2.CenterCrop(spec.size)]


def _padded(size: int) -> list[v2.Transform]:
    """The whole frame: its long side fits ``size``; CenterCrop pads the short one with black."""
    return [v2.Resize(size=None, max_size=size, antialias=True), v2.CenterCrop(size)]


def _normalise(spec: InputSpec) -> list[v2.Transform]:
    return [v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(spec.mean), list(spec.std))]


def eval_transform(spec: InputSpec, crops: int = 1) -> ClipTransform:
    """Fit each frame to the square (``spec.fit``), normalise: uint8 (T, H, W, 3) -> float
    (T, 3, S, S).

    ``crops=3`` gives three crops instead: (3, T, 3, S, S).
    """
    if crops == 1:
        return _ClipPipeline([*_fit(spec), *_normalise(spec)])
    if crops == 3 and spec.fit != "crop":
        raise ConfigError(
            "--crops 3 reads three squares along the frame, but this model reads "
            f"{'the whole frame padded to a square' if spec.fit == 'pad' else 'the person'} "
            f"(frame fit {spec.fit!r}): use --crops 1"
        )
    if crops == 3:
        return _ClipPipeline(
            [v2.Resize(spec.size, antialias=True), *_normalise(spec), ThreeCrop(spec.size)]
        )
    raise ConfigError(f"--crops must be 1 or 3, got {crops}")


def train_transform(spec: InputSpec, augment: Augment | None = None) -> ClipTransform:
    """The training pipeline of ``augment`` (default: the ``light`` preset), then normalise."""
    augment = augment or AUGMENT_PRESETS.get("light")
    # without a random crop, the evaluation's fit; a padded frame or the person's square comes
    # first in any case, so random crops are drawn from what evaluation sees
    fit_first = augment.crop_scale is None or spec.fit != "crop"
    steps: list[v2.Transform] = _fit(spec) if fit_first else []
    if augment.crop_scale is not None:
        steps.append(
            v2.RandomResizedCrop(spec.size, scale=(augment.crop_scale, 1.0), antialias=True)
        )
    if augment.rotation or augment.translate or augment.zoom:
        steps.append(
            v2.RandomAffine(
                degrees=augment.rotation,
                translate=(augment.translate, augment.translate) if augment.translate else None,
                scale=(1 - augment.zoom, 1 + augment.zoom) if augment.zoom else None,
            )
        )
    if augment.flip:
        steps.append(v2.RandomHorizontalFlip())
    if augment.color_jitter:
        strength = augment.color_jitter
        steps.append(v2.ColorJitter(strength, strength, strength, hue=min(strength / 4, 0.1)))
    return _ClipPipeline([*steps, *_normalise(spec)])
