"""Evaluation figures on hand-made scores, where the right answer is known."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from vidact.evaluation.metrics import (
    classification_metrics,
    group_bootstrap,
    interval,
    rejection_metrics,
    top1_interval,
    warn_few_groups,
    weakest_groups,
)

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


def test_per_group_accuracy_and_the_weakest_groups() -> None:
    labels = np.array([0, 1, 2, 2, 0, 1])
    groups = ["cam1", "cam1", "cam2", "cam2", "cam2", "cam3"]
    metrics = classification_metrics(_scores([0, 1, 2, 0, 1, 0]), labels, CLASSES, groups=groups)
    assert metrics["per_group"] == {
        "cam1": {"accuracy": 1.0, "num_videos": 2},
        "cam2": {"accuracy": pytest.approx(1 / 3), "num_videos": 3},
        "cam3": {"accuracy": 0.0, "num_videos": 1},
    }
    assert weakest_groups(metrics["per_group"]) == "cam3 0.00 (1 video), cam2 0.33 (3 videos)"
    assert weakest_groups(metrics["per_group"], 1) == "cam3 0.00 (1 video)"
    assert weakest_groups({"cam1": {"accuracy": 1.0, "num_videos": 2}}) == ""  # no errors
    alone = [f"video{i}" for i in range(6)]  # no groups known: each video its own
    assert "per_group" not in classification_metrics(
        _scores([0] * 6), labels, CLASSES, groups=alone
    )


def test_mismatched_scores_are_refused() -> None:
    with pytest.raises(ValueError, match="do not match"):
        classification_metrics(np.ones((2, 2)), np.array([0, 1]), CLASSES)


def test_rejection_operating_points_let_through_no_more_unknown_videos_than_asked() -> None:
    """20 unknown videos with top probabilities 0.40 .. 0.97 and 10 known ones: letting through
    1 in 20 (5%) needs a threshold just above the second highest unknown one (0.94)."""
    unknown = _top(np.linspace(0.40, 0.97, 20))
    known = _top(np.array([0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.96, 0.98, 0.99, 0.999]))
    labels = known.argmax(axis=1)
    points = rejection_metrics(known, labels, 0.9, unknown)["operating_points"]
    assert [p["false_accept_target"] for p in points] == [0.01, 0.05, 0.1]
    tight, five, ten = points
    assert tight["threshold"] == pytest.approx(0.970001) and tight["unknown_accepted"] == 0
    assert tight["known_rejected"] == pytest.approx(0.7)  # only 0.98, 0.99, 0.999 pass
    assert five["threshold"] == pytest.approx(0.940001) and five["unknown_accepted"] == 0.05
    assert five["known_rejected"] == pytest.approx(0.5)
    assert ten["unknown_accepted"] == 0.1 and ten["threshold"] < five["threshold"]
    for point in points:  # what the answers would do at that threshold
        passed = unknown.max(axis=1) >= point["threshold"]
        assert passed.mean() == pytest.approx(point["unknown_accepted"])
        assert passed.mean() <= point["false_accept_target"]


def _top(values: np.ndarray) -> np.ndarray:
    """Rows of two-class probabilities whose top probability is each value."""
    return np.stack([values, 1 - values], axis=1)


def test_rejection_by_distance_is_measured_on_its_own_scale() -> None:
    """Sureness as negated squared distances (thousands): the AUROC ranks them as they are,
    the shares follow the distance threshold, and the top probability keeps its own AUROC."""
    known, unknown = _top(np.array([0.9, 0.6, 0.95])), _top(np.array([0.99, 0.5]))
    sureness = (-np.array([1000.0, 2000.0, 3000.0]), -np.array([2500.0, 9000.0]))
    labels = known.argmax(axis=1)
    rejection = rejection_metrics(known, labels, -2600.0, unknown, sureness)
    assert rejection["open_set_auroc"] == pytest.approx(5 / 6, abs=1e-4)
    assert rejection["open_set_auroc_top_probability"] == pytest.approx(3 / 6, abs=1e-4)
    assert rejection["known_rejected"] == pytest.approx(1 / 3, abs=1e-4)
    assert rejection["unknown_rejected"] == 0.5


def test_the_interval_over_groups_draws_whole_groups() -> None:
    # 20 videos: one source of 10 all wrong, ten of one video each all right (pooled 0.5)
    correct = np.array([False] * 10 + [True] * 10)
    by_source = ["big"] * 10 + [f"s{i}" for i in range(10)]
    each_alone = [f"v{i}" for i in range(20)]
    grouped, independent = (
        interval(group_bootstrap(correct, by_source)[0]),
        interval(group_bootstrap(correct, each_alone)[0]),
    )
    # drawing the big source or not moves the figure far more than drawing videos one by one
    assert grouped[0] < independent[0] < 0.5 < independent[1] < grouped[1]
    assert interval(group_bootstrap(np.ones(20, bool), by_source)[0]) == [1.0, 1.0]
    assert np.array_equal(group_bootstrap(correct, by_source), group_bootstrap(correct, by_source))


def test_a_difference_is_drawn_alike_for_both_models() -> None:
    rng = np.random.default_rng(0)
    groups = [f"g{i // 4}" for i in range(40)]
    first = rng.random(40) < 0.6
    better = first.copy()
    better[:8] = True  # right on two more groups' videos, wrong on none that first had right
    draws = group_bootstrap(np.stack([first, first, better]), groups)
    assert interval(draws[1] - draws[0]) == [0.0, 0.0]  # the same answers: no difference at all
    gain = draws[2] - draws[0]
    assert (gain >= 0).all() and interval(gain)[1] > 0  # paired: never below zero


def test_an_interval_over_few_groups_is_said_to_be_too_narrow(
    caplog: pytest.LogCaptureFixture,
) -> None:
    correct = np.array([True, False] * 10)
    few = top1_interval(group_bootstrap(correct, [f"g{i // 4}" for i in range(20)])[0],
                        [f"g{i // 4}" for i in range(20)])  # fmt: skip
    assert few["interval_groups"] == 5 and few["interval_over"] == "groups"
    with caplog.at_level(logging.WARNING, logger="vidact.evaluation.metrics"):
        warn_few_groups(10)
        assert not caplog.records
        warn_few_groups(few["interval_groups"], few["interval_over"])
    assert "drawn over 5 groups: with fewer than 10 it is too narrow" in caplog.text
