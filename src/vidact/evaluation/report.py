"""``evaluate(...)``: score a checkpoint on a split and write the report (contract 3).

DIR/metrics.json         top-k, mean class accuracy, loss, per-class and per-category tables,
                         confusion matrix, and any video that could not be read
DIR/predictions.csv      one row per video: path, label, predicted, probability, correct, file,
                         group (its source or person: what an interval over groups draws)
DIR/probabilities.npy    (N, K) probabilities, rows as in predictions.csv, columns as classes
DIR/confusion_matrix.png rows = true class
DIR/per_class.png, DIR/per_category.png

Every video of the split is scored exactly once, in path order: no batch is dropped, nothing is
shuffled. Labels are matched to the checkpoint's classes by name, not by folder order.
"""

from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from vidact.config import DataConfig, check_topk
from vidact.data.categories import categories_for
from vidact.data.datasets import default_workers
from vidact.data.index import (
    SPLITS,
    VideoIndex,
    VideoItem,
    folder_split_file,
    read_class_names,
    read_groups_file,
    scan_folder,
    select_classes,
)
from vidact.data.sources import build_index
from vidact.errors import ConfigError, DatasetError
from vidact.evaluation.metrics import classification_metrics, rejection_metrics
from vidact.inference.predictor import VideoPredictor
from vidact.io.outputs import report_folder
from vidact.io.tables import relative_path, table_rows
from vidact.plots import plot_accuracy_bars, plot_confusion_matrix

log = logging.getLogger(__name__)


