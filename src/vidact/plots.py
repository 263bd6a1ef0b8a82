"""Plots written next to runs and reports; each takes plain results and a path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt
import numpy as np


def plot_curves(rows: Sequence[dict[str, float]], path: Path) -> Path:
    """Loss and accuracy per epoch, train against validation (the seeds' history plots)."""
    epochs = [row["epoch"] for row in rows]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for axis, metric in zip(axes, ("loss", "acc"), strict=True):
        for split in ("train", "val"):
            axis.plot(epochs, [row[f"{split}_{metric}"] for row in rows], marker="o", label=split)
        axis.set_xlabel("epoch")
        axis.set_ylabel("accuracy" if metric == "acc" else "loss")
        axis.grid(alpha=0.3)
        axis.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_confusion_matrix(matrix: np.ndarray, classes: Sequence[str], path: Path) -> Path:
    """Row-normalised confusion matrix (rows = true class) with counts in the cells when small."""
    matrix = np.asarray(matrix, dtype=float)
    rates = matrix / np.clip(matrix.sum(axis=1, keepdims=True), 1, None)
    side = min(4 + 0.35 * len(classes), 40)
    fig, axis = plt.subplots(figsize=(side, side))
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(classes))
    axis.set_xticks(ticks, classes, rotation=90, fontsize=8)
    axis.set_yticks(ticks, classes, fontsize=8)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    if len(classes) <= 30:
        for (row, col), count in np.ndenumerate(matrix):
            if count:
                colour = "white" if rates[row, col] > 0.5 else "black"
                axis.text(col, row, int(count), ha="center", va="center", fontsize=7, color=colour)
    fig.colorbar(image, ax=axis, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_accuracy_bars(accuracies: dict[str, float], path: Path, title: str) -> Path:
    """Horizontal bars of accuracy per class or per category, lowest at the top."""
    names = sorted(accuracies, key=lambda name: accuracies[name])
    values = [accuracies[name] for name in names]
    fig, axis = plt.subplots(figsize=(8, min(2 + 0.25 * len(names), 40)))
    axis.barh(names, values, color="tab:blue")
    axis.invert_yaxis()  # barh draws the first bar at the bottom
    axis.set_xlim(0, 1)
    axis.set_xlabel("accuracy")
    axis.set_title(title)
    axis.tick_params(axis="y", labelsize=8)
    axis.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_grouped_bars(
    values: dict[tuple[str, str], tuple[float, float]], ylabel: str, path: Path
) -> Path:
    """Bars grouped along x (e.g. backbones), one colour per series (e.g. heads), with the spread
    over seeds as error bars: the seeds' comparison figures."""
    groups = list(dict.fromkeys(group for group, _ in values))
    series = list(dict.fromkeys(name for _, name in values))
    width = 0.8 / len(series)
    fig, axis = plt.subplots(figsize=(max(5.0, 1.2 + len(groups) * len(series) * 0.5), 4))
    x = np.arange(len(groups))
    for i, name in enumerate(series):
        means = [values.get((g, name), (np.nan, 0.0))[0] for g in groups]
        spread = [values.get((g, name), (np.nan, 0.0))[1] for g in groups]
        bars = axis.bar(x + (i - (len(series) - 1) / 2) * width, means, width, yerr=spread,
                        capsize=3, label=name)  # fmt: skip
        axis.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    axis.set_xticks(x, groups, rotation=15 if len(groups) > 3 else 0, fontsize=8)
    axis.set_ylabel(ylabel)
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=8, ncols=min(len(series), 4))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_learning_curve(points: Sequence[dict], path: Path) -> Path:
    """Pooled cross-validated accuracy against training clips per class, with its interval over
    groups and the spread over folds: how many clips a recipe needs."""
    clips = [p["train_clips_per_class"] for p in points]
    pooled = [p["pooled_top1"] for p in points]
    fig, axis = plt.subplots(figsize=(5.5, 4))
    axis.errorbar(clips, [p["fold_top1_mean"] for p in points],
                  yerr=[p["fold_top1_sd"] for p in points], fmt="o--", capsize=3, alpha=0.6,
                  label="mean over folds (± sd)")  # fmt: skip
    (line,) = axis.plot(clips, pooled, "o-", label="pooled over all videos")
    low, high = zip(*(p["pooled_top1_interval"] for p in points), strict=True)
    axis.fill_between(clips, low, high, color=line.get_color(), alpha=0.15,
                      label="pooled, 95% over groups drawn again")  # fmt: skip
    for x, y in zip(clips, pooled, strict=True):
        axis.annotate(f"{y:.3f}", (x, y), textcoords="offset points", xytext=(0, 6), fontsize=8)
    axis.set_xlabel("training clips per class")
    axis.set_ylabel("test accuracy (group-disjoint)")
    axis.set_ylim(0, 1.05)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_timeline(
    segments: Sequence[dict], duration: float, classes: Sequence[str], path: Path
) -> Path:
    """Activities over time: one coloured bar per segment, labelled, probability as opacity."""
    colours = plt.get_cmap("tab10")
    fig, axis = plt.subplots(figsize=(10, 1.8))
    for part in segments:
        known = part["label"] in classes
        axis.barh(
            0,
            part["end_s"] - part["start_s"],
            left=part["start_s"],
            color=colours(list(classes).index(part["label"]) % 10) if known else "0.6",
            alpha=0.4 + 0.6 * part["probability"],
        )
        axis.text((part["start_s"] + part["end_s"]) / 2, 0, part["label"], ha="center", va="center")
    axis.set_xlim(0, duration)
    axis.set_yticks([])
    axis.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
