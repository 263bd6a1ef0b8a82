"""Variants of the motion features of `configs/people_rgb.yaml`, each scored by a logistic
regression on the folds of a `vidact crossval` run (docs/measurements.md, "Motion variants").

Each clip's 48 evaluation frames (segment sampling, as the recipe reads them) are paired with a
later frame and Lite0 encodes the amplified difference, as `MotionEncoder` does; the variants
change one thing: the gap to the later frame (frames, or a fraction of a second), what part of
the frame Lite0 sees (centre crop, whole frame, squashed, the square where the clip moves
most), pooling (average, average and max), mirrored training copies, the input size (more
pixels for small, distant people), the layer (an inner stage of Lite0), the network (Lite1,
Lite2), optical flow (OpenCV's DIS) in place of the difference, drawn for Lite0 or summarised
by hand, or the frames themselves (appearance, the reference). Each clip is then summarised
(mean, spread, mean change), standardised and fitted at several L2 strengths on each fold's
training clips; the recipe and the variants side by side are also scored on six other
source-disjoint partitions (ROOT/groups.csv), to tell a gain from one partition's luck. Needs
scikit-learn (and OpenCV, which the pose extra installs, for the flow variants).

    python docs/experiments/motion_variants.py crossval/fight-motion ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vidact.io.reader import VideoReader
from vidact.models.backbones import create_image_model
from vidact.sampling import segment_indices


@dataclass(frozen=True)
class Variant:
    """One way to make a clip's motion features; the defaults are the recipe's."""

    gap: int | str = 1  # frames to the later frame, or "15": a 15th of a second
    geometry: str = "crop"  # crop (centre 224 of short side 256), full (short side 224), squash
    zoom: float | None = None  # the square (this share of the short side) that moves most
    pooling: str = "avg"  # avg; avgmax: average and max pooling side by side; halves: left, right
    mirrored: bool = False  # mirrored copies of the training clips join them
    size: int = 224  # the encoder's input size
    backbone: str = "tf_efficientnet_lite0"
    stage: int | None = None  # an inner stage's features (timm's feature index), not the head's
    flow: str | None = None  # optical flow, not the RGB difference: "image" for Lite0, "stats"
    appearance: bool = False  # the frames themselves, not their change (the reference)


VARIANTS = {
    "gap 1 (the recipe)": Variant(),
    "gap 2": Variant(gap=2),
    "gap 3": Variant(gap=3),
    "gap 1/15 s": Variant(gap="15"),
    "gap 1/10 s": Variant(gap="10"),
    "whole frame (short side 224)": Variant(geometry="full"),
    "whole frame squashed to 224 x 224": Variant(geometry="squash"),
    "average and max pooling": Variant(pooling="avgmax"),
    "left and right halves pooled apart": Variant(pooling="halves"),
    "mirrored": Variant(mirrored=True),
    "input 320": Variant(size=320),
    "input 384": Variant(size=384),
    "Lite0 stage 4 (112 channels, 14 x 14)": Variant(stage=3),
    "Lite0 stage 5 (320 channels, 7 x 7)": Variant(stage=4),
    "zoom on motion (half the short side)": Variant(zoom=0.5, geometry="squash"),
    "zoom on motion (a third of the short side)": Variant(zoom=1 / 3, geometry="squash"),
    "Lite1 (240)": Variant(size=240, backbone="tf_efficientnet_lite1"),
    "Lite2 (260)": Variant(size=260, backbone="tf_efficientnet_lite2"),
    "optical flow drawn for Lite0": Variant(flow="image"),
    "optical flow statistics (no CNN)": Variant(flow="stats"),
    "appearance (the frames, not their change)": Variant(appearance=True),
}
SIDE_BY_SIDE = {
    "gap 1 and gap 2 side by side": ("gap 1 (the recipe)", "gap 2"),
    "appearance and motion side by side": (
        "appearance (the frames, not their change)",
        "gap 1 (the recipe)",
    ),
    "the recipe and the zoom on motion side by side": (
        "gap 1 (the recipe)",
        "zoom on motion (half the short side)",
    ),
}
STRENGTHS = (1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1)  # scikit-learn's C


def framed(frames: np.ndarray, geometry: str, size: int = 224) -> torch.Tensor:
    """(N, H, W, 3) uint8 -> (N, 3, h, w) in [-1, 1] as Lite0 reads them."""
    x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
    height, width = x.shape[-2:]
    short = size if geometry == "full" else round(size / 0.875)
    scale = short / min(height, width)
    shape = (size, size) if geometry == "squash" else (round(height * scale), round(width * scale))
    x = F.interpolate(x, shape, mode="bilinear", antialias=True, align_corners=False)
    if geometry == "crop":
        top, left = (shape[0] - size) // 2, (shape[1] - size) // 2
        x = x[..., top : top + size, left : left + size]
    return (x - 0.5) / 0.5


def decoded_side(variant: Variant) -> int:
    """The short side frames are decoded at: the centre crop's, or more for a zoomed view to
    keep the encoder's input size in real pixels."""
    return round(variant.size / (variant.zoom or 0.875))


