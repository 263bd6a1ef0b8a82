"""Class subsets and top-k lists from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import invoke, runner, split_args
from vidact.cli.main import app


def test_dataset_info_on_a_class_subset(synthetic_dataset) -> None:
    args = ["dataset", "info", *split_args(synthetic_dataset.root), "--no-media"]
    whole = json.loads(invoke(*args))
    info = json.loads(invoke(*args, "--classes", "growing,shrinking"))
    assert info["classes"] == ["growing", "shrinking"]
    for split, counts in info["counts"].items():
        assert counts == {k: v for k, v in whole["counts"][split].items() if k in counts}
    result = runner.invoke(
        app, ["dataset", "info", *map(str, split_args(synthetic_dataset.root)), "--classes", "grow"]
    )
    assert result.exit_code == 2 and "'grow' (did you mean 'growing'?)" in result.output


def test_evaluate_any_topk_list(trained_run: Path, synthetic_dataset, tmp_path: Path) -> None:
    out = tmp_path / "eval"
    output = invoke(
        "evaluate", trained_run / "checkpoints" / "best.ckpt", *split_args(synthetic_dataset.root),
        "--topk", "1,2,3", "--out", out, "--workers", "0",
    )  # fmt: skip
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["top1"] <= metrics["top2"] <= metrics["top3"] <= metrics["top5"]
    assert "top2 " in output and "top3 " in output
    result = runner.invoke(
        app,
        ["evaluate", str(trained_run / "checkpoints/best.ckpt"),
         *map(str, split_args(synthetic_dataset.root)), "--topk", "1,zero"],
    )  # fmt: skip
    assert result.exit_code == 2 and "whole numbers" in result.output
