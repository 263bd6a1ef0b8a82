"""Augmentation on the frozen fast path: K cached views per video, one drawn per epoch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FAST_RUN, invoke, runner, split_args
from vidact.cli.main import app


def _namespaces(cache: Path) -> dict[int, Path]:
    found = {}
    for space in (cache / "features").iterdir():
        settings = json.loads((space / "settings.json").read_text())
        found[settings.get("view", {}).get("index", 0)] = space
    return found


@pytest.mark.slow
def test_views_are_cached_once_and_drawn_in_training(synthetic_dataset, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    args = ["train", *split_args(synthetic_dataset.root), *FAST_RUN, "--cache-dir", cache]
    views = ["--feature-views", "3", "--augment", "strong", "--epochs", "2"]
    invoke(*args, *views, "--out", tmp_path / "a")
    summary = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert summary["feature_views"] == 3
    spaces = _namespaces(cache)
    assert sorted(spaces) == [0, 1, 2]
    video = sorted(spaces[0].glob("*.npy"))[0].name
    plain, first, second = (np.load(spaces[i] / video) for i in (0, 1, 2))
    assert plain.shape == first.shape and not np.allclose(plain, first)
    assert not np.allclose(first, second)  # each view its own augmentation

    before = {i: sorted(p.stat().st_mtime_ns for p in s.glob("*.npy")) for i, s in spaces.items()}
    invoke(*args, *views, "--out", tmp_path / "b")  # the same run again: all from the cache
    after = {i: sorted(p.stat().st_mtime_ns for p in s.glob("*.npy")) for i, s in spaces.items()}
    assert before == after
    rows = [(tmp_path / r / "metrics.csv").read_text().splitlines() for r in ("a", "b")]
    assert [r.split(",")[:5] for r in rows[0]] == [r.split(",")[:5] for r in rows[1]]


def test_views_need_the_feature_cache(synthetic_dataset, tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            *map(str, split_args(synthetic_dataset.root)),
            "--feature-views",
            "2",
            "--no-feature-cache",
            "--out",
            str(tmp_path / "r"),
        ],
    )
    assert result.exit_code == 2 and "--feature-views caches augmented views" in result.output
