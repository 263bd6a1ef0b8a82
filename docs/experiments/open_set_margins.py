"""How far beyond its `--reject auto` threshold a model's clips lie: known clips of new cameras
against clips of a class the model never saw (docs/measurements.md, "Wide clip embeddings").

Each clip's open-set distance over the model's calibrated threshold (1: the threshold; above 1
answers `unknown`), from the same features `vidact evaluate` reads. Two ways in:

    # every fold of a crossval (OUT, or OUT/seed-S of --repeats): its test clips
    python docs/experiments/open_set_margins.py crossval OUT DATA [--groups DATA/groups.csv]
    # one checkpoint on folders of videos (e.g. known test clips, then an unknown class)
    python docs/experiments/open_set_margins.py videos CKPT FOLDER [FOLDER ...]

Prints, per fold or folder: the clips' ratios (median, largest) and how many lie beyond 1, 2,
3, 5 and 10 times the threshold: whether any margin on the threshold keeps known clips of new
cameras while still holding out a class never trained.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from vidact.config import DataConfig
from vidact.data.index import VideoItem, video_files
from vidact.evaluation.report import split_items
from vidact.inference.load import load_predictor
from vidact.inference.predictor import VideoPredictor

MARGINS = (1, 2, 3, 5, 10)


def ratios(predictor: VideoPredictor, items: list[VideoItem]) -> np.ndarray:
    """(N,) each clip's open-set distance over the model's threshold."""
    _, sureness, _ = predictor.score(items)
    return -sureness / predictor.distance  # sureness is the negated distance under auto


def show(name: str, found: np.ndarray) -> None:
    """One line: how far the clips lie, and how many each margin would still reject."""
    beyond = " ".join(f"{(found > m).sum()}" for m in MARGINS)
    print(
        f"{name}: {len(found)} clips, median {np.median(found):.2f}, largest {found.max():.2f}; "
        f"beyond {'/'.join(f'{m}x' for m in MARGINS)}: {beyond}",
        flush=True,
    )


def crossval(out: Path, data: Path, groups: Path) -> None:
    """Each fold's test clips under that fold's model (its features from the crossval's cache)."""
    pooled = []
    for partition in sorted(out.glob("seed-*")) or [out]:
        for fold in sorted((partition / "folds").glob("fold-*")):
            predictor = load_predictor(fold / "run" / "checkpoints" / "best.ckpt", reject="auto")
            predictor.cache_views(out / "cache")  # one cache for every partition of a crossval
            split = DataConfig(
                str(data), split_file=str(fold / "split.csv"), groups_file=str(groups)
            )
            found = ratios(predictor, split_items(split, predictor.classes, "test"))
            pooled.append(found)
            show(f"{partition.name}/{fold.name}", found)
    show("all folds", np.concatenate(pooled))


def videos(checkpoint: Path, folders: list[Path]) -> None:
    """Every video under each folder, under one model."""
    predictor = load_predictor(checkpoint, reject="auto")
    for folder in folders:
        items = [VideoItem(p.resolve(), str(p), 0, "") for p in video_files(folder)]
        show(str(folder), ratios(predictor, items))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    folds = modes.add_parser("crossval")
    folds.add_argument("out", type=Path)
    folds.add_argument("data", type=Path)
    folds.add_argument("--groups", type=Path)
    clips = modes.add_parser("videos")
    clips.add_argument("checkpoint", type=Path)
    clips.add_argument("folders", type=Path, nargs="+")
    args = parser.parse_args()
    if args.mode == "crossval":
        crossval(args.out, args.data, args.groups or args.data / "groups.csv")
    else:
        videos(args.checkpoint, args.folders)


if __name__ == "__main__":
    main()
