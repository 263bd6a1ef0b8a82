"""Evaluation figures on hand-made scores, where the right answer is known."""

from __future__ import annotations

import numpy as np
import pytest

from vidact.evaluation.metrics import classification_metrics

CLASSES = ("jump", "run", "walk")


def _scores(predicted: list[int], confidence: float = 0.8) -> np.ndarray:
    rest = (1 - confidence) / (len(CLASSES) - 1)
    table = np.full((len(predicted), len(CLASSES)), rest)
    table[np.arange(len(predicted)), predicted] = confidence
    return table


def test_figures_on_a_known_example() -> None:
    labels = np.array([0, 0, 1, 1, 2, 2])
    metrics = classification_metrics(_scores([0, 1, 1, 1, 2, 0]), labels, CLASSES)
    assert metrics["top1"] == pytest.approx(4 / 6)
    assert metrics["mean_class_accuracy"] == pytest.approx((0.5 + 1 + 0.5) / 3)
    assert metrics["per_class"]["run"]["precision"] == pytest.approx(2 / 3)
    assert metrics["per_class"]["jump"]["recall"] == pytest.approx(0.5)
    assert metrics["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]  # rows = true class
    assert metrics["loss"] == pytest.approx(-(4 * np.log(0.8) + 2 * np.log(0.1)) / 6)
    assert metrics["num_videos"] == 6


def test_absent_classes_do_not_enter_the_mean() -> None:
    labels = np.array([0, 0, 1])  # nobody walks in this split
    metrics = classification_metrics(_scores([0, 0, 2]), labels, CLASSES)
    assert metrics["per_class"]["walk"]["support"] == 0
    assert metrics["mean_class_accuracy"] == pytest.approx((1.0 + 0.0) / 2)
    assert metrics["confusion_matrix"][2] == [0, 0, 0]


def test_top_k_at_least_the_number_of_classes_is_one() -> None:
    labels = np.array([0, 1, 2])
    metrics = classification_metrics(_scores([1, 2, 0]), labels, CLASSES, topk=(1, 2, 5))
    assert metrics["top1"] == 0.0
    assert metrics["top5"] == 1.0  # five guesses among three classes always hit
    assert 0.0 <= metrics["top2"] <= 1.0


def test_per_category_accuracy() -> None:
    labels = np.array([0, 1, 2, 2])
    categories = {"jump": "fast", "run": "fast", "walk": "slow"}
    metrics = classification_metrics(_scores([0, 0, 2, 2]), labels, CLASSES, categories=categories)
    assert metrics["per_category"]["fast"] == {"accuracy": 0.5, "num_videos": 2, "num_classes": 2}
    assert metrics["per_category"]["slow"]["accuracy"] == 1.0


def test_mismatched_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="do not match"):
        classification_metrics(np.ones((2, 2)), np.array([0, 1]), CLASSES)
