"""Taking out how cameras differ within a class (nuisance attribute projection) before the
logistic regression of `configs/people_rgb.yaml`'s motion features of fight-dev, on six
source-disjoint partitions (docs/measurements.md, "How cameras differ within a class").

Each clip is read as the recipe reads scenes of several people (48 frame pairs, the whole frame
padded to 288, Lite0's map averaged over the left and the right half), summarised as the
`linear` head does (each feature's mean, spread and mean change; and with the recipe's
`segments: 2`, the mean of each half of the clip instead of one mean; and with `acceleration`
as well, each feature's mean absolute second difference), standardised on the
training clips. Then, from the training clips only: each (source, class) mean less its class
mean, weighted by the square root of its clips; the largest share of their directions (0 to 1
of their rank) is projected out of training and test clips alike, which is what `--head-arg
nuisance=SHARE` does. Needs scikit-learn.

    python docs/experiments/nuisance.py ../shared/data/fight-dev OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from motion_regions import STRENGTHS, change, clips, encoded_once, summary  # this folder's
from other_classifiers import encode as encode_recipe
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.preprocessing import StandardScaler

from vidact.models.heads import LinearProbeHead

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)


def halves_summary(clip: np.ndarray) -> np.ndarray:
    """The `linear` head's summary with `segments: 2`: each half's mean, spread, mean change."""
    halves = [part.mean(0) for part in np.array_split(clip, 2, axis=0)]
    return np.concatenate([*halves, clip.std(0), change(clip)])


def accelerated_summary(clip: np.ndarray) -> np.ndarray:
    """``halves_summary`` and each feature's mean absolute second difference (the `linear`
    head's ``acceleration``; docs/measurements.md, "How fast the motion turns")."""
    return np.concatenate([halves_summary(clip), np.abs(np.diff(clip, n=2, axis=0)).mean(0)])


def projected(train: np.ndarray, test: np.ndarray, labels, groups, share: float):
    """Training and test clips standardised on the training ones, less the top ``share`` of
    the directions in which the training groups differ within a class (the head's own fit)."""
    scaler = StandardScaler().fit(train)
    train, test = scaler.transform(train), scaler.transform(test)
    head = LinearProbeHead(1, nuisance=share)
    codes = np.unique(labels, return_inverse=True)[1]
    head.fit_nuisance(torch.from_numpy(train), torch.from_numpy(codes), list(groups))
    basis = head.nuisance_basis.double().numpy()
    return train - train @ basis.T @ basis, test - test @ basis.T @ basis


def scored(
    features: np.ndarray, labels, groups, splits: list, share: float, c: float, tested=None,
    weight=None, metric=accuracy_score,
):  # fmt: skip
    """Pooled top-1 (or ``metric``) of the logistic regression on each partition: fitted on
    ``features``' training clips, tested on ``tested``'s test clips (the same features unless
    given), with class weights ``weight`` (None, "balanced": docs/experiments/class_weights.py)."""
    tested = features if tested is None else tested
    accuracy = []
    for folds in splits:
        predicted = np.empty_like(labels)
        for train, test in folds:
            x, y = projected(features[train], tested[test], labels[train], groups[train], share)
            model = LogisticRegression(C=c, max_iter=5000, class_weight=weight)
            model.fit(x, labels[train])
            predicted[test] = model.predict(y)
        accuracy.append(float(metric(labels, predicted)))
    return np.array(accuracy)


def versus(label: str, got: np.ndarray, base: np.ndarray, base_name: str) -> str:
    """'LABEL: mean +- spread (per partition against BASE_NAME: gains)', a screen's line."""
    gains = " ".join(f"{g:+.3f}" for g in got - base)
    return (
        f"{label}: {got.mean():.3f} +- {got.std():.3f} (per partition against {base_name}: {gains})"
    )


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    groups = np.array([row["group"] for row in rows])
    recipe = encoded_once(out / "recipe.npy", lambda: encode_recipe(root, rows))  # 5 minutes
    summaries = {
        "one mean": summary,
        "segments: 2": halves_summary,
        "segments: 2, acceleration": accelerated_summary,
    }
    for name, summarise in summaries.items():
        features = np.stack([summarise(clip) for clip in recipe]).astype(np.float64)
        for c in STRENGTHS:
            none = scored(features, labels, groups, splits, 0.0, c)
            for share in SHARES:
                got = none if share == 0 else scored(features, labels, groups, splits, share, c)
                print(versus(f"{name}, C {c}, share {share}", got, none, "none"), flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
