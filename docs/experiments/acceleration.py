"""How the motion turns, for `configs/people_rgb.yaml`: Lite0 on each frame's second difference
(the change of the change) beside the recipe's first difference, and single pictures that hold
three neighbouring grey differences in their colour channels (docs/measurements.md, "The change
of the change (session 44)").

Each sampled frame t (48 segment frames) is read with t-1, t+1 and t+2 (plain neighbours: these
sets repeat no frames). Pictures, each amplified as the recipe amplifies its own (gain 2 on the
normalised difference, clipped to Lite0's input range): the first difference I(t+1) - I(t) (the
recipe's), the second difference I(t+1) - 2 I(t) + I(t-1) in colour; the grey differences
d(t-1), d(t), d(t+1) as the red, green and blue of one picture; and grey d(t), its change
d(t) - d(t-1), d(t) again. Lite0's map is averaged over the left and the right half, each clip
summarised as the `linear` head with `segments: 2` does, half of how groups differ within a
class projected out (`nuisance: 0.5`), classes weighed alike, a logistic regression.

The first set is scored on six source-disjoint 5-fold partitions (fight-dev: scenes of several
people, the whole frame padded to 288), each further set leaving one person out in turn (rendered
gesture halves, 3 people each: the square around the person at 224). Needs scikit-learn, and
`pip install -e '.[pose]'` for the person's square.

    python docs/experiments/pose_gestures.py G10 --seed 10 --fps 30 --seconds 6  # and 11
    # G10's people p0-p2 and p3-p5 apart, each half with its groups.csv
    python docs/experiments/acceleration.py OUT ../shared/data/fight-dev HALF [HALF ...]
"""

from __future__ import annotations

import csv
import json
import logging
import sys
from pathlib import Path

import numpy as np
import torch
from dynamic_images import by_halves  # this folder's scripts (run as a script)
from motion_regions import partitions
from nuisance import halves_summary, projected, scored
from sklearn.linear_model import LogisticRegression

from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.models.backbones import MotionEncoder
from vidact.progress import progress
from vidact.sampling import ClipSampling

PICTURES = ("first", "second", "grey d(t-1), d(t), d(t+1)", "grey d(t), its change, d(t)")
GAIN = 2.0  # MotionEncoder's
SCENE_STRENGTHS = (1e-3, 1e-2)
PEOPLE_STRENGTHS = (3e-3, 1e-2, 3e-2)


def pictures(frames: torch.Tensor) -> list[torch.Tensor]:
    """(T * 4, 3, S, S) normalised frames, each sampled frame as t-1, t, t+1, t+2 -> the four
    (T, 3, S, S) ``PICTURES``."""
    f = frames.view(-1, 4, *frames.shape[1:])
    grey = f.mean(2)  # (T, 4, S, S)
    d = (grey[:, 1:] - grey[:, :-1]) * GAIN  # d(t-1), d(t), d(t+1)
    turn = d[:, 1] - d[:, 0]
    return [
        ((f[:, 2] - f[:, 1]) * GAIN).clamp(-1, 1),
        ((f[:, 2] - 2 * f[:, 1] + f[:, 0]) * GAIN).clamp(-1, 1),
        d.clamp(-1, 1),
        torch.stack([d[:, 1], turn, d[:, 1]], 1).clamp(-1, 1),
    ]


def encode(root: Path, fit: str, size: int, stored: Path) -> dict[str, np.ndarray]:
    """The set's four pictures by halves (N, 4, 48, 2560), labels and groups, stored once."""
    if not stored.is_file():
        encoder = MotionEncoder().eval()
        spec = encoder.input_spec(size).fitted(fit)
        sampling = ClipSampling(frames=48, strategy="segment")
        rows = list(csv.DictReader((root / "groups.csv").open()))
        kept = []
        with torch.inference_mode():
            for row in progress(rows, f"encoding {root.name}", unit="clips"):
                with VideoReader(root / row["path"]) as reader:
                    last = reader.num_frames - 1
                    t = np.asarray(sampling.indices(reader.num_frames, reader.fps))
                    read = np.clip(t[:, None] + np.arange(-1, 3), 0, last).reshape(-1)
                    frames = eval_transform(spec)(reader.read(read, short_side=spec.short_side))
                model = encoder.encoder.model
                kept.append(np.stack([by_halves(model, p) for p in pictures(frames)]))
        np.savez(
            stored,
            features=np.stack(kept),
            labels=np.array([row["path"].split("/")[0] for row in rows]),
            groups=np.array([row["group"] for row in rows]),
        )
    return dict(np.load(stored))


def variants(features: np.ndarray) -> dict[str, np.ndarray]:
    """Each clip summarised, per variant: the pictures alone, and the first beside the second."""
    summaries = np.stack(
        [[halves_summary(picture) for picture in clip] for clip in features.astype(np.float32)]
    ).astype(np.float64)
    shown = {name: summaries[:, i] for i, name in enumerate(PICTURES)}
    shown["first and second side by side"] = np.hstack([summaries[:, 0], summaries[:, 1]])
    return shown


def person_out(features: np.ndarray, labels, groups, strength: float) -> int:
    """Clips right when each person is left out in turn (projection and regression as above)."""
    predicted = np.empty_like(labels)
    for person in np.unique(groups):
        test = groups == person
        train_x, test_x = projected(
            features[~test], features[test], labels[~test], groups[~test], 0.5
        )
        model = LogisticRegression(C=strength, max_iter=5000, class_weight="balanced")
        predicted[test] = model.fit(train_x, labels[~test]).predict(test_x)
    return int((predicted == labels).sum())


def main(out: Path, scenes: Path, halves: list[Path]) -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")  # the encoding's progress
    out.mkdir(parents=True, exist_ok=True)
    fight = encode(scenes, "pad", 288, out / f"{scenes.name}.npz")
    labels, groups = fight["labels"], fight["groups"]
    splits = partitions(labels, groups)
    for c in SCENE_STRENGTHS:
        base = None
        for name, features in variants(fight["features"]).items():
            got = scored(features, labels, groups, splits, 0.5, c, weight="balanced")
            base = got if base is None else base
            gains = " ".join(f"{g:+.3f}" for g in got - base)
            print(f"{scenes.name}, C {c}, {name}: {got.mean():.3f} +- {got.std():.3f} ({gains})")
    sets = [encode(half, "person", 224, out / f"{half.name}.npz") for half in halves]
    for c in PEOPLE_STRENGTHS:
        right: dict[str, list[int]] = {}
        for got in sets:
            for name, features in variants(got["features"]).items():
                score = person_out(features, got["labels"], got["groups"], c)
                right.setdefault(name, []).append(score)
        total = sum(len(got["labels"]) for got in sets)
        for name, scores in right.items():
            print(json.dumps({"C": c, "variant": name, "right": scores, "of": total}), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]])
