"""Runs from the command line: recipes, unfreezing, repeatability (kill-and-resume and DDP:
test_run_safety.py)."""

from __future__ import annotations

import csv
import importlib.util
import json
import math
from pathlib import Path

import pytest
import yaml

from tests.conftest import FAST_RUN, invoke, runner, split_args
from vidact.config import resolve_config
from vidact.models.checkpoint import METADATA_KEY, read_checkpoint
from vidact.models.open_set import OPEN_SET_KEY, OpenSet
from vidact.training.validate import check_config

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").glob("*.yaml"))


@pytest.mark.parametrize("recipe", CONFIGS, ids=lambda p: p.stem)
def test_every_recipe_is_a_valid_config(recipe: Path) -> None:
    if "pose" in recipe.read_text() and importlib.util.find_spec("mediapipe") is None:
        pytest.skip("the pose extra is not installed")
    config = resolve_config(recipe, {"data": "videos"})
    check_config(config)  # every setting against its registry and range
    assert config.model.head and config.data.frames >= 1
    assert recipe.read_text().lstrip().startswith("#")  # each says what it is and needs


@pytest.mark.slow
def test_recipe_with_command_line_overrides(synthetic_dataset, tmp_path: Path) -> None:
    root = synthetic_dataset.root
    invoke(
        "train",
        "--config",
        CONFIGS[0].parent / "demo.yaml",
        *split_args(root),
        "--epochs",
        "1",
        "--head",
        "gru",
        "--cache-dir",
        tmp_path / "cache",
        *FAST_RUN,
        "--out",
        tmp_path / "run",
    )
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["model"]["head"] == "gru"  # the flag wins
    assert config["epochs"] == 1 and config["data"]["size"] == 32
    assert config["model"]["backbone"] == "tf_efficientnet_lite0"  # from the recipe
    assert config["lr"] == 0.001 and config["data"]["batch_size"] == 8


@pytest.mark.slow
def test_resume_needs_a_run(tmp_path: Path) -> None:
    from vidact.cli.main import app

    result = runner.invoke(app, ["train", "--resume", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "nothing to resume" in result.output


@pytest.mark.slow
def test_backbone_unfreezes_at_the_given_epoch(synthetic_dataset, tmp_path: Path) -> None:
    root, run = synthetic_dataset.root, tmp_path / "run"
    invoke(
        "train",
        *split_args(root),
        "--backbone",
        "tf_efficientnet_lite0",
        "--pretrained",
        "--freeze",
        "all",
        "--unfreeze-epoch",
        "2",
        "--backbone-lr-mult",
        "0.1",
        "--head",
        "transformer",
        "--epochs",
        "2",
        "--optimizer",
        "adamw",
        "--scheduler",
        "cosine",
        "--warmup-epochs",
        "1",
        "--grad-clip",
        "1.0",
        "--accumulate",
        "2",
        "--label-smoothing",
        "0.1",
        *FAST_RUN,
        "--out",
        run,
    )
    summary = json.loads((run / "summary.json").read_text())
    assert summary["feature_cache"] is None  # the backbone trains at some point: pixels
    assert summary["trainable_parameters"] == summary["parameters"]
    assert (run / "tensorboard").is_dir()
    # the open-set distance is fitted on decoded training clips too, as the weights ended
    saved = read_checkpoint(run / "checkpoints" / "best.ckpt")
    classes = len(saved[METADATA_KEY]["classes"])
    stored = OpenSet.from_dict(saved[OPEN_SET_KEY], classes)
    assert stored.means.shape == (classes, 256) and math.isfinite(stored.threshold)


@pytest.mark.slow
def test_runs_repeat_for_a_seed(synthetic_dataset, tmp_path: Path) -> None:
    root = synthetic_dataset.root
    tables = []
    for name in ("a", "b"):
        invoke(
            "train",
            *split_args(root),
            "--head",
            "lstm",
            "--epochs",
            "2",
            "--seed",
            "3",
            "--cache-dir",
            tmp_path / "cache",
            *FAST_RUN,
            "--out",
            tmp_path / name,
        )
        with (tmp_path / name / "metrics.csv").open() as handle:
            tables.append([(r["train_loss"], r["val_loss"]) for r in csv.DictReader(handle)])
    assert tables[0] == tables[1]


def test_epochs_show_in_a_log_file(synthetic_dataset, tmp_path: Path) -> None:
    """Output that is not a terminal (a batch job's log) gets one line per epoch, not a bar."""
    quiet = [flag for flag in FAST_RUN if flag != "--no-progress"]
    output = invoke(
        "train", *split_args(synthetic_dataset.root), "--epochs", "2", *quiet,
        "--cache-dir", tmp_path / "cache", "--out", tmp_path / "run",
    )  # fmt: skip
    lines = [line for line in output.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "train loss" in lines[0] and "val loss" in lines[0] and "\r" not in output
    silent = invoke(
        "train", *split_args(synthetic_dataset.root), "--epochs", "1", *FAST_RUN,
        "--cache-dir", tmp_path / "cache", "--out", tmp_path / "quiet",
    )  # fmt: skip
    assert "epoch 1/1" not in silent  # --no-progress: neither bar nor lines


@pytest.mark.slow
def test_models_lists_backbones_and_heads() -> None:
    listing = json.loads(invoke("models", "--num-classes", "10", "--json"))
    backbones = {row["name"]: row for row in listing["backbones"]}
    assert backbones["tf_efficientnet_lite0"]["weights"] == "imagenet (offline)"
    assert {"convnet", "lrcn_cnn", "alexnet"} <= set(backbones)
    heads = {row["name"]: row for row in listing["heads"]}
    assert set(heads) == {
        "lstm",
        "gru",
        "rnn",
        "bilstm",
        "bigru",
        "transformer",
        "mean",
        "max",
        "stats",
        "linear",
        "linear_sequence",
    }
    assert heads["mean"]["parameters"] == 1280 * 256 + 256 + 256 * 10 + 10
    assert heads["linear"]["parameters"] == 3 * 1280 * 10 + 10  # one linear layer
    assert not heads["linear"]["order_aware"]
    assert not heads["max"]["order_aware"] and heads["bilstm"]["order_aware"]
    assert "mobilenetv3_large_100" in invoke("models", "--filter", "mobilenetv3*")


@pytest.mark.slow
def test_bad_sampling_is_refused_before_the_run_directory_is_written(
    synthetic_dataset, tmp_path: Path
) -> None:
    from vidact.cli.main import app

    args = [
        "train",
        *map(str, split_args(synthetic_dataset.root)),
        "--sampling",
        "window",
        "--window-stride",
        "soon",
        "--out",
        str(tmp_path / "run"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "--window-stride 'soon'" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "run").exists()
