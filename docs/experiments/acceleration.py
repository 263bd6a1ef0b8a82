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
import sys
from functools import partial
from pathlib import Path

import numpy as np
import torch
from dynamic_images import by_halves  # this folder's scripts (run as a script)
from motion_regions import clips, encoded_once
from nuisance import halves_summary, scored, versus
from sklearn.model_selection import LeaveOneGroupOut

from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.models.backbones import MotionEncoder
from vidact.progress import progress
from vidact.sampling import SAMPLED_ROW, ClipSampling, pair_candidates

PICTURES = ("first", "second", "grey d(t-1), d(t), d(t+1)", "grey d(t), its change, d(t)")
SCENE_STRENGTHS = (1e-3, 1e-2)
PEOPLE_STRENGTHS = (3e-3, 1e-2, 3e-2)


def pictures(encoder: MotionEncoder, frames: torch.Tensor) -> list[torch.Tensor]:
    """(T * 4, 3, S, S) normalised frames, each sampled frame as t-1, t, t+1, t+2 -> the four
    (T, 3, S, S) ``PICTURES``, amplified by the encoder's gain and clipped as its own."""
    f = frames.view(-1, 4, *frames.shape[1:])
    grey = f.mean(2)  # (T, 4, S, S)
    d = (grey[:, 1:] - grey[:, :-1]) * encoder.gain  # d(t-1), d(t), d(t+1)
    turn = d[:, 1] - d[:, 0]
    return [
        encoder.changes(f[:, 1:3].flatten(0, 1)),  # the recipe's: (t, t+1) pairs interleaved
        ((f[:, 2] - 2 * f[:, 1] + f[:, 0]) * encoder.gain).clamp(-1, 1),
        d.clamp(-1, 1),
        torch.stack([d[:, 1], turn, d[:, 1]], 1).clamp(-1, 1),
    ]


def encode(root: Path, rows: list[dict[str, str]], fit: str, size: int) -> np.ndarray:
    """(N, 4, 48, 2560) float16: each clip's four ``PICTURES`` through Lite0 by halves."""
    encoder = MotionEncoder().eval()
    spec = encoder.input_spec(size).fitted(fit)
    sampling = ClipSampling(frames=48, strategy="segment")
    kept = []
    with torch.inference_mode():
        for row in progress(rows, f"encoding {root.name}", unit="clips"):
            with VideoReader(root / row["path"]) as reader:
                t = sampling.indices(reader.num_frames, reader.fps)
                around = pair_candidates(t, reader.num_frames).reshape(len(t), -1)
                read = around[:, SAMPLED_ROW - 1 : SAMPLED_ROW + 3].reshape(-1)  # t-1 to t+2
                frames = eval_transform(spec)(reader.read(read, short_side=spec.short_side))
            model = encoder.encoder.model
            kept.append(np.stack([by_halves(model, p) for p in pictures(encoder, frames)]))
    return np.stack(kept)


def variants(features: np.ndarray) -> dict[str, np.ndarray]:
    """Each clip summarised, per variant: the pictures alone, and the first beside the second."""
    summaries = np.stack(
        [[halves_summary(picture) for picture in clip] for clip in features]
    ).astype(np.float64)
    shown = {name: summaries[:, i] for i, name in enumerate(PICTURES)}
    shown["first and second side by side"] = np.hstack([summaries[:, 0], summaries[:, 1]])
    return shown


def show_scenes(root: Path, out: Path) -> None:
    """Each variant on six source-disjoint partitions, and its change on each against the first."""
    rows, labels, splits = clips(root, out)
    groups = np.array([row["group"] for row in rows])
    features = encoded_once(out / f"{root.name}.npy", lambda: encode(root, rows, "pad", 288))
    base = {}
    for c in SCENE_STRENGTHS:
        for name, summarised in variants(features).items():
            got = scored(summarised, labels, groups, splits, 0.5, c, weight="balanced")
            print(versus(f"{root.name}, C {c}, {name}", got, base.setdefault(c, got), "first"))


def show_people(halves: list[Path], out: Path) -> None:
    """Each variant's clips right over the halves, each person left out in turn."""
    right: dict[tuple[float, str], list[int]] = {}
    total = 0
    for half in halves:
        rows = list(csv.DictReader((half / "groups.csv").open()))
        labels = np.array([row["path"].split("/")[0] for row in rows])
        groups = np.array([row["group"] for row in rows])
        total += len(rows)
        people = [list(LeaveOneGroupOut().split(labels, labels, groups))]
        stored = out / f"{half.name}.npy"
        features = encoded_once(stored, partial(encode, half, rows, "person", 224))
        for name, summarised in variants(features).items():
            for c in PEOPLE_STRENGTHS:
                got = scored(summarised, labels, groups, people, 0.5, c, weight="balanced")
                right.setdefault((c, name), []).append(round(got[0] * len(labels)))
    for (c, name), scores in sorted(right.items(), key=lambda item: item[0][0]):
        print(json.dumps({"C": c, "variant": name, "right": scores, "of": total}))


def main(out: Path, scenes: Path, halves: list[Path]) -> None:
    show_scenes(scenes, out)  # makes OUT, shows the encoding's progress
    show_people(halves, out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]), [Path(p) for p in sys.argv[3:]])
