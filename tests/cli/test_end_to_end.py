"""The newcomer's path through the command line: synth -> train -> evaluate -> predict."""

from __future__ import annotations

import csv
import importlib.util
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import REAL_SMOKE, invoke, runner, split_args
from vidact.cli.main import app
from vidact.config import TrainConfig
from vidact.data.index import VideoIndex
from vidact.data.synthetic import write_synthetic_dataset
from vidact.io.reader import probe

HAS_POSE = importlib.util.find_spec("mediapipe") is not None


@pytest.mark.slow
def test_synth_writes_a_split_dataset(tmp_path: Path) -> None:
    output = invoke(
        "synth",
        tmp_path / "d",
        "--videos-per-class",
        "3",
        "--frames",
        "6",
        "--size",
        "32",
        "--seed",
        "2",
    )
    assert "wrote 24 videos of 8 classes" in output
    assert "writing: 12/12 clip pairs (100%" in output  # progress, also in a log
    rows = list(csv.DictReader((tmp_path / "d" / "split.csv").open()))
    assert len(rows) == 24 and {r["split"] for r in rows} <= {"train", "val", "test"}
    # 3 videos a class are one group of scenes: all of it training, which the note says
    assert "3 videos per class make too few groups for a validation and a test" in output


@pytest.mark.slow
def test_train_writes_the_run_directory(trained_run: Path) -> None:
    for name in (
        "config.yaml",
        "split.csv",
        "metrics.csv",
        "curves.png",
        "summary.json",
        "checkpoints/best.ckpt",
        "checkpoints/last.ckpt",
    ):
        assert (trained_run / name).is_file(), name
    rows = list(csv.DictReader((trained_run / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert set(rows[0]) == {
        "epoch",
        "train_loss",
        "train_acc",
        "val_loss",
        "val_acc",
        "lr",
        "seconds",
    }
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and summary["trainable_parameters"] < summary["parameters"]
    assert summary["validation"]["groups_shared_with_train"] == []
    config = yaml.safe_load((trained_run / "config.yaml").read_text())
    assert config["model"]["head"] == "lstm" and config["data"]["frames"] == 4


@pytest.mark.slow
def test_train_refuses_to_overwrite_a_run(trained_run: Path, synthetic_dataset) -> None:
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(synthetic_dataset.root),
            "--out",
            str(trained_run),
            "--epochs",
            "1",
        ],
    )
    assert result.exit_code == 2 and "already holds a run" in result.output


@pytest.mark.slow
def test_evaluate_scores_every_test_video_once(
    trained_run: Path, synthetic_dataset, tmp_path: Path
) -> None:
    output = invoke(
        "evaluate",
        trained_run / "checkpoints" / "best.ckpt",
        *split_args(synthetic_dataset.root),
        "--split",
        "test",
        "--out",
        tmp_path / "eval",
        "--workers",
        "0",
    )
    assert "top1" in output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    test_items = synthetic_dataset.subset("test")
    assert metrics["num_videos"] == len(test_items)
    for key in ("top1", "top5", "mean_class_accuracy", "loss", "per_class", "confusion_matrix"):
        assert key in metrics
    assert sum(map(sum, metrics["confusion_matrix"])) == len(test_items)
    low, high = metrics["top1_interval"]  # where top-1 could lie on other groups of the kind
    assert metrics["interval_over"] == "groups" and low <= metrics["top1"] <= high
    assert f"top1 {metrics['top1']:.4f} (95% over groups: {low:.2f}-{high:.2f})" in output
    groups = len({item.group for item in test_items})
    assert metrics["interval_groups"] == groups  # fewer than 10: said to be too narrow
    assert ("it is too narrow" in output) == (groups < 10)
    with (tmp_path / "eval" / "predictions.csv").open() as handle:
        paths = [row["path"] for row in csv.DictReader(handle)]
    assert paths == sorted(i.relpath for i in test_items)
    assert (tmp_path / "eval" / "confusion_matrix.png").stat().st_size > 0


@pytest.mark.slow
def test_predict_json_follows_the_contract(trained_run: Path, synthetic_dataset) -> None:
    video = synthetic_dataset.subset("test")[0].path
    output = invoke(
        "predict", trained_run / "checkpoints" / "best.ckpt", video, "--topk", "3", "--json"
    )
    result = json.loads(output.strip().splitlines()[-1])
    assert result["video"] == str(video)
    (only,) = result["timeline"]  # a short clip: one segment spanning it, with its top label
    assert set(only) == {"start_s", "end_s", "label", "probability", "mean_p", "peak_p"}
    assert only["start_s"] == 0 and only["end_s"] == pytest.approx(probe(video)["duration"])
    assert only["label"] == result["label"] in (result["top_k"][0]["label"], "unknown")
    assert [set(e) for e in result["top_k"]] == [{"label", "probability"}] * 3
    assert {e["label"] for e in result["top_k"]} <= set(synthetic_dataset.classes)
    probabilities = [e["probability"] for e in result["top_k"]]
    assert probabilities == sorted(probabilities, reverse=True)


@pytest.mark.slow
@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
def test_predict_on_real_videos(trained_run: Path) -> None:
    videos = sorted(REAL_SMOKE.glob("*/*/*.*"))
    output = invoke("predict", trained_run / "checkpoints" / "best.ckpt", *videos, "--json")
    results = [json.loads(line) for line in output.strip().splitlines() if line.startswith("{")]
    assert len(results) == len(videos) == 6
    assert all(len(r["top_k"]) == 5 for r in results)


@pytest.mark.slow
def test_predict_explains_bad_input(trained_run: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    result = runner.invoke(
        app, ["predict", str(trained_run / "checkpoints" / "best.ckpt"), str(bad)]
    )
    assert result.exit_code == 2
    assert str(bad) in result.output and "not a readable video" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["predict", str(bad), str(bad)])
    assert result.exit_code == 2 and "checkpoint" in result.output


@pytest.mark.slow
def test_train_on_pixels_with_a_trainable_backbone(synthetic_dataset, tmp_path: Path) -> None:
    """No feature cache: decoded clips, augmentation and a backbone that learns."""
    invoke(
        "train",
        "--data",
        synthetic_dataset.root,
        "--val-fraction",
        "0.2",
        "--test-fraction",
        "0.2",
        "--backbone",
        "test_efficientnet",
        "--no-pretrained",
        "--head",
        "gru",
        "--frames",
        "3",
        "--size",
        "32",
        "--epochs",
        "1",
        "--batch-size",
        "8",
        "--optimizer",
        "sgd",
        "--workers",
        "1",
        "--no-progress",
        "--out",
        tmp_path / "run",
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["feature_cache"] is None
    assert summary["trainable_parameters"] == summary["parameters"]
    split = list(csv.DictReader((tmp_path / "run" / "split.csv").open()))
    assert {row["split"] for row in split} == {"train", "val", "test"}


@pytest.mark.slow
def test_resolved_config_loads_back(trained_run: Path) -> None:
    raw = yaml.safe_load((trained_run / "config.yaml").read_text())
    config = TrainConfig.from_dict(raw)
    assert config.to_dict() == raw
    assert config.model.head == "lstm" and config.data.size == 32


@pytest.mark.slow
@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
@pytest.mark.parametrize(
    "backbone",
    [
        "tf_efficientnet_lite0",
        pytest.param("pose", marks=pytest.mark.skipif(not HAS_POSE, reason="no pose extra")),
        pytest.param("pose_arms", marks=pytest.mark.skipif(not HAS_POSE, reason="no pose extra")),
        pytest.param(
            "tf_efficientnet_lite0+pose",
            marks=pytest.mark.skipif(not HAS_POSE, reason="no pose extra"),
        ),
    ],
)
def test_train_evaluate_predict_on_real_ucf101_clips(tmp_path: Path, backbone: str) -> None:
    """Real MPEG-4 AVI files we did not generate: too few to learn from, enough to run the path
    (frozen encoders, the pose encoder and a fusion included) from the checkpoint alone."""
    root = REAL_SMOKE / "UCF101"
    videos = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.avi"))
    split = tmp_path / "split.csv"
    rows = [f"{v},{'val' if 'Biking' in v else 'train'}" for v in videos]
    split.write_text("path,split\n" + "\n".join(rows) + "\n")
    run = tmp_path / "run"
    invoke(
        "train",
        "--data",
        root,
        "--split-file",
        split,
        "--backbone",
        backbone,
        "--head",
        "gru",
        "--frames",
        "4",
        "--size",
        "64",
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--workers",
        "0",
        "--no-progress",
        "--cache-dir",
        tmp_path / "cache",
        "--out",
        run,
    )
    checkpoint = run / "checkpoints" / "best.ckpt"
    invoke("evaluate", checkpoint, "--data", root, "--out", tmp_path / "eval", "--workers", "0")
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["num_videos"] == 4 and set(metrics["per_class"]) == {
        "ApplyEyeMakeup",
        "BaseballPitch",
        "Biking",
        "Punch",
    }
    output = invoke("predict", checkpoint, root / videos[0], "--json")
    assert json.loads(output.strip().splitlines()[-1])["top_k"][0]["label"] in metrics["per_class"]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["feature_cache"].count(str(tmp_path / "cache")) == backbone.count("+") + 1


@pytest.fixture
def dataset_with_a_broken_video(tmp_path: Path) -> tuple[VideoIndex, Path]:
    index = write_synthetic_dataset(
        tmp_path / "d", videos_per_class=4, frames=6, size=32, clips_per_group=1
    )
    broken = index.subset("train")[0].path
    broken.write_bytes(b"\x00garbage" * 100)
    return index, broken


@pytest.mark.slow
def test_training_skips_an_unreadable_video_and_reports_it(
    dataset_with_a_broken_video, tmp_path: Path
) -> None:
    index, broken = dataset_with_a_broken_video
    output = invoke(
        "train",
        *split_args(index.root),
        "--backbone",
        "test_efficientnet",
        "--no-pretrained",
        "--frames",
        "2",
        "--size",
        "32",
        "--epochs",
        "2",
        "--workers",
        "1",
        "--no-progress",
        "--max-bad-fraction",
        "0.2",
        "--out",
        tmp_path / "run",
    )
    assert f"skipped 1 unreadable video(s): {broken}" in output
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs_run"] == 2 and summary["unreadable_videos"] == [str(broken)]


@pytest.mark.slow
def test_training_stops_when_too_many_videos_are_unreadable(
    dataset_with_a_broken_video, tmp_path: Path
) -> None:
    index, broken = dataset_with_a_broken_video
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(index.root),
            "--split-file",
            str(index.root / "split.csv"),
            "--frames",
            "2",
            "--size",
            "32",
            "--epochs",
            "1",
            "--workers",
            "1",
            "--no-progress",
            "--max-bad-fraction",
            "0.01",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--out",
            str(tmp_path / "run"),
        ],
    )
    assert result.exit_code == 2, result.output
    assert str(broken) in result.output and "--max-bad-fraction allows (0)" in result.output
    assert "Traceback" not in result.output


