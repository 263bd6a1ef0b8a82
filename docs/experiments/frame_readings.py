"""Which of a clip's frame differences `configs/people_rgb.yaml` reads, and how much that alone
moves a fight-dev screen: the recipe's 48 pairs against the 96 differences the experiment
scripts' helper read by accident before session 45 (0.847 on the same screen), their parts,
readings of the same clips drawn at random, and several readings a clip averaged
(docs/measurements.md, "Which frames a screen reads").

Every difference between neighbouring frames, d(i, i+1), and every one over two frames,
d(i, i+2), of each clip goes through Lite0 once (the whole frame padded to 288, amplified as
`MotionEncoder` does, the map averaged over halves: 10 minutes for fight-dev); each reading is
a choice among them, summarised as the `linear` head with `segments: 2` does, half of how
sources differ within a class projected out, classes weighed alike, a logistic regression on
six source-disjoint partitions. Needs scikit-learn.

    python docs/experiments/frame_readings.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from dynamic_images import by_halves
from motion_regions import STRENGTHS, clips  # this folder's scripts (run as a script)
from nuisance import halves_summary, projected, scored, versus
from sklearn.linear_model import LogisticRegression

from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.models.backbones import MotionEncoder
from vidact.progress import progress
from vidact.sampling import READ_AROUND, SAMPLED_ROW, ClipSampling, pair_rows

Reading = Callable[[dict[str, np.ndarray]], np.ndarray]  # a clip's store -> (T, 2560)
SIZE = 288  # the whole frame padded to a square of this side, as the recipe reads scenes


def encode_clip(encoder: MotionEncoder, video: Path) -> dict[str, np.ndarray]:
    """A clip's d(i, i+1) (M-1, 2560), d(i, i+2) (M-2, 2560), the recipe's candidate
    positions (48 * 5,) and the pairs it chooses (96,)."""
    spec = encoder.input_spec(SIZE).fitted("pad")
    sampling = ClipSampling(frames=48, strategy="segment", span=2)
    with VideoReader(video) as reader:
        count = reader.num_frames
        candidates = sampling.as_read(sampling.indices(count, reader.fps)[None], count)[0]
        frames = reader.read(np.arange(count), spec.short_side)
        fps = reader.fps
    images = eval_transform(spec)(frames)

    def features(step: int) -> np.ndarray:
        changes = ((images[step:] - images[:-step]) * encoder.gain).clamp(-1.0, 1.0)
        return np.concatenate(
            [by_halves(encoder.encoder.model, part) for part in changes.split(64)]
        )

    return {
        "d1": features(1),
        "d2": features(2),
        "candidates": candidates,
        "chosen": pair_rows(frames, fps, candidates),
    }


def encoded(root: Path, rows: list[dict[str, str]], out: Path) -> list[dict[str, np.ndarray]]:
    """Each clip's ``encode_clip``, stored in OUT/differences the first time, with its index
    and the features of a still picture (no change: one for every clip)."""
    folder = out / "differences"
    folder.mkdir(exist_ok=True)
    encoder = MotionEncoder().eval()
    with torch.inference_mode():
        for index, row in enumerate(progress(rows, "encoding", unit="clips")):
            stored = folder / f"{index:03d}.npz"
            if not stored.is_file():
                np.savez(stored, **encode_clip(encoder, root / row["path"]))
        still = by_halves(encoder.encoder.model, torch.zeros(1, 3, SIZE, SIZE))[0]
    return [
        dict(np.load(folder / f"{index:03d}.npz"), index=np.array(index), still=still)
        for index in range(len(rows))
    ]


def picture(clip: dict[str, np.ndarray], first: int, second: int) -> np.ndarray:
    """The features of d(first, second), a pair at most two frames apart."""
    step = second - first
    return clip["still"] if step == 0 else clip[f"d{step}"][first].astype(np.float64)


def recipe(clip: dict[str, np.ndarray]) -> np.ndarray:
    """The recipe's 48 pairs (t with t+1, or t+2 past a repeat)."""
    return np.stack([picture(clip, a, b) for a, b in clip["chosen"].reshape(-1, 2)])


def old_helper(clip: dict[str, np.ndarray]) -> np.ndarray:
    """The helper's 96 differences: the 5 candidates of the 48 sampled frames in one list taken
    two by two, the pairs within one sampled frame's five (t-1 and t, t+1 and t+2 of one;
    t and t+1, t+2 and t+3 of the next)."""
    count = len(READ_AROUND)
    rows = clip["candidates"]
    pairs = [(rows[i], rows[i + 1]) for i in range(0, len(rows) - 1, 2)]
    return np.stack(
        [
            picture(clip, a, b)
            for i, (a, b) in enumerate(pairs)
            if i * 2 // count == (i * 2 + 1) // count
        ]
    )


