"""Two ways to carry `configs/people_rgb.yaml`'s fight-dev model over to new cameras, each scored
by a logistic regression on six source-disjoint partitions (docs/measurements.md, "Copies as
other cameras, appearance beside motion, and sound").

Each clip is read as the recipe reads scenes of several people (48 frame pairs, the whole frame
padded to 288, Lite0's map averaged over the left and the right half). Copies as other cameras:
each training clip is also encoded K times as another camera would see it (mirrored or not, a
zoom on 65-100% of the picture, 1-2.5 times fewer pixels, grey a third of the time, another
contrast and brightness, sensor noise), the same for all its frames; the copies join the
training set, the test clips stay as they are. Appearance beside motion: Lite0 on the frames
themselves, a second regression whose log probabilities are added to the recipe's (the issue
reports a probe of appearance at 0.79-0.81 on other fight sources). Also printed: which clips
carry sound, and which of those are silent, per class and per source. Needs scikit-learn.

    python docs/experiments/other_cameras.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import sys
from collections import defaultdict
from functools import partial
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F
from dynamic_images import by_halves
from foreground import LateFusion
from motion_regions import (  # this folder's scripts (run as a script)
    STRENGTHS,
    classified,
    clips,
    described,
    encoded_once,
    recipe_frames,
    scored,
    summary,
)
from other_classifiers import encode as encode_recipe
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vidact.models.backbones import MotionEncoder
from vidact.progress import progress

COPIES = 4  # per clip


def as_another_camera(frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """(N, 3, S, S) normalised frames as one other camera would show them."""
    size = frames.shape[-2:]
    if rng.random() < 0.5:
        frames = frames.flip(-1)
    side = rng.uniform(0.65, 1.0)
    h, w = int(size[0] * side), int(size[1] * side)
    y, x = rng.integers(0, size[0] - h + 1), rng.integers(0, size[1] - w + 1)
    frames = F.interpolate(frames[:, :, y : y + h, x : x + w], size=size, mode="bilinear")
    fewer = rng.uniform(1.0, 2.5)
    if fewer > 1.1:
        small = F.interpolate(frames, scale_factor=1 / fewer, mode="area")
        frames = F.interpolate(small, size=size, mode="bilinear")
    if rng.random() < 0.3:
        frames = frames.mean(1, keepdim=True).expand(-1, 3, -1, -1)
    frames = frames * rng.uniform(0.7, 1.3) + rng.uniform(-0.2, 0.2)
    noise = torch.Generator().manual_seed(int(rng.integers(1 << 30)))
    frames = frames + torch.randn(frames.shape, generator=noise) * rng.uniform(0, 0.03)
    return frames.clamp(-1.0, 1.0)


def encode_copies(root: Path, rows: list[dict[str, str]]) -> np.ndarray:
    """(N, COPIES, 48, 2560) float16: each clip's motion features as other cameras show it."""
    encoder = MotionEncoder().eval()
    model, rng = encoder.encoder.model, np.random.default_rng(0)
    copies = []
    with torch.inference_mode():
        for row in progress(rows, "encoding copies", unit="clips"):
            pairs = recipe_frames(encoder, root / row["path"], pairs=True)
            seen = [encoder.changes(as_another_camera(pairs, rng)) for _ in range(COPIES)]
            copies.append(np.stack([by_halves(model, changes) for changes in seen]))
    return np.stack(copies)


def encode_appearance(root: Path, rows: list[dict[str, str]]) -> np.ndarray:
    """(N, 48, 2560) float16: Lite0 on each clip's frames themselves, by halves."""
    encoder = MotionEncoder().eval()
    with torch.inference_mode():
        return np.stack(
            [
                by_halves(encoder.encoder.model, recipe_frames(encoder, root / row["path"], False))
                for row in progress(rows, "encoding appearance", unit="clips")
            ]
        )


def with_copies(
    own: np.ndarray, copies: np.ndarray, labels: np.ndarray, splits: list, k: int, strength: float
) -> list[float]:
    """Pooled top-1 per partition of a regression fitted on the training clips and ``k`` copies
    of each, tested on the test clips as they are."""
    accuracy = []
    for folds in splits:
        predicted = np.empty_like(labels)
        for train, test in folds:
            seen = np.vstack([own[train], *(copies[train, j] for j in range(k))])
            model = make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=5000))
            model.fit(seen, np.tile(labels[train], k + 1))
            predicted[test] = model.predict(own[test])
        accuracy.append(float((predicted == labels).mean()))
    return accuracy


def loudness(video: Path) -> float | None:
    """Root mean square of the video's first audio track (1 is full scale); None without one."""
    with av.open(str(video)) as container:
        if not container.streams.audio:
            return None
        samples = [frame.to_ndarray() for frame in container.decode(audio=0)]
    if not samples:
        return 0.0
    values = np.concatenate([s.reshape(-1) for s in samples]).astype(np.float64)
    if np.issubdtype(samples[0].dtype, np.integer):
        values /= np.iinfo(samples[0].dtype).max
    return float(np.sqrt(np.mean(values**2)))


def show_sound(root: Path, rows: list[dict[str, str]], labels: np.ndarray) -> None:
    """Print how many clips carry sound and how many of those are silent, per class, and each
    source's share of silent clips: whether sound could tell a fight."""
    levels = [loudness(root / row["path"]) for row in rows]
    for name in sorted(set(labels)):
        mine = [level for level, label in zip(levels, labels, strict=True) if label == name]
        heard = [level for level in mine if level is not None]
        silent = sum(level < 1e-4 for level in heard)
        print(f"{name}: {len(heard)} of {len(mine)} clips carry sound, {silent} of them silent")
    by_source: dict[str, list[bool]] = defaultdict(list)
    for row, level in zip(rows, levels, strict=True):
        if level is not None:
            by_source[row["group"]].append(level < 1e-4)
    shares = [float(np.mean(silent)) for silent in by_source.values()]
    all_silent, none_silent = shares.count(1.0), shares.count(0.0)
    mixed = len(shares) - all_silent - none_silent
    print(f"sources: {all_silent} all silent, {none_silent} never silent, {mixed} mixed")


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    show_sound(root, rows, labels)
    recipe = encoded_once(out / "recipe.npy", lambda: encode_recipe(root, rows))  # 3 minutes
    copies = encoded_once(out / "copies.npy", lambda: encode_copies(root, rows))  # 20 minutes
    look = encoded_once(out / "appearance.npy", lambda: encode_appearance(root, rows))
    own = np.stack([summary(c) for c in recipe])
    copied = np.stack([[summary(c) for c in clip] for clip in copies])
    for k in (0, 1, 2, COPIES):
        for strength in (1e-4, 3e-4, *STRENGTHS):
            shown = described(with_copies(own, copied, labels, splits, k, strength))
            print(f"{k} copies of each training clip, C {strength}: {shown}", flush=True)
    appearance = np.stack([summary(c) for c in look])
    for strength in STRENGTHS:
        alone = described(scored(appearance, labels, splits, strength))
        both = np.hstack([own, appearance])
        fused = described(
            classified(partial(LateFusion, own.shape[1], strength), both, labels, splits)
        )
        print(f"C {strength}: appearance {alone}, late-fused with motion {fused}", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
