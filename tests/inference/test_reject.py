"""Rejection: a threshold calibrated on validation clips at training time, and unknown answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import invoke, runner
from vidact.cli.main import app
from vidact.errors import ConfigError
from vidact.inference.events import UNKNOWN, resolve_reject
from vidact.inference.load import load_predictor
from vidact.io.writer import write_video
from vidact.models.checkpoint import METADATA_KEY, read_checkpoint
from vidact.training.module import KNOWN_ACCEPTED, calibrate_rejection


def test_the_threshold_keeps_the_chosen_share_of_validation_clips() -> None:
    confidence = torch.linspace(0.3, 1.0, 101)
    threshold = calibrate_rejection(confidence)
    assert threshold is not None
    kept = float((confidence >= threshold).double().mean())
    assert kept == pytest.approx(KNOWN_ACCEPTED, abs=0.011)
    assert calibrate_rejection(torch.tensor([0.9, 0.8, 0.7])) is None  # too few to tell


def test_reject_modes() -> None:
    assert resolve_reject("off", 0.4) is None
    assert resolve_reject("auto", 0.4) == 0.4 and resolve_reject("auto", None) is None
    assert resolve_reject("0.7", 0.4) == 0.7
    for bad in ("1", "0", "high", "-0.2"):
        with pytest.raises(ConfigError, match="--reject"):
            resolve_reject(bad, None)


def test_a_trained_checkpoint_carries_its_threshold_and_answers_unknown_below_it(
    trained_run: Path, synthetic_dataset, tmp_path: Path
) -> None:
    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    calibrated = read_checkpoint(checkpoint)[METADATA_KEY]["reject"]
    assert calibrated is not None and 0 < calibrated < 1
    assert load_predictor(checkpoint, "cpu").reject == calibrated  # auto by default
    assert load_predictor(checkpoint, "cpu", reject="off").reject is None
    video = synthetic_dataset.items[0].path
    sure = json.loads(invoke("predict", checkpoint, video, "--json", "--reject", "off"))
    assert sure["label"] == sure["top_k"][0]["label"] and sure["timeline"][0]["label"] != UNKNOWN
    doubtful = json.loads(invoke("predict", checkpoint, video, "--json", "--reject", "0.9999"))
    assert doubtful["label"] == UNKNOWN and doubtful["timeline"][0]["label"] == UNKNOWN
    assert doubtful["top_k"] == sure["top_k"]  # the scores stay; only the answer changes
    refused = runner.invoke(app, ["predict", str(checkpoint), str(video), "--reject", "loud"])
    assert refused.exit_code == 2 and "--reject 'loud'" in refused.output


def test_evaluate_reports_rejection_and_open_set_scores(
    trained_run: Path, synthetic_dataset, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    outside = tmp_path / "outside"
    for i in range(3):  # noise: no activity the model knows
        write_video(
            outside / f"noise_{i}.mp4", rng.integers(0, 255, (12, 32, 32, 3), np.uint8), 8.0
        )
    root = synthetic_dataset.root
    out = tmp_path / "eval"
    printed = invoke(
        "evaluate", trained_run / "checkpoints" / "best.ckpt", "--data", root,
        "--split-file", root / "split.csv", "--unknown-dir", outside, "--out", out,
        "--workers", "0",
    )  # fmt: skip
    rejection = json.loads((out / "metrics.json").read_text())["rejection"]
    assert rejection["unknown_videos"] == 3 and 0 <= rejection["open_set_auroc"] <= 1
    assert 0 <= rejection["known_rejected"] <= 1 and 0 <= rejection["unknown_rejected"] <= 1
    assert "open-set AUROC" in printed
    for point in rejection["operating_points"]:  # at most the share asked lets unknown through
        assert point["unknown_accepted"] <= point["false_accept_target"]
        assert 0 < point["threshold"] < 1 and f"--reject {point['threshold']:.6g}" in printed
