"""Group-disjoint cross-validation: how well a recipe does on people, places and cameras it has
never seen, and how many clips it needs.

The videos' groups (a source, a person: ``--groups groups.csv`` or ``--group-regex``) are dealt
into K folds, stratified by class, whole groups only. Fold k tests on its groups and trains on
the others, with validation carved from those training groups; every video is tested exactly
once, so the pooled figures cover the whole dataset. With ``train_sizes`` each fold also trains
on that share of its training groups (drawn whole), which gives the learning curve. All runs
share one feature cache, so a frozen encoder encodes each video once for training, whichever
folds train on it, and once for its fold's test views, which every train size of the fold reads;
a full-batch fit trains on the frames evaluation reads, and then the two are one encoding
(``training.features.SharedViews``).

OUT/crossval.json   pooled figures, each fold's, their mean and spread, the learning curve
OUT/crossval.csv    one row per run (fold, train size): clips, groups, test figures
OUT/metrics.json    the pooled report in the evaluate contract (and predictions.csv, plots)
OUT/learning_curve.png  pooled accuracy against training clips per class (with train sizes)
OUT/folds/<run>/    each run's split.csv, run directory and test report

Several recipes (``run_recipes``) are each cross-validated on the same folds, in OUT/<recipe>/,
and their ensemble is reported in OUT/ensemble/ the same way: each test video's probabilities
averaged over the recipes, what ``vidact ensemble`` of each fold's models answers.

With few groups the pooled figure depends on which groups happen to share a fold: repeated on
other partitions (``--repeats``, seeds S, S + 1, ...; OUT/seed-S/ each, one feature cache),
``repeat_summary`` gives each recipe's pooled top-1 per partition, their mean and spread, and a
later recipe's difference to the first on each (OUT/repeats.json).
"""

from __future__ import annotations

import csv
import json
import logging
import statistics
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from vidact.config import TrainConfig, default_cache_dir
from vidact.data.categories import categories_for
from vidact.data.index import (
    VideoIndex,
    VideoItem,
    carve_validation,
    deal_groups,
    scan_folder,
    split_by_groups,
)
from vidact.errors import ConfigError, DatasetError
from vidact.evaluation.compare import finished_before
from vidact.evaluation.metrics import (
    LEVEL,
    classification_metrics,
    group_bootstrap,
    paired_difference,
)
from vidact.evaluation.report import evaluate, split_items, write_report
from vidact.inference.ensemble import check_fusion, fuse
from vidact.inference.load import load_predictor
from vidact.io.outputs import report_folder
from vidact.plots import plot_learning_curve
from vidact.training.trainer import train
from vidact.training.validate import check_config, check_in_process

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FoldRun:
    name: str  # fold-1, or fold-1_size-0.5
    fold: int
    size: float  # share of the fold's training groups
    config: TrainConfig
    split: dict[str, str]  # relpath -> train | test (validation is carved by the run)
    train_groups: int
    test_groups: int


def parse_sizes(text: str | None) -> tuple[float, ...]:
    """``"0.25,0.5,1"`` -> (0.25, 0.5, 1.0); each in (0, 1], the whole set always included."""
    if not text:
        return (1.0,)
    try:
        sizes = sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise ConfigError(f"--train-sizes {text!r}: give shares such as 0.25,0.5,1") from None
    if not sizes or not all(0 < size <= 1 for size in sizes):
        raise ConfigError(f"--train-sizes {text!r}: each share must be above 0 and at most 1")
    return (*[s for s in sizes if s < 1], 1.0)


