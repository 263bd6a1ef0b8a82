"""The joined-clips timelines if a window were sure by its Mahalanobis distance to the training
classes (``open_set_scores.py``) instead of its top probability: what switching the rejection
score would do to the case whose misses are known clips rejected.

    python docs/experiments/joined_clips.py CKPT data/s102 OUT data/s102/split.csv 4
    python docs/experiments/open_set_timelines.py CKPT data/s7 OUT

The threshold accepts 95% of the training run's validation videos (as training calibrates the
top probability); windows and decoding are the defaults of `vidact predict --window 24 --stride
6`. Prints each video's segments and how many meet each of the four points.
"""

from __future__ import annotations

import sys
from itertools import pairwise
from pathlib import Path

import numpy as np
import torch
from joined_clips import PAIRS, described, four_points, shown
from open_set_scores import mahalanobis, outputs, videos

from vidact.inference.predictor import Predictor
from vidact.inference.timeline import TimelineSettings, smooth, window_bounds


def main(checkpoint: str, train_root: Path, joined: Path) -> None:
    predictor = Predictor.from_checkpoint(checkpoint, device="cpu")
    classes = list(predictor.classes)
    train = videos(train_root, classes, "train", True)
    labels = torch.tensor([item.label for item in train])
    distance = mahalanobis(outputs(predictor, train)[1], labels, len(classes))
    validation = outputs(predictor, videos(train_root, classes, "val", True))[1]
    threshold = np.quantile(distance(validation), 0.95)
    embeddings: list[torch.Tensor] = []
    predictor.model.head.register_forward_hook(
        lambda module, inputs, output: embeddings.append(output.detach().double().cpu())
    )
    settings = TimelineSettings("24", "6")
    met, all_four = np.zeros(4, int), 0
    for first, second in PAIRS:
        for video in sorted(joined.glob(f"joined_{first}_{second}_*.mp4")):
            embeddings.clear()
            scan = predictor.scan(video, settings)
            sure = distance(torch.cat(embeddings)) <= threshold
            # the tracker abstains below 0.5: sure windows vote their top label, others abstain
            count = len(classes)
            flags = np.where(sure[:, None], np.eye(count)[scan.scores.argmax(1)], 1 / count)
            shots = np.array([w.shot for w in scan.windows])
            ends = [0, *(np.flatnonzero(np.diff(shots)) + 1), len(shots)]
            votes = np.concatenate(
                [smooth(scan.scores[a:b], 3, "mean", sure[a:b]) for a, b in pairwise(ends)]
            )
            bounds = window_bounds(scan.windows, scan.fps, scan.num_frames)
            window = max(w.length for w in scan.windows) / scan.fps
            parts = settings.tracker(classes, 0.5, window).track(bounds, flags, votes)
            points = four_points(parts, first, second, scan.num_frames / scan.fps / 2)
            met += points
            all_four += all(points)
            unsure = f"{int((~sure).sum())} of {len(sure)} windows unsure"
            print(f"{video.name}: {unsure}; {shown(parts)}")
    print(f"{described(met)}; all four {all_four}")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))
