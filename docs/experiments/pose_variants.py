"""Which pose features a linear model should read for arm gestures, person-disjoint.

MediaPipe tracks every frame of each clip of a `pose_gestures.py` set (full resolution, video
mode); each variant picks landmarks and coordinates (torso-normalised as the `pose` encoder
does), samples T frames evenly, and summarises them: flattened (the former recipe's
`linear_sequence`, and the issue's reference: upper body, 16 frames), or each feature's mean
(per half of the clip, or over all of it), spread and mean absolute change (`linear` with
`segments`). A logistic regression (scikit-learn) is scored leaving one person out, at several
strengths (docs/measurements.md, "Pose on rendered arm gestures"). Needs the pose extra and
scikit-learn.

    python docs/experiments/pose_gestures.py SET --seed 0
    python docs/experiments/pose_variants.py SET [SET ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import LeaveOneGroupOut
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vidact.io.reader import VideoReader
from vidact.models.heads import create_head
from vidact.models.pose import ARMS_AND_TORSO, PoseEncoder

ALL, UPPER = tuple(range(33)), tuple(range(25))
VARIANTS = {  # name: (landmarks, coordinates of x y z visibility, frames, summary)
    "all, x y z visibility, 16 frames flattened (the former recipe)": (ALL, 4, 16, "flat"),
    "upper body 0-24, x y, 16 frames flattened (the reference)": (UPPER, 2, 16, "flat"),
    "all, x y z visibility, 32 frames, halves + spread + change": (ALL, 4, 32, 2),
    "upper body 0-24, x y, 32 frames, halves + spread + change": (UPPER, 2, 32, 2),
    "arms and torso 11-24, x y, 16 frames, halves + spread + change": (ARMS_AND_TORSO, 2, 16, 2),
    "arms and torso 11-24, x y, 32 frames, mean + spread + change": (ARMS_AND_TORSO, 2, 32, 1),
    "arms and torso 11-24, x y, 32 frames, halves + spread + change (the recipe)": (
        ARMS_AND_TORSO,
        2,
        32,
        2,
    ),
    "arms and torso 11-24, x y, 48 frames, halves + spread + change": (ARMS_AND_TORSO, 2, 48, 2),
    "arms and torso 11-24, x y z, 32 frames, halves + spread + change": (ARMS_AND_TORSO, 3, 32, 2),
}
STRENGTHS = (0.03, 0.1, 0.3, 1.0)


def tracked(path: Path) -> np.ndarray:
    """(frames, 133) the `pose` encoder's features of every frame, at full resolution."""
    with VideoReader(path) as reader:
        frames = torch.from_numpy(np.asarray(reader.read(range(reader.num_frames))))
    return PoseEncoder()(frames.permute(0, 3, 1, 2).float() / 255).numpy()


def features(poses: np.ndarray, landmarks: tuple, coords: int, frames: int, summary) -> np.ndarray:
    """The chosen landmarks and coordinates (and the flag) of ``frames`` evenly spread frames,
    flattened, or summarised by the shipped `stats` head with ``summary`` segments."""
    positions = np.linspace(0, len(poses) - 1, frames).round().astype(int)
    body = poses[positions, :-1].reshape(frames, -1, 4)[:, list(landmarks), :coords]
    x = np.concatenate([body.reshape(frames, -1), poses[positions, -1:]], axis=1)
    if summary == "flat":
        return x.reshape(-1)
    head = create_head("stats", x.shape[1], segments=summary)
    return head(torch.from_numpy(x)[None])[0].numpy()


def main(sets: list[Path]) -> None:
    for root in sets:
        paths = sorted(root.glob("*/*.mp4"))
        poses = [tracked(p) for p in paths]
        y = np.array([p.parent.name for p in paths])
        person = np.array([p.stem.split("_")[0] for p in paths])
        for name, (landmarks, coords, frames, summary) in VARIANTS.items():
            x = np.stack([features(p, landmarks, coords, frames, summary) for p in poses])
            scores = []
            for strength in STRENGTHS:
                predicted = np.empty_like(y)
                for train, test in LeaveOneGroupOut().split(x, y, person):
                    model = make_pipeline(
                        StandardScaler(), LogisticRegression(C=strength, max_iter=5000)
                    )
                    predicted[test] = model.fit(x[train], y[train]).predict(x[test])
                scores.append(round(float((predicted == y).mean()), 3))
            print(json.dumps({"set": str(root), "variant": name, "top1_by_C": scores}), flush=True)


if __name__ == "__main__":
    main([Path(arg) for arg in sys.argv[1:]])