def deal_folds(index: VideoIndex, folds: int, seed: int) -> dict[str, int]:
    """Group -> fold (1..K): whole groups, each fold holding about 1/K of every class."""
    groups = {item.group for item in index.items}
    if not index.groups_known:
        raise DatasetError(
            f"{index.root}: no groups known, so folds could split the clips of one source or "
            "person across training and test; give --groups groups.csv (path,group) or "
            "--group-regex"
        )
    if not 2 <= folds <= len(groups):
        raise ConfigError(f"--folds must be between 2 and the {len(groups)} groups, got {folds}")
    fold_of = deal_groups(index.items, folds, len(index.classes), seed)
    empty = sorted(set(range(1, folds + 1)) - set(fold_of.values()))
    if empty:
        raise DatasetError(
            f"{index.root}: {len(groups)} groups cannot fill {folds} folds (fold(s) "
            f"{', '.join(map(str, empty))} empty); use fewer --folds"
        )
    return fold_of


def plan_crossval(
    base: TrainConfig, folds: int, sizes: tuple[float, ...], out: Path
) -> tuple[VideoIndex, list[FoldRun]]:
    """Every run's split and resolved config, all checked before any is trained."""
    data = base.data
    if data.dataset != "folder":
        raise ConfigError("crossval deals folds over a folder dataset (--data ROOT/<class>/...)")
    if data.split_file is not None:
        raise ConfigError("crossval makes its own splits; leave --split-file out")
    index = scan_folder(data.root, data.extensions, data.group_regex, data.groups_file)
    fold_of = deal_folds(index, folds, base.seed)
    runs = []
    for fold in range(1, folds + 1):
        test = [item for item in index.items if fold_of[item.group] == fold]
        rest = [item for item in index.items if fold_of[item.group] != fold]
        for size in sizes:
            kept = rest if size == 1 else _share(rest, size, len(index.classes), base.seed + fold)
            name = f"fold-{fold}" if len(sizes) == 1 else f"fold-{fold}_size-{size:g}"
            folder = out / "folds" / name
            _check_disjoint(kept, test, name)
            split = _with_validation(index, kept, test, data.val_fraction, base.seed, name)
            fold_data = replace(
                data,
                split_file=str(folder / "split.csv"),
                max_bad_fraction=_fold_limit(data.max_bad_fraction, len(index.items), split),
            )
            config = replace(
                base,
                data=fold_data,
                out=str(folder / "run"),
                overwrite=True,
                cache_dir=base.cache_dir or str(out / "cache"),
            )
            runs.append(
                FoldRun(
                    name,
                    fold,
                    size,
                    config,
                    split,
                    len({i.group for i in kept}),
                    len({i.group for i in test}),
                )
            )
    for run in runs:  # (the split files are written when each run starts)
        check_config(replace(run.config, data=replace(run.config.data, split_file=None)))
        check_in_process(run.config, "crossval")
    return index, runs


def _fold_limit(fraction: float, videos: int, split: dict[str, str]) -> float:
    """A fold's ``--max-bad-fraction``: as many unreadable videos as the whole dataset may
    hold, whichever fold meets them (a fold trains on a part of it, so the dataset's share of
    a few broken clips would stop a fold whose part holds them all)."""
    learnt_from = sum(part != "test" for part in split.values())
    return min(1.0, fraction * videos / max(learnt_from, 1))


def _with_validation(
    index: VideoIndex,
    train: list[VideoItem],
    test: list[VideoItem],
    val_fraction: float,
    seed: int,
    name: str,
) -> dict[str, str]:
    """relpath -> train | val | test: validation carved from the training groups now, so a
    fold whose groups cannot give one is refused before any run starts."""
    items = [replace(i, split="train") for i in train] + [replace(i, split="test") for i in test]
    carved = carve_validation(replace(index, items=tuple(items)), val_fraction, seed).items
    split = {item.relpath: str(item.split) for item in carved}
    if "val" not in split.values():  # every group is larger than the share: the smallest one
        sizes = Counter(item.group for item in train)
        if len(sizes) < 2:
            raise DatasetError(
                f"{name}: its training videos come in one group, none left to validate on; "
                "use fewer --folds or larger --train-sizes"
            )
        smallest = min(sorted(sizes), key=lambda group: sizes[group])
        split.update({item.relpath: "val" for item in train if item.group == smallest})
    return split


