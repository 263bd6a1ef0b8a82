"""One source of defaults: dataclass defaults < recipe < options the user gave."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidact.config import DataConfig, ModelConfig, TrainConfig, nest_options, resolve_config
from vidact.errors import ConfigError

RECIPE = """\
# a test recipe
lr: 0.01
epochs: 12
data: {root: /videos, frames: 16, augment: seeds}
model: {head: gru, mlp: [512, 128]}
"""


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(RECIPE)
    return path


def test_options_not_given_keep_the_recipe(recipe: Path) -> None:
    config = resolve_config(recipe, {"lr": None, "head": None, "frames": None, "epochs": None})
    assert (config.lr, config.epochs, config.model.head) == (0.01, 12, "gru")
    assert config.data.frames == 16 and config.model.mlp == (512, 128)
    assert config.optimizer == TrainConfig().optimizer  # neither gave it: the dataclass default


def test_options_given_override_the_recipe(recipe: Path) -> None:
    options = {"lr": 0.5, "head": "lstm", "sampling": "dense", "strategy": "ddp", "data": "/x"}
    config = resolve_config(recipe, options)
    assert (config.lr, config.model.head, config.data.strategy) == (0.5, "lstm", "dense")
    assert config.strategy == "ddp"  # Lightning's --strategy, not the sampling strategy
    assert config.data.root == "/x" and config.data.augment == "seeds"


def test_without_a_recipe_the_dataclass_defaults_apply() -> None:
    config = resolve_config(None, {"data": "/videos", "epochs": 3})
    assert config.epochs == 3 and config.to_dict()["data"] == {
        **TrainConfig().to_dict()["data"],
        "root": "/videos",
    }


def test_every_option_has_a_place() -> None:
    assert nest_options({"head_arg": {"x": 1}, "batch_size": 4, "seed": 2}) == {
        "model": {"head_args": {"x": 1}},
        "data": {"batch_size": 4},
        "seed": 2,
    }
    with pytest.raises(KeyError):
        nest_options({"no_such_option": 1})


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"epochs": "ten"}, "epochs: expected int"),
        ({"epochs": True}, "epochs: expected int"),
        ({"lr": [1]}, "lr: expected float"),
        ({"model": {"mlp": ["a"]}}, "mlp: expected tuple"),
        ({"data": {"size": 1.5}}, "size: expected int or none"),
        ({"data": "x"}, "DataConfig: expected a mapping"),
    ],
)
def test_values_of_the_wrong_type_are_named(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TrainConfig.from_dict(raw)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TrainConfig(epochs=0), "--epochs must be at least 1, got 0"),
        (lambda: TrainConfig(lr=float("nan")), "--lr must be above 0, got nan"),
        (lambda: TrainConfig(accelerator="abacus"), "--accelerator must be auto, cpu, gpu"),
        (lambda: DataConfig(val_fraction=0.6, test_fraction=0.4), "leave nothing to train on"),
        (lambda: DataConfig(frames="8"), "--frames must be at least 1, got '8'"),
        (lambda: DataConfig(size=100000), "--size must be 16 to 1024 pixels .*, got 100000"),
        (lambda: ModelConfig(dropout=1.0), r"--dropout must be in \[0, 1\), got 1.0"),
        (lambda: ModelConfig(appearance_dropout=-0.1), "--appearance-dropout must be in"),
    ],
)
def test_settings_check_themselves_when_made(make, message: str) -> None:
    """Python callers get the CLI's checks: a settings object out of range never exists."""
    with pytest.raises(ConfigError, match=message):
        make()


def test_config_round_trips_through_a_dict() -> None:
    config = resolve_config(None, {"data": "/v", "mlp": (64,), "head_arg": {"hidden_sizes": [8]}})
    assert TrainConfig.from_dict(config.to_dict()) == config
