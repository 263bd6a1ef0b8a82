"""How often `motion`'s repeat rule (`vidact.sampling.pair_rows`) pairs a sampled frame with the
one after next on footage, and what the neighbouring frames it may take for repeats hold
(docs/measurements.md, "The repeat rule on rendered gestures").

For each folder (class folders and a groups.csv): per class, how many of each clip's 48 pairs
(`configs/people_rgb.yaml`'s segment sampling) go past a frame taken for a repeat; and, of every
two neighbouring frames no further apart than the rule's `DISTINCT` (a mean absolute difference
on every 4th pixel of every 4th row), the share of those pixels whose largest colour change
exceeds 24 grey levels: none in a true repeat, a few where a small thing moves.

    python docs/experiments/repeat_rule.py HALF ../shared/data/fight-dev
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from vidact.io.reader import VideoReader
from vidact.sampling import DISTINCT, ClipSampling, pair_rows

LOCAL = 24  # grey levels: a pixel that changed this much moved, whatever the frame's mean


def clip_figures(video: Path, sampling: ClipSampling) -> tuple[int, np.ndarray]:
    """Pairs of the clip going past a repeat, and for its neighbouring frames within
    ``DISTINCT`` the share of sampled pixels changed by more than ``LOCAL``."""
    with VideoReader(video) as reader:  # every frame, decoded once
        count = reader.num_frames
        candidates = sampling.as_read(sampling.indices(count, reader.fps), count)
        frames = reader.read(np.arange(count), None)
        fps = reader.fps
    read = pair_rows(frames, fps, candidates)  # rows of every frame are their positions
    past = int((read[1::2] - read[0::2] == 2).sum())
    small = frames[:, ::4, ::4].astype(np.int16)
    change = np.abs(np.diff(small, axis=0))
    near = change.mean(axis=(1, 2, 3)) <= DISTINCT
    return past, (change[near].max(axis=3) > LOCAL).mean(axis=(1, 2))


def main(folders: list[Path]) -> None:
    sampling = ClipSampling(frames=48, strategy="segment", span=2)
    for root in folders:
        past: dict[str, list[int]] = defaultdict(list)
        shares = []
        for row in csv.DictReader((root / "groups.csv").open()):
            count, share = clip_figures(root / row["path"], sampling)
            past[row["path"].split("/")[0]].append(count)
            shares.append(share)
        near = np.concatenate(shares)
        for label, counts in sorted(past.items()):
            print(f"{root.name} {label}: pairs past a repeat a clip {min(counts)}-{max(counts)}, "
                  f"mean {np.mean(counts):.1f} of 48")  # fmt: skip
        quantiles = " / ".join(f"{q:.4f}" for q in np.quantile(near, [0.5, 0.9, 0.99, 1.0]))
        print(
            f"{root.name}: {len(near)} neighbouring frames within {DISTINCT:g} grey levels; share "
            f"of pixels changed by more than {LOCAL}: median / 90% / 99% / largest {quantiles}; "
            f"none in {np.mean(near == 0):.0%} of them"
        )


if __name__ == "__main__":
    main([Path(folder) for folder in sys.argv[1:]])
