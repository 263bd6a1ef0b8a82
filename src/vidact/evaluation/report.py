"""``evaluate(...)``: score a checkpoint on a split and write the report (contract 3).

DIR/metrics.json         top-k, mean class accuracy, loss, per-class table, confusion matrix
DIR/predictions.csv      one row per video: path, label, predicted, probability, correct
DIR/confusion_matrix.png rows = true class

Every video of the split is scored exactly once, in path order: no batch is dropped, nothing is
shuffled. Labels are matched to the checkpoint's classes by name, not by folder order.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from vidact.data.datamodule import default_workers
from vidact.data.datasets import ClipDataset
from vidact.data.index import (
    DEFAULT_EXTENSIONS,
    DatasetError,
    VideoItem,
    read_split_file,
    scan_folder,
)
from vidact.evaluation.metrics import classification_metrics
from vidact.inference.predictor import Predictor
from vidact.plots import plot_confusion_matrix

log = logging.getLogger(__name__)


def split_items(
    root: str | Path,
    classes: tuple[str, ...],
    split_file: str | Path | None = None,
    split: str = "test",
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS,
) -> list[VideoItem]:
    """The videos of ``split`` (all videos without a split file), labelled by ``classes``."""
    index = scan_folder(root, extensions)
    if split_file is not None:
        index = read_split_file(index, split_file)
    unknown = sorted(set(index.classes) - set(classes))
    if unknown:
        raise DatasetError(
            f"{index.root}: class folder(s) the model does not know: {', '.join(unknown[:10])}"
        )
    label_of = {name: i for i, name in enumerate(classes)}
    items = [
        replace(item, label=label_of[index.classes[item.label]])
        for item in index.items
        if split_file is None or item.split == split
    ]
    if not items:
        raise DatasetError(f"{index.root}: no videos in split {split!r} of {split_file}")
    return sorted(items, key=lambda item: item.relpath)


def evaluate(
    predictor: Predictor,
    items: list[VideoItem],
    out: str | Path | None = None,
    batch_size: int = 8,
    workers: int | None = None,
) -> dict[str, Any]:
    """Score every item once; write the report to ``out`` when given; return the metrics."""
    info = predictor.info
    dataset = ClipDataset(
        items, info.frames, predictor.transform, info.input.short_side, info.strategy
    )
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=False,
        num_workers=default_workers() if workers is None else workers,
        pin_memory=predictor.device.type == "cuda",
    )
    scores = [predictor.probabilities(clips) for clips, _ in loader]
    probabilities = torch.cat(scores).double().numpy()
    labels = np.array([item.label for item in items])
    metrics = classification_metrics(probabilities, labels, predictor.classes)
    metrics["clips_per_video"] = 1
    if out is not None:
        write_report(Path(out), metrics, items, probabilities, predictor.classes)
    return metrics


def write_report(
    out: Path,
    metrics: dict[str, Any],
    items: list[VideoItem],
    probabilities: np.ndarray,
    classes: tuple[str, ...],
) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    with (out / "predictions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "predicted", "probability", "correct"])
        for item, row in zip(items, probabilities, strict=True):
            best = int(row.argmax())
            writer.writerow(
                [
                    item.relpath,
                    classes[item.label],
                    classes[best],
                    f"{row[best]:.6f}",
                    int(best == item.label),
                ]
            )
    plot_confusion_matrix(
        np.array(metrics["confusion_matrix"]), classes, out / "confusion_matrix.png"
    )
    log.info("report written to %s", out)
