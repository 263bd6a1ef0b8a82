"""vidact compare: a grid of runs, its tables against the individual evaluations, re-runs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import invoke, runner
from vidact.cli.main import app
from vidact.io.reader import VideoReader


def _grid(path: Path, root: Path, cache: Path, epochs: int = 2) -> Path:
    grid = {
        "settings": {
            "data": {"root": str(root), "split_file": str(root / "split.csv"), "frames": 3,
                     "size": 32, "batch_size": 8, "workers": 0},
            "model": {"backbone": "tf_efficientnet_lite0", "pretrained": True},
            "epochs": epochs,
            "cache_dir": str(cache),
        },
        "grid": {"head": ["lstm", "gru", "mean"], "seed": [0, 1]},
        "evaluate": {"topk": [1, 2]},
    }  # fmt: skip
    path.write_text(yaml.safe_dump(grid))
    return path


@pytest.mark.slow
def test_a_grid_matches_its_individual_evaluations(
    synthetic_dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(synthetic_dataset.root)
    grid = _grid(tmp_path / "grid.yaml", root, tmp_path / "cache")
    out = tmp_path / "cmp"
    log = tmp_path / "opened.txt"  # appended to by loader worker processes too
    original = VideoReader.__init__

    def counting(self, path, *args, **kwargs) -> None:
        with log.open("a") as handle:
            handle.write(f"{Path(path).resolve()}\n")
        original(self, path, *args, **kwargs)

    monkeypatch.setattr(VideoReader, "__init__", counting)
    output = invoke("compare", "--config", grid, "--out", out)
    monkeypatch.undo()
    # six heads on one frozen encoder: each test video decoded (and encoded) once in all
    test = [(root / r["path"]).resolve() for r in csv.DictReader((root / "split.csv").open())
            if r["split"] == "test"]  # fmt: skip
    opened = [Path(line) for line in log.read_text().splitlines()]
    assert test and [opened.count(video) for video in test] == [1] * len(test)
    assert output.count("epoch 2/2: train loss") == 6  # each run's epochs show in a log
    assert "| lstm |" in output.replace("tf_efficientnet_lite0 ", "") or "lstm" in output
    runs = list(csv.DictReader((out / "runs.csv").open()))
    assert len(runs) == 6
    for row in runs:
        name = Path(row["run"]).name
        alone = tmp_path / "alone" / name
        invoke(
            "evaluate", Path(row["run"]) / "checkpoints" / "best.ckpt", "--data", root,
            "--split-file", root / "split.csv", "--split", "test", "--topk", "1,2",
            "--out", alone, "--workers", "0",
        )  # fmt: skip
        metrics = json.loads((alone / "metrics.json").read_text())
        assert float(row["test_top1"]) == pytest.approx(metrics["top1"])
        assert float(row["test_top2"]) == pytest.approx(metrics["top2"])
        assert float(row["test_loss"]) == pytest.approx(metrics["loss"])
    table = list(csv.DictReader((out / "comparison.csv").open()))
    assert [r["head"] for r in table] == ["lstm", "gru", "mean"]
    lstm = [float(r["test_top1"]) for r in runs if "head=lstm" in r["run"]]
    assert float(table[0]["test_top1"]) == pytest.approx(sum(lstm) / 2)
    assert table[0]["runs"] == "2" and "test_top1_sd" in table[0]
    assert "±" in (out / "comparison.md").read_text()
    for entry in table:  # every run tested the same videos: intervals over the test groups
        low, top1, high = (
            float(entry[k]) for k in ("test_top1_low", "test_top1", "test_top1_high")
        )
        assert low <= top1 <= high
    assert not table[0]["versus_first"]  # the first is what the others are held against
    for entry in table[1:]:
        difference = float(entry["versus_first"])
        assert difference == pytest.approx(float(entry["test_top1"]) - float(table[0]["test_top1"]))
        assert float(entry["versus_first_low"]) <= difference <= float(entry["versus_first_high"])
    assert "against the first" in (out / "comparison.md").read_text()
    invoke("report", out, "--out", tmp_path / "grid.html")  # two seeds a configuration
    assert "±" in (tmp_path / "grid.html").read_text()
    for chart in ("comparison_accuracy.png", "comparison_loss.png"):
        assert (out / chart).stat().st_size > 5000

    again = runner.invoke(app, ["compare", "--config", str(grid), "--out", str(out)])
    assert again.exit_code == 0 and again.output.count("finished before, kept") == 6
    changed = _grid(tmp_path / "grid3.yaml", root, tmp_path / "cache", epochs=3)
    again = runner.invoke(app, ["compare", "--config", str(changed), "--out", str(out)])
    assert "finished before" not in again.output  # other settings: trained again

    by_hand = tmp_path / "by-hand"
    invoke("compare", *sorted((out / "runs").iterdir()), *sorted((out / "eval").iterdir()),
           "--out", by_hand)  # fmt: skip
    hand = list(csv.DictReader((by_hand / "comparison.csv").open()))
    assert len(hand) == 6 and all(r["test_top1"] and r["val_acc"] for r in hand)


@pytest.mark.slow
def test_a_grid_over_a_plain_folder_tests_each_run_on_the_split_it_drew(
    synthetic_dataset, tmp_path: Path
) -> None:
    grid = yaml.safe_load(
        _grid(tmp_path / "g.yaml", synthetic_dataset.root, tmp_path / "c").read_text()
    )
    del grid["settings"]["data"]["split_file"]  # vidact draws the split
    grid["settings"]["epochs"] = 1
    grid["grid"] = {"head": ["mean"]}
    (tmp_path / "g.yaml").write_text(yaml.safe_dump(grid))
    invoke("compare", "--config", tmp_path / "g.yaml", "--out", tmp_path / "cmp")
    run = tmp_path / "cmp" / "runs" / "mean"
    tested = [r for r in csv.DictReader((run / "split.csv").open()) if r["split"] == "test"]
    metrics = json.loads((tmp_path / "cmp" / "eval" / "mean" / "metrics.json").read_text())
    assert tested and metrics["num_videos"] == len(tested)


def _evaluation(folder: Path, correct: list[int], groups: list[str]) -> Path:
    """An evaluation folder as `vidact evaluate` writes it, with these answers."""
    folder.mkdir(parents=True)
    top1 = sum(correct) / len(correct)
    folder.joinpath("metrics.json").write_text(
        json.dumps({"top1": top1, "mean_class_accuracy": top1, "loss": 1.0})
    )
    with (folder / "predictions.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "predicted", "probability", "correct", "file", "group"])
        for number, (right, group) in enumerate(zip(correct, groups, strict=True)):
            writer.writerow(
                [f"v{number:02d}.avi", "a", "a" if right else "b", 0.9, right, "", group]
            )
    return folder


def test_compared_models_differ_by_more_than_luck_only_when_the_interval_says_so(
    tmp_path: Path,
) -> None:
    groups = [f"g{number // 2}" for number in range(20)]  # ten groups of two videos
    first = _evaluation(tmp_path / "all-right", [1] * 20, groups)
    second = _evaluation(tmp_path / "one-group-wrong", [0, 0] + [1] * 18, groups)
    output = invoke("compare", first, second, "--out", tmp_path / "table")
    table = list(csv.DictReader((tmp_path / "table" / "comparison.csv").open()))
    assert float(table[0]["test_top1_low"]) == float(table[0]["test_top1_high"]) == 1.0
    assert float(table[1]["versus_first"]) == pytest.approx(-0.1)
    # the one group wrong may be drawn not at all (no difference) or several times
    assert float(table[1]["versus_first_high"]) == 0.0
    assert float(table[1]["versus_first_low"]) <= -0.2
    assert "95% over groups" in output and "-0.1000 (-0." in output
    assert "| None |" not in output  # evaluations without a run: no backbone or head to show
    invoke("report", tmp_path / "table", "--out", tmp_path / "report.html")
    page = (tmp_path / "report.html").read_text()
    assert "against the first" in page and "-0.1000 (-0.30 to +0.00)" in page

    other = _evaluation(tmp_path / "other-videos", [1] * 19, groups[:19])
    result = runner.invoke(app, ["compare", str(first), str(other), "--out", str(tmp_path / "t2")])
    assert result.exit_code == 0 and "tested different videos" in result.output
    assert "versus_first" not in (tmp_path / "t2" / "comparison.csv").read_text()


def test_grid_files_are_checked(tmp_path: Path, synthetic_dataset) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("grid: {head: lstm}\n")
    result = runner.invoke(app, ["compare", "--config", str(bad)])
    assert result.exit_code == 2 and "non-empty list" in result.output
    grid = _grid(tmp_path / "g.yaml", Path(synthetic_dataset.root), tmp_path / "cache")
    raw = yaml.safe_load(grid.read_text())
    raw["grid"]["head"] = ["lstm", "lstmm"]
    grid.write_text(yaml.safe_dump(raw))
    result = runner.invoke(app, ["compare", "--config", str(grid), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "unknown head 'lstmm'" in result.output
    raw["grid"]["head"], raw["settings"]["devices"] = ["lstm", "gru"], 2
    grid.write_text(yaml.safe_dump(raw))  # DDP would start copies of the whole comparison
    result = runner.invoke(app, ["compare", "--config", str(grid), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "compare trains its runs one after another" in result.output
    assert not (tmp_path / "o" / "runs").exists()  # checked before anything trains
    result = runner.invoke(app, ["compare"])
    assert result.exit_code == 2 and "give a grid" in result.output


@pytest.mark.parametrize(
    "grid",
    sorted((Path(__file__).resolve().parents[2] / "configs" / "grids").glob("*.yaml")),
    ids=lambda p: p.stem,
)
def test_shipped_grids_plan(grid: Path, tmp_path: Path, synthetic_dataset) -> None:
    from dataclasses import replace

    from vidact.evaluation.compare import load_grid, plan_runs

    assert grid.read_text().startswith("#")  # each says what it is and how to run it
    spec = load_grid(grid)
    root = Path(synthetic_dataset.root)  # the grid's data, here
    data = {**spec.settings["data"], "root": str(root), "split_file": str(root / "split.csv")}
    planned = plan_runs(replace(spec, settings={**spec.settings, "data": data}), tmp_path)
    assert len(planned) == len({name for name, _, _ in planned}) >= 2


def test_run_names_show_head_arguments_readably() -> None:
    from vidact.evaluation.compare import run_name

    assert run_name({"head": "lstm"}) == "lstm"
    assert run_name({"head_args": {"depth": 1, "dim": 128}, "seed": 0}) == (
        "head_args=depth-1+dim-128_seed=0"
    )
    assert run_name({"head_args": {}}) == "none"