def split_items(
    data: DataConfig,
    classes: tuple[str, ...],
    split: str | None = None,
    seed: int = 0,
    run_split: Path | None = None,
) -> list[VideoItem]:
    """The videos of ``split`` (default test), labelled by ``classes``.

    A plain folder without a split file takes the model's own run's split (``run_split``,
    RUN/split.csv) when that lists exactly the folder's videos: the test videos are the ones the
    model never saw. Any other plain folder has no split: every video is scored when no split is
    asked for (with a warning that training videos may be among them), and asking for one is an
    error rather than a silent score on the whole folder.
    """
    if split is not None and split not in SPLITS:
        raise ConfigError(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if data.dataset == "folder" and data.split_file is None:
        index = scan_folder(data.root, data.extensions, data.group_regex, data.groups_file)
        index = select_classes(index, read_class_names(data.classes, data.classes_file))
        given_groups = data.groups_file is not None or data.group_regex is not None
        chosen = _run_split_items(index, run_split, split or "test", given_groups)
        if chosen is None and split is not None:
            held = folder_split_file(data.root)
            raise DatasetError(
                f"--split {split}: {data.root} is a plain folder with no split; pass "
                "--split-file (a run's split is RUN/split.csv"
                + ("" if held is None else f"; the folder holds {held}")
                + "), or leave --split out to score every video"
            )
        if chosen is None:
            chosen = list(index.items)
            log.warning(
                "no split given: scoring all %d videos under %s, any the model trained on included "
                "(pass --split-file RUN/split.csv --split test for a held-out score)",
                len(chosen),
                index.root,
            )
    else:
        index = build_index(data, seed)
        chosen = index.subset(split or "test")
    unknown = sorted(set(index.classes) - set(classes))
    if unknown:
        raise DatasetError(
            f"{index.root}: class(es) the model does not know: {', '.join(unknown[:10])} "
            "(--classes picks the ones it knows)"
        )
    if not chosen:
        raise DatasetError(f"{index.root}: no videos in split {split or 'test'!r}")
    label_of = {name: i for i, name in enumerate(classes)}
    items = [replace(item, label=label_of[index.classes[item.label]]) for item in chosen]
    return sorted(items, key=lambda item: item.relpath)


def run_split_file(checkpoints: Sequence[Path]) -> Path | None:
    """RUN/split.csv beside RUN/checkpoints/*.ckpt: the split the checkpoints were trained on,
    when each has its run's and they all hold the same split (an ensemble's members)."""
    found = [c.parent.parent / "split.csv" for c in checkpoints if c.parent.name == "checkpoints"]
    if len(found) != len(checkpoints) or not all(path.is_file() for path in found):
        return None
    if len(found) > 1 and len({path.read_text() for path in found}) > 1:
        return None  # members trained on different splits
    return found[0]


def warn_refit_on_validation(checkpoints: Sequence[Path], split: str | None) -> None:
    """``--split val`` scores the videos a refit best.ckpt learnt from (RUN/checkpoints keeps
    held_out.ckpt beside it, the model chosen while they were held out): say so."""
    for checkpoint in checkpoints if split == "val" else []:
        held_out = checkpoint.parent / "held_out.ckpt"
        if checkpoint.name == "best.ckpt" and held_out.is_file():
            log.warning(
                "%s was refit on the validation videos too: --split val scores videos it "
                "learnt from (%s is the model chosen while they were held out)",
                checkpoint,
                held_out,
            )


def _run_split_items(
    index: VideoIndex, run_split: Path | None, split: str, given_groups: bool
) -> list[VideoItem] | None:
    """The ``split`` videos of the run's split when it lists exactly the folder's videos (the
    same dataset, wherever it now lies) and holds that split; else None. Unless groups were
    given, each takes its group from the run's groups.csv (the sources or people it kept apart),
    so the top-1 interval is drawn over them."""
    if run_split is None:
        return None
    rows = table_rows(run_split, ("path", "split"), str(run_split), DatasetError)
    split_of = {relative_path(row["path"]): row["split"] for _, row in rows}
    if set(split_of) != {item.relpath for item in index.items}:
        return None
    run_groups = run_split.parent / "groups.csv"
    groups = read_groups_file(run_groups) if not given_groups and run_groups.is_file() else {}
    chosen = [
        replace(item, split=split, group=groups.get(item.relpath, item.group))
        for item in index.items
        if split_of[item.relpath] == split
    ]
    if chosen:
        log.info(
            "scoring the %d %s videos of %s, the split this model was trained with "
            "(--split-file scores another)",
            len(chosen),
            split,
            run_split,
        )
    return chosen or None


def evaluate(
    predictor: VideoPredictor,
    items: list[VideoItem],
    out: str | Path | None = None,
    batch_size: int = 8,
    workers: int | None = None,
    categories: str | Path | None = None,
    topk: Sequence[int] = (1, 5),
    unknown: Sequence[Path] = (),
) -> dict[str, Any]:
    """Score every item once; write the report to ``out`` when given; return the metrics
    (``top1``, ``top5`` and each k of ``topk``), and under ``rejection`` how the predictor's
    unknown threshold treats them and the ``unknown`` videos (classes outside the model).

    A video that cannot be read is reported under ``unreadable`` and left out of the figures.
    """
    check_topk(topk)
    started = time.perf_counter()
    workers = default_workers() if workers is None else workers
    all_scores, all_sureness, unreadable = predictor.score(items, batch_size, workers)
    keep = [i for i, item in enumerate(items) if str(item.path) not in unreadable]
    if not keep:
        raise DatasetError(f"none of the {len(items)} videos could be read")
    scored = [items[i] for i in keep]
    probabilities = all_scores[keep]
    labels = np.array([item.label for item in scored])
    category_map = categories_for(predictor.classes, categories)
    groups = [item.group for item in scored]  # top-1's interval over them
    metrics = classification_metrics(
        probabilities, labels, predictor.classes, sorted({1, 5, *topk}), category_map, groups
    )
    outside, outside_sureness = None, None
    if unknown:
        others = [VideoItem(Path(p), str(p), 0, "unknown") for p in unknown]
        log.info("now the %d videos of classes outside the model (--unknown-dir)", len(others))
        outside, outside_sureness, failed = predictor.score(others, batch_size, workers)
        readable = [str(item.path) not in failed for item in others]
        outside, outside_sureness = outside[readable], outside_sureness[readable]
        unreadable |= failed
    sureness = (all_sureness[keep], outside_sureness)
    rejection = rejection_metrics(probabilities, labels, predictor.reject, outside, sureness)
    metrics["rejection"] = {**rejection, **predictor.rejection}  # the score, its threshold
    seconds = time.perf_counter() - started
    metrics["checkpoint"] = str(predictor.source) if predictor.source else None
    metrics["seconds"] = round(seconds, 3)
    metrics["ms_per_video"] = round(1000 * seconds / len(items), 2)  # decoding included
    metrics["clips_per_video"] = predictor.clips
    metrics["crops_per_clip"] = predictor.crops
    metrics["unreadable"] = sorted(unreadable)
    if unreadable:
        log.warning(
            "%d video(s) could not be read and are left out: %s",
            len(unreadable),
            ", ".join(sorted(unreadable)[:5]),
        )
    if out is not None:
        write_report(Path(out), metrics, scored, probabilities, predictor.classes)
    return metrics


def write_report(
    out: Path,
    metrics: dict[str, Any],
    items: list[VideoItem],
    probabilities: np.ndarray,
    classes: tuple[str, ...],
) -> None:
    report_folder(out)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    np.save(out / "probabilities.npy", probabilities)  # (N, K), rows as in predictions.csv
    with (out / "predictions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "predicted", "probability", "correct", "file", "group"])
        for item, row in zip(items, probabilities, strict=True):
            best = int(row.argmax())
            writer.writerow(
                [
                    item.relpath,
                    classes[item.label],
                    classes[best],
                    f"{row[best]:.6f}",
                    int(best == item.label),
                    str(item.path),
                    item.group,
                ]
            )
    plot_confusion_matrix(
        np.array(metrics["confusion_matrix"]), classes, out / "confusion_matrix.png"
    )
    per_class = {
        name: row["accuracy"] for name, row in metrics["per_class"].items() if row["support"]
    }
    plot_accuracy_bars(per_class, out / "per_class.png", "accuracy per class")
    if "per_category" in metrics:
        per_category = {
            name: row["accuracy"]
            for name, row in metrics["per_category"].items()
            if row["num_videos"]
        }
        plot_accuracy_bars(per_category, out / "per_category.png", "accuracy per category")
    if "per_group" in metrics:
        _plot_groups(metrics["per_group"], out / "per_group.png")
    log.info("report written to %s", out)


GROUPS_SHOWN = 40  # bars in per_group.png: the lowest ones when there are more groups


def _plot_groups(per_group: dict[str, dict[str, float]], path: Path) -> None:
    accuracies = {
        f"{name} ({row['num_videos']:g})": row["accuracy"] for name, row in per_group.items()
    }
    title = "accuracy per group (videos)"
    if len(accuracies) > GROUPS_SHOWN:
        kept = sorted(accuracies, key=accuracies.__getitem__)[:GROUPS_SHOWN]
        accuracies = {name: accuracies[name] for name in kept}
        title += f" (the {GROUPS_SHOWN} lowest of {len(per_group)})"
    plot_accuracy_bars(accuracies, path, title)
