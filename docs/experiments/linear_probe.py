"""A logistic regression on the frame features a `vidact crossval` run cached, on its own folds.

The reference the heads are measured against (README, "Motion features are better than the heads
trained on them"): each clip is the mean and spread of its features over ``--frames`` evenly
spread cached frames, standardised, and scikit-learn's LogisticRegression is fitted to
convergence on each fold's training videos (validation left out) and tested on its test videos.
Needs scikit-learn (``pip install scikit-learn``; not a vidact dependency).

    python docs/experiments/linear_probe.py crossval/fight-motion --backbone motion
"""

from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path

import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def cached_features(cache: Path, backbone: str) -> dict[str, np.ndarray]:
    """Video path -> (N, F) features of every cached entry of ``backbone`` (evaluation view)."""
    found: dict[str, np.ndarray] = {}
    for settings in (cache / "features").glob("*/settings.json"):
        meta = json.loads(settings.read_text())
        if meta["backbone"] != backbone or "view" in meta:
            continue
        for entry in settings.parent.glob("*.json"):
            if entry.name != "settings.json":
                video = json.loads(entry.read_text())["video"]
                found[video] = np.load(entry.with_suffix(".npy")).astype(np.float32)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("crossval", type=Path, help="a `vidact crossval --out` folder")
    parser.add_argument("--backbone", required=True, help="the member encoder, e.g. motion")
    parser.add_argument("--cache-dir", type=Path, help="default: CROSSVAL/cache")
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--C", type=float, default=0.1, help="inverse L2 strength")
    args = parser.parse_args()
    features = cached_features(args.cache_dir or args.crossval / "cache", args.backbone)
    right = total = 0
    per_fold = []
    for fold in sorted((args.crossval / "folds").glob("fold-*")):
        rows = list(csv.DictReader((fold / "split.csv").open()))
        data_root = Path(yaml.safe_load((fold / "run" / "config.yaml").read_text())["data"]["root"])
        classes = json.loads((fold / "run" / "summary.json").read_text())["classes"]
        sets = {}
        for split in ("train", "test"):
            chosen = [row["path"] for row in rows if row["split"] == split]
            summaries = []
            for path in chosen:
                x = features[str((data_root / path).resolve())]
                x = x[np.linspace(0, len(x) - 1, min(args.frames, len(x))).round().astype(int)]
                summaries.append(np.concatenate([x.mean(0), x.std(0)]))
            labels = [classes.index(path.split("/")[0]) for path in chosen]
            sets[split] = (np.stack(summaries), np.array(labels))
        model = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=5000))
        model.fit(*sets["train"])
        hits = int((model.predict(sets["test"][0]) == sets["test"][1]).sum())
        right, total = right + hits, total + len(sets["test"][1])
        per_fold.append(round(hits / len(sets["test"][1]), 3))
    print(json.dumps({"pooled_top1": round(right / total, 3), "per_fold": per_fold}))


if __name__ == "__main__":
    main()