def _share(items: list[VideoItem], size: float, classes: int, seed: int) -> list[VideoItem]:
    """About ``size`` of ``items`` per class, whole groups only."""
    dropped = split_by_groups(items, {"drop": 1 - size}, classes, seed)
    kept = [item for item in dropped if item.split != "drop"]
    if not kept:
        raise DatasetError(f"--train-sizes {size:g} leaves no training group; give larger shares")
    return kept


def _check_disjoint(train: list[VideoItem], test: list[VideoItem], name: str) -> None:
    shared = {i.group for i in train} & {i.group for i in test}
    if shared:  # cannot happen with whole groups dealt; a guard, since figures would lie
        raise DatasetError(f"{name}: group(s) on both sides: {', '.join(sorted(shared)[:5])}")


def run_crossval(
    base: TrainConfig,
    folds: int,
    out: str | Path,
    sizes: tuple[float, ...] = (1.0,),
    categories: str | Path | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """Train and test every fold (and train size); write the pooled and per-fold reports."""
    out = Path(out)
    index, runs = plan_crossval(base, folds, sizes, out)
    report_folder(out)  # every fold planned: an interrupted crossval goes on from its runs
    classes = index.classes
    rows: list[dict[str, Any]] = []
    pooled: dict[float, tuple[list[VideoItem], list[np.ndarray]]] = {s: ([], []) for s in sizes}
    unreadable: set[str] = set()  # by any run, in training or test: named once at the end
    for number, run in enumerate(runs, start=1):
        folder = out / "folds" / run.name
        eval_dir = folder / "test"
        counts = Counter(run.split.values())
        log.info(
            "[%d/%d] %s: training on %d videos + %d for validation (%s), testing on %d (%s)",
            number, len(runs), run.name, counts["train"], counts["val"],
            counted_groups(run.train_groups), counts["test"], counted_groups(run.test_groups),
        )  # fmt: skip
        split_file = folder / "split.csv"
        if not _finished(run, folder):
            folder.mkdir(parents=True, exist_ok=True)
            _write_split(split_file, run.split)
            result = train(run.config)
            predictor = load_predictor(
                result.best_checkpoint, encoder_runtime=run.config.encoder_runtime
            )
            predictor.cache_views(run.config.cache_dir or default_cache_dir())
            items = split_items(run.config.data, predictor.classes, "test", run.config.seed)
            evaluate(predictor, items, eval_dir, workers=workers)
        else:
            log.info("[%d/%d] %s: finished before, kept", number, len(runs), run.name)
        metrics = json.loads((eval_dir / "metrics.json").read_text())
        trained = json.loads((folder / "run" / "summary.json").read_text())
        unreadable.update(metrics.get("unreadable", []), trained.get("unreadable_videos", []))
        tested, probabilities = _read_predictions(eval_dir, index, classes)
        pooled[run.size][0].extend(tested)
        pooled[run.size][1].append(probabilities)
        rows.append(_row(run, metrics, trained, len(classes)))
    summary = _pooled_reports(out, index, sizes, pooled, rows, categories)
    summary["folds"], summary["settings"] = folds, base.to_dict()
    summary["unreadable"] = sorted(unreadable)
    _write_summary(out, summary, rows)
    return summary


def _write_json(out: Path, summary: dict[str, Any]) -> None:
    (out / "crossval.json").write_text(json.dumps(summary, indent=2))


def _write_summary(out: Path, summary: dict[str, Any], rows: list[dict[str, Any]]) -> None:
    _write_json(out, summary)
    with (out / "crossval.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def run_recipes(
    recipes: dict[str, TrainConfig],
    folds: int,
    out: str | Path,
    categories: str | Path | None = None,
    workers: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Cross-validate each recipe (name -> config) on the same folds, in OUT/<name>/, then
    report their ensemble in OUT/ensemble/; name -> its summary, ``ensemble`` last. Recipes
    without a cache of their own share OUT/cache: one that reads the frames as another did finds
    them encoded (the cache's namespaces keep other encodings apart)."""
    out = Path(out)
    if len(recipes) < 2:
        raise ConfigError("give two or more recipes to compare")
    if "ensemble" in recipes:
        raise ConfigError("a recipe named 'ensemble' would share OUT/ensemble/; rename its file")
    shared = str(out / "cache")
    recipes = {
        name: replace(base, cache_dir=base.cache_dir or shared) for name, base in recipes.items()
    }
    plans = {name: plan_crossval(base, folds, (1.0,), out / name) for name, base in recipes.items()}
    dealt = [(index.root, [_tested(run) for run in runs]) for index, runs in plans.values()]
    if any(other != dealt[0] for other in dealt[1:]):
        raise ConfigError(
            "the recipes deal other folds (another --seed or other data in a recipe): give "
            "--data and --seed on the command line so they test the same videos"
        )
    report_folder(out)
    summaries = {}
    for number, (name, base) in enumerate(recipes.items(), start=1):
        log.info("recipe %d/%d: %s, in %s", number, len(recipes), name, out / name)
        summaries[name] = run_crossval(base, folds, out / name, (1.0,), categories, workers)
    index, runs = next(iter(plans.values()))
    ensemble = _ensemble_report(summaries, index, runs, out, categories)
    summaries["ensemble"] = ensemble
    _against_first(out, summaries, index)
    return summaries


def repeat_summary(
    partitions: dict[int, dict[str, dict[str, Any]]], folds: int, out: Path
) -> dict[str, Any]:
    """Each recipe's pooled top-1 over the partitions (seed -> recipe name -> its crossval
    summary): per partition, mean and spread, with the learning curve's points likewise, and a
    later recipe's difference to the first on each partition. Written to OUT/repeats.json."""
    seeds = sorted(partitions)
    names = list(partitions[seeds[0]])
    recipes: dict[str, dict[str, Any]] = {}
    for name in names:
        mine = [partitions[seed][name] for seed in seeds]
        entry = _over_partitions("pooled_top1", [summary["pooled_top1"] for summary in mine])
        curves = [summary["learning_curve"] for summary in mine]
        if len(curves[0]) > 1:
            entry["learning_curve"] = [
                {
                    "train_size": point["train_size"],
                    "train_clips_per_class": statistics.mean(
                        curve[number]["train_clips_per_class"] for curve in curves
                    ),
                    **_over_partitions(
                        "pooled_top1", [curve[number]["pooled_top1"] for curve in curves]
                    ),
                }
                for number, point in enumerate(curves[0])
            ]
        if recipes:  # a later recipe, or the ensemble, against the first on each partition
            first = recipes[names[0]]["pooled_top1"]
            differences = [a - b for a, b in zip(entry["pooled_top1"], first, strict=True)]
            entry["versus_first"] = {
                "recipe": names[0],
                **_over_partitions("differences", differences),
                "higher_in": sum(difference > 0 for difference in differences),
                "lower_in": sum(difference < 0 for difference in differences),
            }
        recipes[name] = entry
    summary = {"seeds": seeds, "folds": folds, "recipes": recipes}
    (out / "repeats.json").write_text(json.dumps(summary, indent=2))
    return summary


def _over_partitions(key: str, values: list[float]) -> dict[str, Any]:
    return {
        key: values,
        "mean": statistics.mean(values),
        "sd": statistics.stdev(values) if len(values) > 1 else 0.0,
    }


def _against_first(out: Path, summaries: dict[str, dict[str, Any]], index: VideoIndex) -> None:
    """Each later recipe's and the ensemble's pooled top-1 less the first recipe's, with the
    interval of that difference over groups drawn alike for both (a paired cluster bootstrap):
    whether a gain is more than the luck of which groups there are. Into each ``versus_first``
    and its crossval.json."""
    names = list(summaries)
    read = [_read_predictions(out / name, index, index.classes) for name in names]
    items = read[0][0]
    labels = np.array([item.label for item in items])
    if any(other != items for other, _ in read[1:]):
        raise DatasetError(f"{out}: the recipes tested other videos; run again")
    correct = np.stack([probabilities.argmax(axis=1) == labels for _, probabilities in read])
    draws = group_bootstrap(correct, [item.group for item in items])
    first = summaries[names[0]]
    for number, name in enumerate(names[1:], start=1):
        summaries[name]["versus_first"] = {
            "recipe": names[0],
            **paired_difference(
                summaries[name]["pooled_top1"], first["pooled_top1"], draws[number], draws[0]
            ),
            "level": LEVEL,
        }
        _write_json(out / name, summaries[name])


def _tested(run: FoldRun) -> list[str]:
    return sorted(path for path, split in run.split.items() if split == "test")


def _ensemble_report(
    summaries: dict[str, dict[str, Any]],
    index: VideoIndex,
    runs: list[FoldRun],
    out: Path,
    categories: str | Path | None,
) -> dict[str, Any]:
    """The recipes' test probabilities averaged per video, reported as one crossval."""
    names, classes, rows = list(summaries), index.classes, []
    weights = check_fusion(len(names), None, "probs")  # vidact ensemble's defaults
    # what the first recipe's runs learnt from (the recipes share the folds)
    learnt = {row["run"]: row for row in summaries[names[0]]["per_fold"]}
    pooled: dict[float, tuple[list[VideoItem], list[np.ndarray]]] = {1.0: ([], [])}
    for run in runs:
        read = [
            _read_predictions(out / n / "folds" / run.name / "test", index, classes) for n in names
        ]
        tested = read[0][0]
        if any(other != tested for other, _ in read[1:]):
            raise DatasetError(f"{run.name}: the recipes tested other videos; run again")
        probabilities = fuse([p for _, p in read], weights, "probs")
        labels = np.array([item.label for item in tested])
        metrics = classification_metrics(probabilities, labels, classes, [1])
        rows.append(  # the fold as the first recipe learnt it, tested as the ensemble
            {
                **learnt[run.name],
                "test_videos": metrics["num_videos"],
                "test_top1": metrics["top1"],
                "test_mean_class_accuracy": metrics["mean_class_accuracy"],
                "test_loss": metrics["loss"],
                "test_known_rejected": None,  # an ensemble has no calibration of its own
            }
        )
        pooled[1.0][0].extend(tested)
        pooled[1.0][1].append(probabilities)
    target = report_folder(out / "ensemble")
    summary = _pooled_reports(target, index, (1.0,), pooled, rows, categories)
    summary["recipes"], summary["folds"] = names, len(runs)
    _write_summary(target, summary, rows)
    return summary


def counted_groups(count: int) -> str:
    """'1 group', '4 groups': a fold of one source reads as one."""
    return f"{count} group{'' if count == 1 else 's'}"


def _finished(run: FoldRun, folder: Path) -> bool:
    """The same run (split and settings) trained and tested before: kept, not repeated."""
    split_file = folder / "split.csv"
    if not split_file.is_file():
        return False
    with split_file.open(newline="") as handle:
        split = {row["path"]: row["split"] for row in csv.DictReader(handle)}
    return split == run.split and finished_before(folder / "run", folder / "test", run.config)


def _write_split(path: Path, split: dict[str, str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["path", "split"])
        writer.writerows(sorted(split.items()))


def _read_predictions(
    eval_dir: Path, index: VideoIndex, classes: tuple[str, ...]
) -> tuple[list[VideoItem], np.ndarray]:
    """The fold's tested videos and their (N, K) probabilities, from its predictions.csv and
    probabilities.npy."""
    by_path = {item.relpath: item for item in index.items}
    with (eval_dir / "predictions.csv").open(newline="") as handle:
        tested = [by_path[row["path"]] for row in csv.DictReader(handle)]
    probabilities = np.load(eval_dir / "probabilities.npy")
    if probabilities.shape != (len(tested), len(classes)):
        raise DatasetError(f"{eval_dir}: its probabilities do not match its predictions.csv")
    return tested, probabilities


def _row(
    run: FoldRun, metrics: dict[str, Any], summary: dict[str, Any], classes: int
) -> dict[str, Any]:
    """The run's row of crossval.csv, from its test ``metrics`` and its training ``summary``."""
    split = summary.get("num_videos", {})
    # a refit model (recipe ``refit: true``) learnt from validation's videos as well
    fitted = (summary.get("refit") or {}).get("videos", split.get("train"))
    compared = summary.get("candidates")  # a recipe with candidates: the one the fold kept
    rejection = metrics.get("rejection", {})
    return {
        "run": run.name,
        "fold": run.fold,
        "train_size": run.size,
        "train_groups": run.train_groups,
        "test_groups": run.test_groups,
        "train_videos": fitted,
        "val_videos": split.get("val"),
        "refit": bool(summary.get("refit")),
        "kept": compared["candidates"][compared["kept"] - 1]["shown"] if compared else None,
        "train_clips_per_class": round((fitted or 0) / classes, 2),
        "test_videos": metrics["num_videos"],
        "test_top1": metrics["top1"],
        "test_mean_class_accuracy": metrics["mean_class_accuracy"],
        "test_loss": metrics["loss"],
        # share of the (known) test videos the model answers unknown, as predict would; None
        # for a model that never rejects
        "test_known_rejected": None
        if rejection.get("threshold") is None
        else rejection.get("known_rejected"),
    }


def _pooled_reports(
    out: Path,
    index: VideoIndex,
    sizes: tuple[float, ...],
    pooled: dict[float, tuple[list[VideoItem], list[np.ndarray]]],
    rows: list[dict[str, Any]],
    categories: str | Path | None,
) -> dict[str, Any]:
    """The whole-set report (every video tested once, at the full train size) and the curve."""
    classes = index.classes
    category_map = categories_for(classes, categories)
    curve = []
    summary: dict[str, Any] = {}
    for size in sizes:
        items, parts = pooled[size]
        probabilities = np.concatenate(parts)
        labels = np.array([item.label for item in items])
        groups = [item.group for item in items]  # where it could lie on other groups
        metrics = classification_metrics(
            probabilities, labels, classes, [1, 5], category_map, groups
        )
        mine = [row for row in rows if row["train_size"] == size]
        tops = [row["test_top1"] for row in mine]
        rejected = [row["test_known_rejected"] for row in mine]
        figures = {
            "train_size": size,
            "pooled_top1": metrics["top1"],
            "pooled_top1_interval": metrics["top1_interval"],
            "pooled_mean_class_accuracy": metrics["mean_class_accuracy"],
            "fold_top1_mean": statistics.mean(tops),
            "fold_top1_sd": statistics.stdev(tops) if len(tops) > 1 else 0.0,
            "train_clips_per_class": statistics.mean(r["train_clips_per_class"] for r in mine),
            "num_videos": metrics["num_videos"],
            # new sources lie farther than validation's: how often a known video is refused
            "pooled_known_rejected": None
            if None in rejected
            else sum(r * row["test_videos"] for r, row in zip(rejected, mine, strict=True))
            / sum(row["test_videos"] for row in mine),
        }
        curve.append(figures)
        if size == 1.0:
            metrics["crossval"] = {"folds": len(mine), "fold_top1": tops}
            order = sorted(range(len(items)), key=lambda i: items[i].relpath)
            write_report(out, metrics, [items[i] for i in order], probabilities[order], classes)
            summary.update(figures)
            summary["per_fold"] = mine
            summary["per_group"] = metrics.get("per_group")
    if len(sizes) > 1:
        plot_learning_curve(curve, out / "learning_curve.png")
    summary["learning_curve"] = curve
    summary["num_groups"] = len({item.group for item in index.items})
    return summary
