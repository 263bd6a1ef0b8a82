"""--encoder-precision int8: a frozen encoder quantised on the training frames, carried by the
checkpoint, used alike by the cache, evaluation and prediction, refused where it cannot run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import FAST_RUN, invoke, runner, split_args
from vidact.cli.main import app
from vidact.inference.load import load_predictor
from vidact.models.checkpoint import INT8_KEY, read_checkpoint
from vidact.models.encoder_runtime import runtime_in_use

pytest.importorskip("onnxruntime")


def test_an_int8_run_predicts_with_the_encoder_it_was_trained_on(
    synthetic_dataset, tmp_path: Path
) -> None:
    root = Path(synthetic_dataset.root)
    run, cache = tmp_path / "run", tmp_path / "cache"
    invoke("train", *split_args(root), *FAST_RUN, "--epochs", "2", "--encoder-precision", "int8",
           "--cache-dir", cache, "--out", run)  # fmt: skip
    checkpoint = run / "checkpoints" / "best.ckpt"
    stored = read_checkpoint(checkpoint)[INT8_KEY]
    assert list(stored) == ["0"] and stored["0"].dtype == torch.uint8
    (namespace,) = [json.loads(p.read_text()) for p in (cache / "features").glob("*/settings.json")]
    assert namespace["precision"][0].startswith("tf_efficientnet_lite0-int8-")

    predictor = load_predictor(checkpoint, "cpu")
    assert runtime_in_use(predictor.model) == "onnx-int8"
    saved = tmp_path / "ensemble.ckpt"  # an ensemble file keeps its members' int8 encoders
    invoke("ensemble", checkpoint, checkpoint, *split_args(root), "--out", tmp_path / "ensemble",
           "--save", saved, "--workers", "0")  # fmt: skip
    members = load_predictor(saved, "cpu").members  # type: ignore[attr-defined]
    assert [runtime_in_use(member.model) for member in members] == ["onnx-int8"] * 2
    video = next(iter(sorted(root.glob("*/*.mp4"))))
    answer = predictor.predict(video)
    assert 0 < answer["top_k"][0]["probability"] <= 1

    out = tmp_path / "eval"
    invoke("evaluate", checkpoint, *split_args(root), "--out", out, "--workers", "0")
    assert json.loads((out / "metrics.json").read_text())["num_videos"] > 0
    args = ["evaluate", str(checkpoint), *map(str, split_args(root)), "--encoder-runtime"]
    refused = runner.invoke(app, [*args, "torch", "--out", str(tmp_path / "e2")])
    assert refused.exit_code != 0 and "runs in onnxruntime only" in refused.output
    refused = runner.invoke(app, ["export", str(checkpoint), "--out", str(tmp_path / "m.onnx")])
    assert refused.exit_code != 0 and "quantised to int8" in refused.output
    assert not (tmp_path / "m.onnx").exists()


def test_int8_needs_a_frozen_cached_encoder(synthetic_dataset, tmp_path: Path) -> None:
    root = Path(synthetic_dataset.root)
    for extra in (["--freeze", "none"], ["--no-feature-cache"]):
        result = runner.invoke(app, ["train", *map(str, split_args(root)), *FAST_RUN,
                                     "--encoder-precision", "int8", *extra,
                                     "--out", str(tmp_path / "run")])  # fmt: skip
        assert result.exit_code == 2 and "int8 quantises a frozen encoder" in result.output
    args = ["train", *map(str, split_args(root)), *FAST_RUN, "--encoder-precision", "int4"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2 and "fp32 or int8" in result.output