@pytest.mark.slow
def test_evaluate_with_clips_crops_and_categories(
    trained_run: Path, synthetic_dataset, tmp_path: Path
) -> None:
    categories = tmp_path / "categories.csv"
    categories.write_text(
        "class,category\n"
        + "".join(
            f"{name},{'light' if name in ('brightening', 'darkening') else 'shape'}\n"
            for name in synthetic_dataset.classes
        )
    )
    output = invoke(
        "evaluate",
        trained_run / "checkpoints" / "best.ckpt",
        *split_args(synthetic_dataset.root),
        "--clips",
        "2",
        "--crops",
        "3",
        "--categories",
        categories,
        "--out",
        tmp_path / "eval",
        "--workers",
        "0",
    )
    assert "x 6 views" in output and "[light]" in output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert (metrics["clips_per_video"], metrics["crops_per_clip"]) == (2, 3)
    assert set(metrics["per_category"]) == {"light", "shape"}
    assert metrics["per_category"]["light"]["num_classes"] == 2
    for plot in ("per_class.png", "per_category.png", "confusion_matrix.png"):
        assert (tmp_path / "eval" / plot).stat().st_size > 0


@pytest.mark.slow
def test_dataset_info_and_check(synthetic_dataset, tmp_path: Path) -> None:
    output = invoke(
        "dataset",
        "info",
        *split_args(synthetic_dataset.root),
    )
    info = json.loads(output[output.index("{") :])
    assert info["classes"] == list(synthetic_dataset.classes)
    assert sum(info["videos"].values()) == len(synthetic_dataset.items)
    assert info["group_in_two_splits"] is False and info["leaking_groups"] == []
    output = invoke("dataset", "check", "--data", synthetic_dataset.root, "--workers", "0")
    assert (
        f"{len(synthetic_dataset.items)} of {len(synthetic_dataset.items)} videos decode" in output
    )