def moving_square(frames: np.ndarray, positions: np.ndarray, later: np.ndarray, zoom: float):
    """The square of side ``zoom`` x short side where the clip's frames change most (the sum of
    absolute grey differences of its pairs): (top, left, side)."""
    grey = frames.astype(np.float32).mean(-1)
    energy = np.abs(grey[later] - grey[positions]).mean(0)
    side = round(zoom * min(energy.shape))
    summed = np.pad(energy.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    boxes = (
        summed[side:, side:]
        - summed[:-side, side:]
        - summed[side:, :-side]
        + summed[:-side, :-side]
    )
    top, left = np.unravel_index(np.argmax(boxes), boxes.shape)
    return int(top), int(left), side


def flow_image(flow: np.ndarray, scale: float = 4.0) -> np.ndarray:
    """(h, w, 2) flow in pixels -> (3, h, w) in [-1, 1]: x, y and speed, still parts at 0."""
    speed = np.linalg.norm(flow, axis=-1, keepdims=True)
    return np.clip(np.concatenate([flow, speed], -1) / scale, -1, 1).transpose(2, 0, 1)


def flow_statistics(flow: np.ndarray, grid: int = 4) -> np.ndarray:
    """Speed and direction on a grid (mean speed and 8 speed-weighted direction bins per cell)
    and the share of pixels in 12 log-spaced speed bins: a hand-made descriptor of the frame."""
    speed = np.linalg.norm(flow, axis=-1)
    direction = ((np.arctan2(flow[..., 1], flow[..., 0]) + np.pi) / (2 * np.pi) * 8).astype(int) % 8
    height, width = speed.shape
    cells = []
    for row in range(grid):
        for col in range(grid):
            window = np.s_[
                row * height // grid : (row + 1) * height // grid,
                col * width // grid : (col + 1) * width // grid,
            ]
            weights = np.bincount(direction[window].ravel(), speed[window].ravel(), minlength=8)
            cells.append(np.concatenate([[speed[window].mean()], weights / speed[window].size]))
    bins = np.histogram(speed, bins=np.geomspace(0.05, 20, 13))[0] / speed.size
    return np.concatenate([*cells, bins]).astype(np.float32)


def gray(x: torch.Tensor) -> list[np.ndarray]:
    """(N, 3, h, w) in [-1, 1] -> N uint8 grey images for OpenCV's optical flow."""
    images = ((x + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).numpy()
    return [cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY) for image in images]


def motion_features(
    model: torch.nn.Module, frames: np.ndarray, fps: float, variant: Variant
) -> np.ndarray:
    """(48, F) features of one clip's frame differences (or optical flow) under ``variant``."""
    gap = variant.gap
    step = gap if isinstance(gap, int) else max(1, round(fps / int(gap)))
    positions = segment_indices(len(frames), 48, False, np.random.default_rng(0)).astype(int)
    later = np.minimum(positions + step, len(frames) - 1)
    if variant.zoom:
        top, left, side = moving_square(frames, positions, later, variant.zoom)
        frames = frames[:, top : top + side, left : left + side]
    first = framed(frames[positions], variant.geometry, variant.size)
    second = framed(frames[later], variant.geometry, variant.size)
    if variant.flow:
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        flows = [dis.calc(a, b, None) for a, b in zip(gray(first), gray(second), strict=True)]
        if variant.flow == "stats":
            return np.stack([flow_statistics(flow) for flow in flows])
        change = torch.from_numpy(np.stack([flow_image(flow) for flow in flows])).float()
    elif variant.appearance:
        change = first
    else:
        change = ((second - first) * 2).clamp(-1, 1)
    if variant.mirrored:
        change = change.flip(-1)
    with torch.no_grad():
        if variant.stage is None:
            maps = model.forward_features(change)  # (48, C, h, w)
        else:
            maps = model.forward_intermediates(
                change, indices=[variant.stage], intermediates_only=True
            )[0]
    if variant.pooling == "halves":  # the left and the right half of the picture apart
        sides = F.adaptive_avg_pool2d(maps, (1, 2))  # as FrameEncoder's pool "halves"
        return torch.cat([sides[..., 0, 0], sides[..., 0, 1]], dim=1).numpy()
    pooled = [maps.mean((-2, -1))] + ([maps.amax((-2, -1))] if variant.pooling == "avgmax" else [])
    return torch.cat(pooled, dim=1).numpy()


def summary(features: np.ndarray, parts: str = "msc") -> np.ndarray:
    """Each feature's mean (m), spread (s) and mean change (c) over the clip."""
    stats = {
        "m": features.mean(0),
        "s": features.std(0),
        "c": np.abs(np.diff(features, axis=0)).mean(0),
    }
    return np.concatenate([stats[part] for part in parts])


SUMMARIES = {  # variants of the recipe's features: (summary parts, per-frame transform)
    "spread and change only": ("sc", None),
    "mean and change": ("mc", None),
    "mean only": ("m", None),
    "square-rooted": ("msc", lambda x: np.sqrt(np.maximum(x, 0))),
    "logged": ("msc", lambda x: np.log1p(np.maximum(x, 0))),
    "L2-normalised per frame": ("msc", lambda x: x / (np.linalg.norm(x, axis=1, keepdims=True))),
}


def scores(
    folds: list[list[dict]], features: dict, extra: dict | None = None, parts: str = "msc"
) -> list[float]:
    """Pooled top-1 at each L2 strength; ``extra`` (mirrored copies) join the training clips."""
    pooled = []
    for strength in STRENGTHS:
        right = total = 0
        for rows in folds:
            train = [r["path"] for r in rows if r["split"] == "train"]
            test = [r["path"] for r in rows if r["split"] == "test"]
            x = [summary(features[p], parts) for p in train]
            x += [summary(extra[p], parts) for p in train] if extra else []
            y = [p.split("/")[0] for p in train] * (2 if extra else 1)
            model = make_pipeline(StandardScaler(), LogisticRegression(C=strength, max_iter=5000))
            model.fit(np.stack(x), y)
            predicted = model.predict(np.stack([summary(features[p], parts) for p in test]))
            right += sum(a == p.split("/")[0] for a, p in zip(predicted, test, strict=True))
            total += len(test)
        pooled.append(round(right / total, 3))
    return pooled


def other_partitions(
    features: dict, groups: dict, partitions: int = 6, strengths: tuple = (1e-3, 1e-2)
) -> dict:
    """Pooled top-1 over other source-disjoint 5-fold partitions (scikit-learn's
    StratifiedGroupKFold, seeds 0..partitions-1), mean and spread at each L2 strength: how much
    of a figure on one partition is that partition's luck."""
    paths = sorted(features)
    x = np.stack([summary(features[p]) for p in paths])
    y = np.array([p.split("/")[0] for p in paths])
    source = np.array([groups[p] for p in paths])
    found = {}
    for strength in strengths:
        pooled = []
        for seed in range(partitions):
            folds = StratifiedGroupKFold(5, shuffle=True, random_state=seed).split(x, y, source)
            right = 0
            for train, test in folds:
                model = make_pipeline(
                    StandardScaler(), LogisticRegression(C=strength, max_iter=5000)
                )
                right += int((model.fit(x[train], y[train]).predict(x[test]) == y[test]).sum())
            pooled.append(right / len(y))
        found[f"C {strength:g}"] = f"{np.mean(pooled):.3f} +- {np.std(pooled):.3f}"
    return found


def main(crossval: Path, root: Path, out: Path) -> None:
    torch.set_num_threads(2)
    folds = [
        list(csv.DictReader((f / "split.csv").open())) for f in sorted(crossval.glob("folds/*"))
    ]
    videos = sorted({row["path"] for row in folds[0]})
    out.mkdir(parents=True, exist_ok=True)
    results, encoded = {}, {}

    def report(name: str, pooled: list[float]) -> None:
        results[name] = pooled
        print(json.dumps({"variant": name, "pooled_top1_by_C": pooled}), flush=True)

    saved = {name: out / f"{name.replace(' ', '_').replace('/', '-')}.npz" for name in VARIANTS}
    pending = [name for name in VARIANTS if not saved[name].exists()]  # a rerun only scores
    found: dict[str, dict[str, np.ndarray]] = {name: {} for name in pending}
    models = {
        backbone: create_image_model(backbone, True, None, num_classes=0).eval()
        for backbone in {VARIANTS[name].backbone for name in pending}
    }
    for path in videos if pending else []:  # decoded once per input size the variants need
        decoded = {}
        with VideoReader(root / path) as reader:
            for side in {decoded_side(VARIANTS[name]) for name in pending}:
                decoded[side] = reader.read(range(reader.num_frames), short_side=side)
            fps = reader.fps
        for name in pending:
            variant = VARIANTS[name]
            found[name][path] = motion_features(
                models[variant.backbone], decoded[decoded_side(variant)], fps, variant
            )
    for name in pending:
        np.savez(saved[name], **{p.replace("/", "__"): x for p, x in found[name].items()})
    for name, variant in VARIANTS.items():
        with np.load(saved[name]) as stored:
            encoded[name] = {k.replace("__", "/"): stored[k] for k in stored.files}
        if variant.mirrored:  # mirrored copies of the training clips, tested on the plain ones
            report(name, scores(folds, encoded[next(iter(VARIANTS))], encoded[name]))
        else:
            report(name, scores(folds, encoded[name]))
    for name, (first, second) in SIDE_BY_SIDE.items():
        pair = (encoded[first], encoded[second])
        encoded[name] = {p: np.concatenate([pair[0][p], pair[1][p]], axis=1) for p in videos}
        report(name, scores(folds, encoded[name]))
    recipe = encoded["gap 1 (the recipe)"]
    for name, (parts, transform) in SUMMARIES.items():
        changed = {p: transform(x) for p, x in recipe.items()} if transform else recipe
        report(name, scores(folds, changed, parts=parts))
    groups = {row["path"]: row["group"] for row in csv.DictReader((root / "groups.csv").open())}
    for name in ("gap 1 (the recipe)", "appearance (the frames, not their change)", *SIDE_BY_SIDE):
        print(json.dumps({"variant": name, **other_partitions(encoded[name], groups)}), flush=True)
    (out / "motion_variants.json").write_text(json.dumps({"C": STRENGTHS, **results}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
