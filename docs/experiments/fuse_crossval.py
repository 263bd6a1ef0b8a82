"""`vidact crossval` runs of several recipes on the same folds, fused clip by clip.

What `vidact ensemble` of each fold's models answers with its defaults (probabilities averaged,
equal weights, unless ``--weights``): the measurement behind the README's advice to ensemble
`people_pose.yaml` and `people_rgb.yaml` for gestures. Each run's predictions.csv (path, label)
and probabilities.npy (rows in that order, columns in metrics.json's ``classes``) are read; the
runs must have dealt the same folds (the same data, groups and ``--seed``; their fold split files
are compared). Prints each run's pooled top-1 and the fusion's, as one JSON line.

    python docs/experiments/fuse_crossval.py crossval/gestures-pose crossval/gestures-rgb
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import numpy as np


def read_run(run: Path) -> tuple[list[str], list[str], np.ndarray]:
    """(paths, labels, probabilities with columns in sorted class order) of one crossval."""
    with (run / "predictions.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    classes = json.loads((run / "metrics.json").read_text())["classes"]
    probabilities = np.load(run / "probabilities.npy")
    order = np.argsort(classes)  # runs may list their classes in other orders
    return [r["path"] for r in rows], [r["label"] for r in rows], probabilities[:, order]


def same_folds(runs: list[Path]) -> bool:
    """True when every run holds the same fold split files as the first."""
    first = sorted(p.relative_to(runs[0]) for p in runs[0].glob("folds/*/split.csv"))
    return bool(first) and all(
        sorted(p.relative_to(run) for p in run.glob("folds/*/split.csv")) == first
        and all((run / f).read_bytes() == (runs[0] / f).read_bytes() for f in first)
        for run in runs[1:]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="crossval output folders (OUT)")
    parser.add_argument("--weights", help="one weight per run, e.g. 2,1 (default: equal)")
    args = parser.parse_args()
    if len(args.runs) < 2:
        sys.exit("give two or more crossval folders")
    if not same_folds(args.runs):
        sys.exit("the runs dealt other folds (other data, groups or --seed): nothing to fuse")
    weights = (
        [float(w) for w in args.weights.split(",")] if args.weights else [1.0] * len(args.runs)
    )
    if len(weights) != len(args.runs) or min(weights) <= 0:
        sys.exit("--weights: one weight above 0 per run")
    read = [read_run(run) for run in args.runs]
    paths, labels, _ = read[0]
    if any(r[0] != paths for r in read[1:]):
        sys.exit("the runs list other videos or another order: nothing to fuse")
    classes = sorted(set(labels))
    truth = np.array([classes.index(label) for label in labels])
    fused = sum(w * r[2] for w, r in zip(weights, read, strict=True)) / sum(weights)
    result = {
        str(run): round(float((r[2].argmax(1) == truth).mean()), 4)
        for run, r in zip(args.runs, read, strict=True)
    }
    result["fused"] = round(float((fused.argmax(1) == truth).mean()), 4)
    result["weights"] = weights
    print(json.dumps(result))


if __name__ == "__main__":
    main()
