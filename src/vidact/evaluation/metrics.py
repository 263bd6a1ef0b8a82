"""Every classification metric of a report, computed once from scores and labels.

Validation and test, one model or an ensemble, all go through ``classification_metrics``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)

log = logging.getLogger(__name__)


def classification_metrics(
    probabilities: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    topk: Sequence[int] = (1, 5),
    categories: Mapping[str, str] | None = None,
    groups: Sequence[str] | None = None,
    draws: np.ndarray | None = None,
) -> dict[str, Any]:
    """Top-k accuracy, mean class accuracy, loss, per-class table and confusion matrix,
    per-category accuracy when a ``class -> category`` map is given, and with the videos'
    ``groups`` top-1's interval over them (``top1_interval``): from ``draws``, this model's row
    of a ``group_bootstrap`` shared with others it is compared with, else drawn for it alone.

    ``probabilities`` is (N, K) and sums to 1 per row; ``labels`` is (N,). A top-k with k at
    least the number of classes is 1.0 by definition and is reported as such.
    """
    probs = torch.as_tensor(probabilities, dtype=torch.float64)
    target = torch.as_tensor(labels, dtype=torch.long)
    num_classes = len(classes)
    if probs.ndim != 2 or probs.shape[1] != num_classes or len(probs) != len(target):
        raise ValueError(
            f"scores {tuple(probs.shape)} do not match {len(target)} labels "
            f"and {num_classes} classes"
        )
    if len(target) == 0:
        raise ValueError("no videos to evaluate")
    result: dict[str, Any] = {}
    for k in sorted(set(topk)):
        result[f"top{k}"] = float(
            multiclass_accuracy(
                probs, target, num_classes, top_k=min(k, num_classes), average="micro"
            )
        )
    recall = multiclass_recall(probs, target, num_classes, average="none")
    precision = multiclass_precision(probs, target, num_classes, average="none")
    f1 = multiclass_f1_score(probs, target, num_classes, average="none")
    support = torch.bincount(target, minlength=num_classes)
    present = support > 0  # classes absent from the split do not enter the mean
    result["mean_class_accuracy"] = float(recall[present].mean())
    picked = probs[torch.arange(len(target)), target].clamp_min(1e-12)
    result["loss"] = float(-picked.log().mean())
    result["num_videos"] = len(target)
    result["per_class"] = {
        name: {
            "accuracy": float(recall[i]),
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, name in enumerate(classes)
    }
    correct = (probs.argmax(dim=1) == target).numpy()
    if categories is not None:
        result["per_category"] = _per_category(correct, target.numpy(), classes, categories)
    result["classes"] = list(classes)
    result["confusion_matrix"] = multiclass_confusion_matrix(probs, target, num_classes).tolist()
    if groups is not None and len(set(groups)) < len(groups):  # known: not each video alone
        result["per_group"] = _accuracy_by(correct, groups)
    if groups is not None:
        if draws is None:
            draws = group_bootstrap(correct, groups)[0]
        result.update(top1_interval(draws, groups))
    return result


def _per_category(
    correct: np.ndarray, labels: np.ndarray, classes: Sequence[str], categories: Mapping[str, str]
) -> dict[str, dict[str, float | int]]:
    """Accuracy over the videos of each category (the seeds' per-action-type table)."""
    found = _accuracy_by(correct, [categories[classes[label]] for label in labels])
    none = {"accuracy": float("nan"), "num_videos": 0}  # a category absent from the split
    return {
        category: {
            **found.get(category, none),
            "num_classes": sum(1 for c in classes if categories[c] == category),
        }
        for category in sorted(set(categories[c] for c in classes))
    }


def _accuracy_by(correct: np.ndarray, names: Sequence[str]) -> dict[str, dict[str, float | int]]:
    """Top-1 and videos of each name the videos carry (a category; a group, a source or a
    person, where the pooled figure hides which new cameras or people a model fails)."""
    found, index = np.unique(np.asarray(names), return_inverse=True)
    videos = np.bincount(index, minlength=len(found))
    right = np.bincount(index, weights=correct.astype(np.float64), minlength=len(found))
    return {
        str(name): {"accuracy": float(r / n), "num_videos": int(n)}
        for name, r, n in zip(found, right, videos, strict=True)
    }


def weakest_groups(per_group: Mapping[str, Mapping[str, float]], count: int = 5) -> str:
    """'src04 0.00 (1 video), src10 0.50 (6 videos)': the ``count`` groups of lowest top-1 among
    those with errors (the larger first among equals), for a command's summary; '' when none."""
    failed = [name for name, row in per_group.items() if row["accuracy"] < 1]
    order = sorted(failed, key=lambda g: (per_group[g]["accuracy"], -per_group[g]["num_videos"]))
    return ", ".join(
        f"{name} {per_group[name]['accuracy']:.2f} ({per_group[name]['num_videos']:g} "
        f"video{'s' * (per_group[name]['num_videos'] != 1)})"
        for name in order[:count]
    )


LEVEL = 0.95  # the share of resampled datasets an interval covers
DRAWS = 2000  # datasets resampled for an interval
DRAWS_AT_ONCE = 250  # draws held at once (a test set of 10000 videos: 20 MB)
# fewer groups than this: the 95% interval held the true figure in 49-87% of simulated test sets
# of 2-8 groups, not 95% (91-94% with 15-30; docs/experiments/interval_coverage.py): a warning
FEW_GROUPS = 10


def group_bootstrap(
    correct: np.ndarray, groups: Sequence[str], draws: int = DRAWS, seed: int = 0
) -> np.ndarray:
    """(R, N) right answers of R models on the same N videos -> (R, draws) pooled accuracy on
    datasets drawn from theirs: as many groups (sources, people) as it has, drawn with
    replacement, each with all its videos, alike for every model. Videos of one group share a
    camera or a person and are not independent, so the spread of these accuracies, not of
    videos drawn one by one, says how far a figure could move on other groups of the kind (a
    cluster bootstrap); one model's draws less another's, how far their difference could."""
    correct = np.atleast_2d(np.asarray(correct, dtype=np.float64))
    names, group_of = np.unique(np.asarray(groups), return_inverse=True)
    hits = np.stack([np.bincount(group_of, row, len(names)) for row in correct])  # (R, G)
    sizes = np.bincount(group_of, minlength=len(names))  # (G,)
    rng, share = np.random.default_rng(seed), np.full(len(names), 1 / len(names))
    parts = []
    for start in range(0, draws, DRAWS_AT_ONCE):  # (draws, G) counts: bounded memory
        counts = rng.multinomial(len(names), share, size=min(DRAWS_AT_ONCE, draws - start))
        parts.append((counts @ hits.T).T / (counts @ sizes))
    return np.concatenate(parts, axis=1)  # (R, draws)


def interval(values: np.ndarray, level: float = LEVEL) -> list[float]:
    """[low, high]: the central ``level`` of ``values`` (a percentile interval)."""
    tail = 100 * (1 - level) / 2
    return [round(float(v), 4) for v in np.percentile(values, [tail, 100 - tail])]


def paired_difference(
    top1: float, other_top1: float, draws: np.ndarray, other_draws: np.ndarray
) -> dict[str, Any]:
    """One model's top-1 less another's and the interval of that difference over the test sets
    both were drawn on alike (their rows of one ``group_bootstrap``: a paired cluster bootstrap,
    so what the two get right together does not widen it)."""
    return {"difference": round(top1 - other_top1, 4), "interval": interval(draws - other_draws)}


def interval_note(low_high: Sequence[float] | None, over: str = "groups") -> str:
    """' (95% over groups: 0.70-0.87)': where a figure could lie on other groups (or videos) of
    the kind; '' without an interval (a file written before there was one)."""
    return f" ({LEVEL:.0%} over {over}: {low_high[0]:.2f}-{low_high[1]:.2f})" if low_high else ""


def difference_note(
    difference: float, low_high: Sequence[float], over: str | None = None, judged: bool = False
) -> str:
    """'+0.0455 (-0.12 to +0.60)': one model's top-1 less another's and the interval of that
    difference; with ``over`` it says what was drawn alike ('95% over groups drawn alike: '),
    ``judged`` whether the gap is more than the luck of the groups (the interval misses 0)."""
    low, high = low_high
    drawn = f"{LEVEL:.0%} over {over} drawn alike: " if over else ""
    verdict = ("; more than the groups' luck" if low > 0 or high < 0 else "; within it") * judged
    return f"{difference:+.4f} ({drawn}{low:+.2f} to {high:+.2f}{verdict})"


def top1_interval(draws: np.ndarray, groups: Sequence[str]) -> dict[str, Any]:
    """A model's top-1 interval from its ``group_bootstrap`` draws, what was drawn again
    (groups, or videos when each is its own group: no group ids known) and how many of them.
    For metrics.json."""
    count = len(set(groups))
    over = "groups" if count < len(groups) else "videos"
    return {"top1_interval": interval(draws), "interval_over": over, "interval_groups": count}


def warn_few_groups(count: int | None, over: str = "groups") -> None:
    """Say so where an interval shown was drawn over fewer than ``FEW_GROUPS`` groups (or
    videos): it is too narrow there, and one test split of a few sources says little."""
    if count is not None and count < FEW_GROUPS:
        log.warning(
            "the top-1 interval is drawn over %d %s: with fewer than %d it is too narrow (a 95%% "
            "one held the true figure in half to nine in ten simulated test sets); test on more",
            count,
            over,
            FEW_GROUPS,
        )


FALSE_ACCEPTS = (0.01, 0.05, 0.1)  # shares of unknown videos let through, for --reject P


def rejection_metrics(
    known: np.ndarray,
    labels: np.ndarray,
    threshold: float | None,
    unknown: np.ndarray | None = None,
    sureness: tuple[np.ndarray, np.ndarray | None] | None = None,
) -> dict[str, Any]:
    """How the "none of these" threshold behaves: the share of known videos it rejects and,
    given (M, K) scores of videos of classes outside the model, the open-set AUROC of the
    sureness it tests (known = positive) and of the top probability, the share of those it
    rejects, and the open-set accuracy (known videos accepted with the right label, plus
    unknown videos rejected, over all), and ``operating_points``: for each share of unknown
    videos a user would let through (``FALSE_ACCEPTS``), the ``--reject P`` top probability
    that lets through no more of them and the share of known videos it rejects (what a
    threshold for a chosen false-accept rate costs). ``sureness``: what ``threshold`` tests
    for the known and the unknown videos, by default their top probability."""
    top = known.max(axis=1)
    other = None if unknown is None else unknown.max(axis=1)
    mine, theirs = sureness if sureness is not None else (top, other)
    below = mine < threshold if threshold is not None else np.zeros(len(top), bool)
    result: dict[str, Any] = {
        "threshold": threshold,
        "known_videos": len(top),
        "known_rejected": round(float(below.mean()), 4),
    }
    if other is None or theirs is None or not len(other):
        return result
    rejected = theirs < threshold if threshold is not None else np.zeros(len(other), bool)
    right = (known.argmax(axis=1) == labels) & ~below
    result.update(
        {
            "unknown_videos": len(other),
            "unknown_rejected": round(float(rejected.mean()), 4),
            "open_set_auroc": _auroc(mine, theirs),
            "open_set_auroc_top_probability": _auroc(top, other),
            "open_set_accuracy": round(
                float((right.sum() + rejected.sum()) / (len(top) + len(other))), 4
            ),
            "operating_points": [_operating_point(top, other, share) for share in FALSE_ACCEPTS],
        }
    )
    return result


def _auroc(known: np.ndarray, unknown: np.ndarray) -> float:
    """P(a known video is surer than an unknown one), ties counting half (Mann-Whitney): on
    any scale (torchmetrics would squash a negated distance through a sigmoid first)."""
    ordered = np.sort(unknown)
    below = np.searchsorted(ordered, known, side="left")
    ties = np.searchsorted(ordered, known, side="right") - below
    return round(float((below + 0.5 * ties).sum() / (len(known) * len(unknown))), 4)


def _operating_point(known: np.ndarray, unknown: np.ndarray, share: float) -> dict[str, Any]:
    """The lowest threshold (6 decimals, as ``--reject P`` takes it) that accepts at most
    ``share`` of the unknown videos' top probabilities, and what it does to the known ones."""
    allowed = int(np.floor(share * len(unknown) + 1e-9))  # unknown videos that may pass
    boundary = np.sort(unknown)[::-1][allowed]  # the highest one that must not
    threshold = float(min(np.ceil(boundary * 1e6 + 1e-6) / 1e6, 0.999999))
    return {
        "false_accept_target": share,
        "threshold": threshold,
        "unknown_accepted": round(float((unknown >= threshold).mean()), 4),
        "known_rejected": round(float((known < threshold).mean()), 4),
    }
