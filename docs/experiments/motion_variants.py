"""Variants of the motion features of `configs/people_rgb.yaml`, each scored by a logistic
regression on the folds of a `vidact crossval` run (docs/measurements.md, "Motion variants").

Each clip's 48 evaluation frames (segment sampling, as the recipe reads them) are paired with a
later frame and Lite0 encodes the amplified difference, as `MotionEncoder` does; the variants
change one thing: the gap to the later frame (frames, or a fraction of a second), what part of
the frame Lite0 sees (centre crop, whole frame, squashed), pooling (average, average and max),
mirrored training copies, the input size (more pixels for small, distant people). Each clip
is then summarised (mean, spread, mean change), standardised and fitted at several L2 strengths
on each fold's training clips. Needs scikit-learn.

    python docs/experiments/motion_variants.py crossval/fight-motion ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vidact.io.reader import VideoReader
from vidact.models.backbones import create_image_model
from vidact.sampling import segment_indices

VARIANTS = {  # name: (gap, geometry, pooling, mirrored, input size)
    "gap 1 (the recipe)": (1, "crop", "avg", False, 224),
    "gap 2": (2, "crop", "avg", False, 224),
    "gap 3": (3, "crop", "avg", False, 224),
    "gap 1/15 s": ("15", "crop", "avg", False, 224),
    "gap 1/10 s": ("10", "crop", "avg", False, 224),
    "whole frame (short side 224)": (1, "full", "avg", False, 224),
    "whole frame squashed to 224 x 224": (1, "squash", "avg", False, 224),
    "average and max pooling": (1, "crop", "avgmax", False, 224),
    "mirrored": (1, "crop", "avg", True, 224),
    "input 320": (1, "crop", "avg", False, 320),
    "input 384": (1, "crop", "avg", False, 384),
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


def motion_features(
    model: torch.nn.Module, frames: np.ndarray, fps: float, variant: tuple
) -> np.ndarray:
    """(48, F) features of one clip's frame differences under ``variant``."""
    gap, geometry, pooling, mirrored, size = variant
    step = gap if isinstance(gap, int) else max(1, round(fps / int(gap)))
    positions = segment_indices(len(frames), 48, False, np.random.default_rng(0)).astype(int)
    later = np.minimum(positions + step, len(frames) - 1)
    change = framed(frames[later], geometry, size) - framed(frames[positions], geometry, size)
    change = (change * 2).clamp(-1, 1)
    if mirrored:
        change = change.flip(-1)
    with torch.no_grad():
        maps = model.forward_features(change)  # (48, C, h, w)
    pooled = [maps.mean((-2, -1))] + ([maps.amax((-2, -1))] if pooling == "avgmax" else [])
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


def main(crossval: Path, root: Path, out: Path) -> None:
    torch.set_num_threads(2)
    folds = [
        list(csv.DictReader((f / "split.csv").open())) for f in sorted(crossval.glob("folds/*"))
    ]
    videos = sorted({row["path"] for row in folds[0]})
    model = create_image_model("tf_efficientnet_lite0", True, None, num_classes=0).eval()
    out.mkdir(parents=True, exist_ok=True)
    results, encoded = {}, {}

    def report(name: str, pooled: list[float]) -> None:
        results[name] = pooled
        print(json.dumps({"variant": name, "pooled_top1_by_C": pooled}), flush=True)

    saved = {name: out / f"{name.replace(' ', '_').replace('/', '-')}.npz" for name in VARIANTS}
    pending = [name for name in VARIANTS if not saved[name].exists()]  # a rerun only scores
    found: dict[str, dict[str, np.ndarray]] = {name: {} for name in pending}
    for path in videos if pending else []:  # decoded once per input size the variants need
        decoded = {}
        with VideoReader(root / path) as reader:
            for size in {VARIANTS[name][4] for name in pending}:
                side = round(size / 0.875)  # the centre crop's short side
                decoded[size] = reader.read(range(reader.num_frames), short_side=side)
            fps = reader.fps
        for name in pending:
            variant = VARIANTS[name]
            found[name][path] = motion_features(model, decoded[variant[4]], fps, variant)
    for name in pending:
        np.savez(saved[name], **{p.replace("/", "__"): x for p, x in found[name].items()})
    for name, variant in VARIANTS.items():
        with np.load(saved[name]) as stored:
            encoded[name] = {k.replace("__", "/"): stored[k] for k in stored.files}
        if variant[3]:  # mirrored copies of the training clips, tested on the plain ones
            report(name, scores(folds, encoded[next(iter(VARIANTS))], encoded[name]))
        else:
            report(name, scores(folds, encoded[name]))
    recipe, second = encoded["gap 1 (the recipe)"], encoded["gap 2"]
    both = {p: np.concatenate([recipe[p], second[p]], axis=1) for p in videos}
    report("gap 1 and gap 2 side by side", scores(folds, both))
    for name, (parts, transform) in SUMMARIES.items():
        changed = {p: transform(x) for p, x in recipe.items()} if transform else recipe
        report(name, scores(folds, changed, parts=parts))
    (out / "motion_variants.json").write_text(json.dumps({"C": STRENGTHS, **results}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]))
