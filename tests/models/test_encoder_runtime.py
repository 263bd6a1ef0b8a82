"""The encoder runtime: a frozen frame encoder run by onnxruntime gives PyTorch's features."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from tests.conftest import real_clip
from vidact.config import DataConfig, ModelConfig, TrainConfig
from vidact.data.transforms import eval_transform
from vidact.errors import ConfigError
from vidact.io.reader import VideoReader
from vidact.models.backbones import FrameEncoder
from vidact.models.classifier import ClipClassifier
from vidact.models.encoder_runtime import (
    OnnxFrames,
    install_int8,
    quantise_encoder,
    runtime_in_use,
    use_encoder_runtime,
)
from vidact.models.view_cache import ViewFeatureCache
from vidact.sampling import pair_candidates, pair_rows
from vidact.training.module import ClipClassifierModule

pytest.importorskip("onnxruntime")


@pytest.fixture(autouse=True)
def _encoders_in(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Exports of this module in one folder of its own (not the user's ~/.cache)."""
    folder = tmp_path_factory.getbasetemp() / "vidact-home"
    monkeypatch.setattr("vidact.models.encoder_runtime.default_cache_dir", lambda: folder)


def _frames(backbone: str, pairs: bool) -> torch.Tensor:
    video = real_clip("Kinetics400", "arm_wrestling", "demo.mp4")
    with VideoReader(video) as reader:
        positions = np.linspace(0, reader.num_frames - 2, 6).round().astype(int)
        frames = reader.read(
            pair_candidates(positions, reader.num_frames) if pairs else positions, 96
        )
    return frames[pair_rows(frames, 30)] if pairs else frames  # pairs: (frame, later frame)


@pytest.mark.parametrize("backbone", ["tf_efficientnet_lite0", "motion"])
@torch.inference_mode()
def test_onnx_features_equal_pytorch_on_a_real_clip(backbone: str) -> None:
    model = ClipClassifier(ModelConfig(backbone=backbone, head="mean"), 2).eval()
    spec = model.encoder.input_spec(96)
    clips = eval_transform(spec)(_frames(backbone, backbone == "motion"))[None]
    reference = model.encode(clips)
    assert use_encoder_runtime(model, "auto", 96) == "onnx"
    parts = [m for m in model.encoder.modules() if isinstance(m, FrameEncoder)]
    assert all(isinstance(part.runtime, OnnxFrames) for part in parts)
    features = model.encode(clips)
    assert features.shape == reference.shape == (1, 6, 1280)
    assert (features - reference).abs().max() <= 1e-4
    assert use_encoder_runtime(model, "torch", 96) == "torch"
    torch.testing.assert_close(model.encode(clips), reference)


def test_the_export_is_kept_and_a_damaged_one_made_again(
    tmp_path_factory: pytest.TempPathFactory, caplog: pytest.LogCaptureFixture
) -> None:
    model = ClipClassifier(ModelConfig(backbone="tf_efficientnet_lite0", head="mean"), 2).eval()
    use_encoder_runtime(model, "onnx", 96)
    (exported,) = (tmp_path_factory.getbasetemp() / "vidact-home" / "encoders").glob("*-96px-*")
    written = exported.stat().st_mtime_ns
    use_encoder_runtime(model, "onnx", 96)
    assert exported.stat().st_mtime_ns == written  # kept: exported once
    data = bytearray(exported.read_bytes())
    data[len(data) // 2] ^= 0xFF
    exported.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING):
        assert use_encoder_runtime(model, "auto", 96) == "onnx"
    assert "do not match the checksum" in caplog.text
    frames = torch.rand(2, 3, 96, 96) * 2 - 1
    with torch.inference_mode():
        onnx = model.encoder(frames)
        use_encoder_runtime(model, "torch", 96)
        assert (onnx - model.encoder(frames)).abs().max() <= 1e-4


