from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidact.demo import DemoSettings, run_demo
from vidact.errors import ConfigError


@pytest.mark.slow
def test_demo_writes_runs_reports_and_the_comparison(tmp_path: Path) -> None:
    tiny = DemoSettings(videos_per_class=10, video_frames=6, clip_frames=3, size=32, epochs=1)
    rows = run_demo(tmp_path, tiny, heads=("gru", "max"))
    assert [row.head for row in rows] == ["gru", "max"]
    for row in rows:
        assert (row.run_dir / "checkpoints" / "best.ckpt").is_file()
        assert (row.report_dir / "metrics.json").is_file()
        assert 0.0 <= row.test_top1 <= 1.0
    table = json.loads((tmp_path / "comparison.json").read_text())
    assert [entry["head"] for entry in table] == ["gru", "max"]
    # the second head reused the first one's frame features, for training and for its test
    # videos: one cache namespace of each
    kinds = sorted(
        "evaluation_views" in json.loads(settings.read_text())
        for settings in (tmp_path / "cache" / "features").glob("*/settings.json")
    )
    assert kinds == [False, True]


def test_demo_names_unknown_heads(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown head.*known: bigru"):
        run_demo(tmp_path, heads=("lstm", "cnn3d"))


def test_demo_under_torchrun_is_refused_in_its_own_words(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")  # each process would run the whole demo
    with pytest.raises(ConfigError, match="vidact demo trains its runs one after another"):
        run_demo(tmp_path / "demo")
    assert not (tmp_path / "demo").exists()  # refused before any video is written


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"videos_per_class": 0}, "--videos-per-class must be a whole number >= 3"),
        ({"epochs": 1.5}, "--epochs must be a whole number >= 1"),
        ({"seed": -1}, "--seed must lie in"),
        ({"temporal_input": "speed"}, "--temporal-input must be one of raw"),
    ],
)
def test_demo_settings_check_themselves(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        DemoSettings(**settings)


@pytest.mark.slow
def test_demo_promise_the_temporal_head_beats_frame_averaging(tmp_path: Path) -> None:
    """The README's promise on a smaller demo (64 px, 24 videos per class, 20 epochs): the LSTM
    reads frame order and the frame-averaging baseline cannot (0.90 vs 0.40 when measured)."""
    settings = DemoSettings(videos_per_class=24, size=64, epochs=20)
    rows = {row.head: row.test_top1 for row in run_demo(tmp_path, settings, heads=("lstm", "mean"))}
    assert rows["lstm"] >= 0.75 and rows["lstm"] - rows["mean"] >= 0.3, rows


def test_the_demo_recipe_is_the_demos_lstm_run() -> None:
    """configs/demo.yaml reproduces the demo's LSTM run: the two must not drift apart."""
    from vidact.config import TrainConfig, load_recipe

    recipe = TrainConfig.from_dict(load_recipe(Path(__file__).parents[1] / "configs" / "demo.yaml"))
    demo = DemoSettings()
    assert recipe.data.frames == demo.clip_frames and recipe.data.size == demo.size
    assert recipe.data.batch_size == demo.batch_size and recipe.epochs == demo.epochs
    assert (recipe.model.backbone, recipe.model.head) == ("tf_efficientnet_lite0", "lstm")
    defaults = TrainConfig()  # what the demo leaves to the defaults, the recipe must too
    assert (recipe.optimizer, recipe.lr, recipe.seed) == (
        defaults.optimizer,
        defaults.lr,
        demo.seed,
    )
    assert demo.videos_per_class == 36 and demo.video_frames == 24  # `vidact synth`'s, as it says