def without_still(reading: Reading) -> Reading:
    """``reading`` less its still pictures (a pair of one frame twice, at the clip's ends)."""

    def read(clip: dict[str, np.ndarray]) -> np.ndarray:
        rows = reading(clip)
        return rows[np.abs(rows - clip["still"]).sum(1) > 0]

    return read


def drawn(seed: int, count: int, replace: bool) -> Reading:
    """``count`` neighbouring differences drawn at random (in time order)."""

    def read(clip: dict[str, np.ndarray]) -> np.ndarray:
        rng = np.random.default_rng([seed, int(clip["index"])])
        total = len(clip["d1"])
        chosen = rng.choice(total, count if replace else min(count, total), replace=replace)
        return clip["d1"][np.sort(chosen)].astype(np.float64)

    return read


def stepped(step: int) -> Reading:
    """Each sampled frame t with t+``step`` (clipped to the clip), whatever repeats."""

    def read(clip: dict[str, np.ndarray]) -> np.ndarray:
        around = clip["candidates"].reshape(-1, len(READ_AROUND))
        return np.stack(
            [picture(clip, a, b) for a, b in around[:, [SAMPLED_ROW, SAMPLED_ROW + step]]]
        )

    return read


READINGS: dict[str, Reading] = {
    "the recipe's 48 pairs": recipe,
    "the old helper's 96": old_helper,
    "the old helper's 96 less still pictures": without_still(old_helper),
    "every neighbouring difference once": lambda clip: clip["d1"].astype(np.float64),
    "neighbouring differences from odd frames (d(1,2), d(3,4), ...)": lambda clip: clip["d1"][
        1::2
    ].astype(np.float64),
    "each sampled frame t and t+1, no repeat rule": stepped(1),
    "each sampled frame t and t+2 (a step of two frames)": stepped(2),
    **{
        f"96 neighbouring differences drawn with replacement, seed {s}": drawn(s, 96, True)
        for s in range(6)
    },
    **{
        f"48 neighbouring differences drawn without, seed {s}": drawn(s, 48, False)
        for s in range(4)
    },
}


def averaged(readings: list[np.ndarray], labels, groups, splits: list, c: float) -> np.ndarray:
    """Pooled top-1 on each partition of one logistic regression fitted on every reading of
    the training clips, each test clip's scores averaged over its readings."""
    count = len(readings)
    accuracy = []
    for folds in splits:
        predicted = np.empty_like(labels)
        for train, test in folds:
            x, y = projected(
                np.vstack([r[train] for r in readings]),
                np.vstack([r[test] for r in readings]),
                np.tile(labels[train], count),
                np.tile(groups[train], count),
                0.5,
            )
            model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced")
            model.fit(x, np.tile(labels[train], count))
            score = model.decision_function(y).reshape(count, -1).mean(0)
            predicted[test] = model.classes_[(score > 0).astype(int)]
        accuracy.append(float((predicted == labels).mean()))
    return np.array(accuracy)


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    groups = np.array([row["group"] for row in rows])
    store = encoded(root, rows, out)
    features = {
        name: np.stack([halves_summary(read(clip)) for clip in store])
        for name, read in READINGS.items()
    }
    base = {}
    for name, summaries in features.items():
        for c in STRENGTHS:
            got = scored(summaries, labels, groups, splits, 0.5, c, weight="balanced")
            print(
                versus(f"{name}, C {c}", got, base.setdefault(c, got), "the recipe's"), flush=True
            )
    width = 2560 * 2  # each half's means, then the spread, then the mean change
    parts = {
        "means": slice(0, width),
        "spread": slice(width, width + 2560),
        "change": slice(width + 2560, None),
    }
    for part, columns in parts.items():
        for name in ("the recipe's 48 pairs", "the old helper's 96"):
            got = scored(
                features[name][:, columns], labels, groups, splits, 0.5, 1e-3, weight="balanced"
            )
            print(
                versus(f"{name}, its {part} alone, C 0.001", got, base[1e-3], "the recipe's"),
                flush=True,
            )
    draws = [f"48 neighbouring differences drawn without, seed {s}" for s in range(4)]
    got = averaged([features[name] for name in draws], labels, groups, splits, 1e-3 / len(draws))
    print(versus("4 drawn readings a clip averaged, C 0.001 / 4", got, base[1e-3], "the recipe's"))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