def test_trained_or_random_encoders_stay_in_pytorch_unless_asked() -> None:
    tuned = ClipClassifier(ModelConfig(head="mean", freeze="none"), 2)  # Lite0, fine-tuned
    assert use_encoder_runtime(tuned, "auto", 32) == "torch"
    with pytest.raises(ConfigError, match="fine-tuned"):
        use_encoder_runtime(tuned, "onnx", 32)
    scratch = ClipClassifier(ModelConfig(backbone="resnet10t", head="mean", freeze="all"), 2)
    assert use_encoder_runtime(scratch, "auto", 32) == "torch"  # random weights: no export
    pose_free = ClipClassifier(ModelConfig(head="mean"), 2)
    with pytest.raises(ConfigError, match="--encoder-runtime must be one of auto, torch, onnx"):
        use_encoder_runtime(pose_free, "fast", 32)


@torch.inference_mode()
def test_an_int8_encoder_keeps_the_features_of_a_real_clip(tmp_path) -> None:
    config = TrainConfig(
        model=ModelConfig(backbone="motion", head="mean", encoder_precision="int8"),
        data=DataConfig(size=96),
    )
    module = ClipClassifierModule(config, ("a", "b"))
    model = module.model.eval()
    float_views = ViewFeatureCache(tmp_path, model, module.info(), 1, 1).cache.dir
    spec = model.encoder.input_spec(96)
    pairs = eval_transform(spec)(_frames("motion", True))  # (12, 3, 96, 96): 6 pairs
    reference = model.encoder(pairs)
    model.encoder.train()  # as a new training module holds it: calibrating must not touch BN
    before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    quantised = quantise_encoder(model, 96, pairs)
    after = model.encoder.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    model.eval()
    assert list(quantised) == ["0"] and len(quantised["0"]) < 8e6  # int8: about a quarter
    install_int8(model, quantised)
    assert runtime_in_use(model) == "onnx-int8"
    # its evaluation views are its own (each run calibrates its copy: named by its bytes)
    int8_views = ViewFeatureCache(tmp_path, model, module.info(), 1, 1).cache
    assert int8_views.dir != float_views and int8_views.settings["precision"]
    assert use_encoder_runtime(model, "auto", 96) == "onnx-int8"  # stays int8
    with pytest.raises(ConfigError, match="int8, which runs in onnxruntime only"):
        use_encoder_runtime(model, "torch", 96)
    features = model.encoder(pairs)
    cosine = torch.nn.functional.cosine_similarity(features, reference, dim=1)
    assert features.shape == reference.shape and cosine.min() > 0.9
    assert (features - reference).abs().max() > 1e-4  # quantised, not the float encoder


@torch.inference_mode()
def test_a_frozen_encoder_runs_at_most_run_pixels_at_once(monkeypatch) -> None:
    """onnxruntime keeps memory for its largest run: a batch of eight 48-frame clips at 288 in
    one run took 12 GB. Out of training the frames go in runs of 32 at 288 px (here 4 at 96)."""
    monkeypatch.setattr("vidact.models.backbones.RUN_PIXELS", 4 * 96 * 96)
    model = ClipClassifier(ModelConfig(backbone="tf_efficientnet_lite0", head="mean"), 2).eval()
    spec = model.encoder.input_spec(96)
    clips = eval_transform(spec)(_frames("tf_efficientnet_lite0", False))[None]  # 6 frames
    reference = model.encoder.torch_forward(clips[0])  # the 6 frames in one run
    assert use_encoder_runtime(model, "auto", 96) == "onnx"
    part = model.encoder
    runs: list[int] = []
    onnx = part.runtime
    part.runtime = lambda images: runs.append(len(images)) or onnx(images)
    features = model.encode(clips)[0]
    assert runs == [4, 2] and (features - reference).abs().max() <= 1e-4
    runs.clear()
    part.train()  # training: batch norm takes the whole batch's statistics, so one run
    part(clips[0])
    assert runs == [6]
