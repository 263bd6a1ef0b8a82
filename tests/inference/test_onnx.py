"""ONNX export: the exported graph gives PyTorch's probabilities on real clips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

from tests.conftest import invoke, real_clip, runner
from vidact.cli.main import app
from vidact.inference.predictor import Predictor
from vidact.inference.timeline import TimelineSettings
from vidact.io.reader import VideoReader

CLIPS = [
    ("UCF101", "Biking", "v_Biking_g05_c02.avi"),  # MPEG-4 AVI, 320x240
    ("Kinetics400", "arm_wrestling", "demo.mp4"),  # H.264, 340x256
]


@pytest.fixture(scope="module")
def clips() -> list[Path]:
    return [real_clip(*parts) for parts in CLIPS]


@pytest.fixture(scope="module")
def exported(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("onnx") / "model.onnx"
    output = invoke("export", trained_run / "checkpoints" / "best.ckpt", "--out", out)
    assert f"wrote {out}" in output and "mean [0.5, 0.5, 0.5]" in output
    return out


@pytest.mark.slow
def test_onnx_probabilities_equal_pytorch_on_real_clips(
    clips: list[Path], trained_run: Path, exported: Path
) -> None:
    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    reference = Predictor.from_checkpoint(checkpoint, "cpu", clips=2)
    runtime = Predictor.from_checkpoint(exported, "cpu", clips=2)  # .onnx: onnxruntime
    assert runtime.classes == reference.classes
    for clip in clips:
        with VideoReader(clip) as reader:
            views = reference.load_views(reader)[None]  # (1, clips, T, 3, S, S)
        batch = torch.cat([views, views.flip(-1)])  # a batch of two: the batch axis is dynamic
        (expected, expected_sure), (got, got_sure) = (
            reference.probabilities(batch),
            runtime.probabilities(batch),
        )
        assert torch.allclose(got, expected, atol=1e-4, rtol=0), (got - expected).abs().max()
        # the open-set distance travels in the graph: the export rejects as the checkpoint
        assert torch.allclose(got_sure, expected_sure, rtol=1e-3), (got_sure, expected_sure)
        settings = TimelineSettings("1s", "0.5s")
        torch_scan, onnx_scan = reference.scan(clip, settings), runtime.scan(clip, settings)
        assert abs(torch_scan.scores - onnx_scan.scores).max() < 1e-4
        np.testing.assert_allclose(onnx_scan.sureness, torch_scan.sureness, rtol=1e-3)
    assert reference.rejection["score"] == "distance"
    assert runtime.rejection == reference.rejection


@pytest.mark.slow
def test_the_exported_file_describes_itself(
    clips: list[Path], trained_run: Path, exported: Path
) -> None:
    model = onnx.load(exported)
    metadata = {entry.key: entry.value for entry in model.metadata_props}
    reference = Predictor.from_checkpoint(trained_run / "checkpoints" / "best.ckpt", "cpu")
    assert json.loads(metadata["classes"]) == list(reference.classes)
    assert "clips: float32 (batch, 4, 3, 32, 32)" in metadata["input"]
    assert [i.name for i in model.graph.input] == ["clips"]
    assert [o.name for o in model.graph.output] == ["logits", "probabilities", "distance"]
    assert float(metadata["open_set_threshold"]) == reference.open_set_threshold
    video = str(clips[0])
    via_onnx = json.loads(invoke("predict", exported, video, "--json"))
    via_torch = json.loads(
        invoke("predict", trained_run / "checkpoints/best.ckpt", video, "--json")
    )
    assert [e["label"] for e in via_onnx["top_k"]] == [e["label"] for e in via_torch["top_k"]]


def test_export_and_runtime_errors_are_clear(trained_run: Path, tmp_path: Path, make_video) -> None:
    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    video = str(make_video())
    result = runner.invoke(app, ["export", str(checkpoint), "--out", str(tmp_path / "m.pt")])
    assert result.exit_code == 2 and "must end in .onnx" in result.output
    fake = tmp_path / "fake.onnx"
    fake.write_bytes(b"not a model")
    result = runner.invoke(app, ["predict", str(fake), video])
    assert result.exit_code == 2 and "fake.onnx: carries no vidact checksum" in result.output
    result = runner.invoke(app, ["predict", str(checkpoint), video, "--runtime", "tf"])
    assert result.exit_code == 2 and "--runtime must be torch or onnx" in result.output
