"""The seeds' model details: flattened feature maps, L2 on the classifier only, Keras' LR decay,
and recipes built from a base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.conftest import FAST_RUN, invoke, real_clip, split_args
from vidact.config import DataConfig, ModelConfig, TrainConfig, load_recipe, resolve_config
from vidact.errors import ConfigError
from vidact.models.backbones import build_encoder
from vidact.training import optim
from vidact.training.module import ClipClassifierModule


def test_flatten_keeps_the_whole_feature_map() -> None:
    pooled = build_encoder("lrcn_cnn", pool="max")
    flat32 = build_encoder("lrcn_cnn", pool="flatten", input_size=32)
    flat64 = build_encoder("lrcn_cnn", pool="flatten", input_size=64)
    frames = torch.rand(2, 3, 64, 64)
    channels = pooled(frames).shape[1]
    assert flat64(frames).shape == (2, flat64.num_features)
    assert flat64.num_features == 4 * flat32.num_features  # twice the side, four times the map
    assert flat64.num_features > channels
    with pytest.raises(ConfigError, match="--pool must be avg, max, flatten"):
        build_encoder("lrcn_cnn", pool="sum")


@pytest.mark.slow
def test_a_flattening_model_trains_and_predicts_from_its_checkpoint(
    synthetic_dataset, tmp_path: Path
) -> None:
    clip = real_clip("UCF101", "Punch", "v_Punch_g03_c01.avi")
    run = tmp_path / "run"
    invoke(
        "train", *split_args(synthetic_dataset.root), *FAST_RUN, "--backbone", "lrcn_cnn",
        "--no-pretrained", "--pool", "flatten", "--head", "lstm", "--epochs", "1", "--out", run,
    )  # fmt: skip
    result = json.loads(invoke("predict", run / "checkpoints" / "best.ckpt", clip, "--json"))
    assert len(result["top_k"]) == 5


def test_weight_decay_on_the_classifier_only() -> None:
    classes = ("a", "b", "c")
    config = TrainConfig(
        data=DataConfig(size=32),
        model=ModelConfig(backbone="lrcn_cnn", pretrained=False, head="gru"),
        weight_decay=0.001,
        weight_decay_scope="classifier",
    )
    groups = ClipClassifierModule(config, classes).configure_optimizers()["optimizer"].param_groups
    decay = {group["name"]: group["weight_decay"] for group in groups}
    assert decay == {"head": 0.0, "classifier": 0.001, "backbone": 0.0}
    everywhere = ClipClassifierModule(
        TrainConfig(data=config.data, model=config.model, weight_decay=0.001), classes
    )
    groups = everywhere.configure_optimizers()["optimizer"].param_groups
    assert {group["weight_decay"] for group in groups} == {0.001}


def test_keras_time_based_decay() -> None:
    weight = torch.nn.Parameter(torch.zeros(1))
    config = TrainConfig(lr=0.1, scheduler="decay", lr_decay=0.5)
    answer = optim.configure([{"params": [weight]}], config)
    optimizer, scheduler = answer["optimizer"], answer["lr_scheduler"]
    assert scheduler["interval"] == "step"
    for _ in range(4):
        optimizer.step()
        scheduler["scheduler"].step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.1 / (1 + 0.5 * 4))


def test_recipes_start_from_a_base(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(
        "data: {frames: 5, size: 224}\nmodel: {head: lstm, mlp: [64]}\nepochs: 10\n"
    )
    (tmp_path / "child.yaml").write_text(
        "_base_: base.yaml\ndata: {frames: 8}\nmodel: {head: gru}\n"
    )
    config = resolve_config(tmp_path / "child.yaml", {"data": "videos", "epochs": 3})
    assert (config.data.frames, config.data.size) == (8, 224)  # child over base
    assert (config.model.head, config.model.mlp) == ("gru", (64,))
    assert config.epochs == 3  # the command line over both
    (tmp_path / "loop.yaml").write_text("_base_: loop.yaml\n")
    with pytest.raises(ConfigError, match="_base_ loop"):
        load_recipe(tmp_path / "loop.yaml")
    seed = (
        Path(__file__).resolve().parents[2]
        / "configs"
        / "ucf101_seed001_mobilenet_lstm_4classes.yaml"
    )
    config = resolve_config(seed, {"data": "videos"})
    assert config.data.classes == ("Archery", "CricketShot", "TrampolineJumping", "WalkingWithDog")
    assert (config.model.trainable_layers, config.model.head_args) == (9, {"hidden_size": 128})


@pytest.mark.parametrize("scope", ["all", "classifier"])
def test_every_trainable_parameter_is_optimised(scope: str) -> None:
    config = TrainConfig(
        data=DataConfig(size=32),
        model=ModelConfig(backbone="lrcn_cnn", pretrained=False, head="gru", temporal_input="norm"),
        weight_decay_scope=scope,
    )
    module = ClipClassifierModule(config, ("a", "b"))
    groups = module.configure_optimizers()["optimizer"].param_groups
    optimised = {id(p) for group in groups for p in group["params"]}
    trainable = {id(p) for p in module.model.parameters() if p.requires_grad}
    assert trainable <= optimised  # temporal_input: norm's LayerNorm among them