@pytest.mark.slow
def test_dataset_check_lists_unreadable_videos(dataset_with_a_broken_video) -> None:
    index, broken = dataset_with_a_broken_video
    result = runner.invoke(app, ["dataset", "check", "--data", str(index.root), "--workers", "1"])
    assert result.exit_code == 1
    assert f"unreadable: {broken}" in result.output
    assert f"{len(index.items) - 1} of {len(index.items)} videos decode" in result.output


@pytest.mark.slow
def test_clip_cache_training_and_cache_commands(synthetic_dataset, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    invoke(
        "train",
        *split_args(synthetic_dataset.root),
        "--backbone",
        "test_efficientnet",
        "--no-pretrained",
        "--head",
        "lstm",
        "--frames",
        "3",
        "--size",
        "32",
        "--epochs",
        "2",
        "--augment",
        "seeds",
        "--no-flip",
        "--sampling",
        "dense",
        "--interval",
        "2",
        "--workers",
        "0",
        "--no-progress",
        "--cache-dir",
        cache,
        "--out",
        tmp_path / "run",
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["clip_cache"] and summary["feature_cache"] is None
    info = json.loads(invoke("cache", "info", "--cache-dir", cache))
    clips = info["kinds"]["clips"]
    assert len(clips) == 1 and clips[0]["entries"] == len(synthetic_dataset.subset("train")) + len(
        synthetic_dataset.subset("val")
    )
    assert "freed" in invoke("cache", "clear", "--cache-dir", cache, "--kind", "clips")
    assert json.loads(invoke("cache", "info", "--cache-dir", cache))["kinds"]["clips"] == []
    config = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())
    assert config["data"]["augment"] == "seeds" and config["data"]["flip"] is False


@pytest.mark.slow
@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
def test_truncated_real_avi_is_reported_not_half_read(trained_run: Path, tmp_path: Path) -> None:
    """The first 30% of a UCF101 clip: check lists it as truncated, predict refuses it."""
    root = tmp_path / "ucf"
    shutil.copytree(REAL_SMOKE / "UCF101", root)
    punch = root / "Punch" / "v_Punch_g03_c01.avi"
    punch.write_bytes(punch.read_bytes()[: int(punch.stat().st_size * 0.3)])
    (root / "Punch" / "._v_Punch_g03_c01.avi").write_bytes(b"\0\5\26\7 macOS resource fork")
    result = runner.invoke(app, ["dataset", "check", "--data", str(root), "--workers", "0"])
    assert result.exit_code == 1, result.output
    assert "3 of 4 videos decode" in result.output  # the ._ file is not a video at all
    assert re.search(
        rf"unreadable: {re.escape(str(punch))}: truncated: \d+ of the 108", result.output
    )
    result = runner.invoke(app, ["predict", str(trained_run / "checkpoints/best.ckpt"), str(punch)])
    assert (
        result.exit_code == 2 and "truncated" in result.output and "Traceback" not in result.output
    )


@pytest.mark.slow
def test_the_readme_path_for_your_own_videos(
    synthetic_dataset: VideoIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's 'Your own videos' commands as written (the web server left out), in a
    folder holding my_videos/<class>/<video> and new.mp4."""
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    block = readme.split("**Your own videos**", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    commands = [line.split("#", 1)[0].split() for line in block.splitlines()]
    assert [c[1] for c in commands] == ["dataset", "train", "evaluate", "predict", "serve"]
    shutil.copytree(
        synthetic_dataset.root, tmp_path / "my_videos", ignore=shutil.ignore_patterns("*.csv")
    )
    shutil.copy(synthetic_dataset.items[0].path, tmp_path / "new.mp4")
    monkeypatch.chdir(tmp_path)
    outputs = [invoke(*command[1:]) for command in commands[:-1]]
    split = csv.DictReader(Path("runs/mine/split.csv").read_text().splitlines())
    tested = [row for row in split if row["split"] == "test"]
    assert f"scoring the {len(tested)} test videos of runs/mine/split.csv" in outputs[2]
    assert json.loads(Path("reports/mine/metrics.json").read_text())["num_videos"] == len(tested)
    assert probe("annotated.mp4")["num_frames"] == probe("new.mp4")["num_frames"]
