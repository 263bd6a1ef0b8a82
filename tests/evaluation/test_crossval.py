"""vidact crossval: group-disjoint folds, every video tested once, the learning curve, refusals."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import FAST_RUN, invoke, runner
from vidact.cli.main import app
from vidact.data.index import group_of
from vidact.evaluation.crossval import counted_groups, repeat_summary
from vidact.inference.load import load_predictor
from vidact.inference.predictor import Predictor
from vidact.training.features import FeatureExtractor

RUN = [*FAST_RUN, "--epochs", "2"]
TINY = ["--frames", "3", "--size", "32", "--workers", "0"]  # crossval's own flags


def _fails(args: list[object], expected: str) -> None:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2 and expected in result.output, result.output


@pytest.mark.slow
def test_folds_are_group_disjoint_and_every_video_is_tested_once(
    synthetic_dataset, tmp_path: Path
) -> None:
    root, out = synthetic_dataset.root, tmp_path / "cv"
    args = ["crossval", "--data", root, *TINY, "--epochs", "2", "--folds", "3",
            "--train-sizes", "0.5,1", "--out", out]  # fmt: skip
    output = invoke(*args)
    assert "48 videos in 6 groups, 3 folds: pooled top-1" in output
    low, high = json.loads((out / "crossval.json").read_text())["pooled_top1_interval"]
    assert f"(95% over groups: {low:.2f}-{high:.2f})" in output  # where it could lie elsewhere
    assert output.count("(95% over groups: ") == 3  # and each point of the learning curve
    assert output.count("epoch 2/2: train loss") == 6  # each run's epochs show in a log
    summary = json.loads((out / "crossval.json").read_text())
    assert summary["num_videos"] == 48 and len(summary["per_fold"]) == 3
    assert [p["train_size"] for p in summary["learning_curve"]] == [0.5, 1.0]
    small, whole = summary["learning_curve"]
    assert small["train_clips_per_class"] < whole["train_clips_per_class"]
    assert low <= summary["pooled_top1"] <= high
    # how often known test videos are answered unknown: pooled from the folds' own reports
    refused = [
        json.loads((out / "folds" / f"fold-{k}_size-1" / "test" / "metrics.json").read_text())[
            "rejection"
        ]["known_rejected"]
        for k in (1, 2, 3)
    ]
    assert [row["test_known_rejected"] for row in summary["per_fold"]] == refused
    tested = [row["test_videos"] for row in summary["per_fold"]]
    pooled = sum(r * n for r, n in zip(refused, tested, strict=True)) / 48
    assert summary["pooled_known_rejected"] == pytest.approx(pooled)
    assert f"answered unknown (--reject auto): {pooled:.1%}" in output
    assert output.count("(2 groups), trained on") == 3  # each fold's line: 2 of the 6 groups
    per_group = summary["per_group"]  # which groups the pooled figure hides
    assert sum(row["num_videos"] for row in per_group.values()) == 48 and len(per_group) == 6
    pooled_right = sum(row["accuracy"] * row["num_videos"] for row in per_group.values())
    assert pooled_right == pytest.approx(48 * summary["pooled_top1"])
    assert ("  lowest top-1 by group: " in output) == (summary["pooled_top1"] < 1)
    with (out / "predictions.csv").open() as handle:
        tested = [row["path"] for row in csv.DictReader(handle)]
    assert sorted(tested) == sorted(item.relpath for item in synthetic_dataset.items)
    seen_in_test: set[str] = set()
    for fold in range(1, 4):
        with (out / "folds" / f"fold-{fold}_size-1" / "split.csv").open() as handle:
            split = {row["path"]: row["split"] for row in csv.DictReader(handle)}
        groups = {
            s: {group_of(p, None) for p, x in split.items() if x == s} for s in split.values()
        }
        assert groups["test"].isdisjoint(groups["train"] | groups["val"])  # sources apart
        assert groups["val"].isdisjoint(groups["train"])
        seen_in_test |= {p for p, s in split.items() if s == "test"}
    assert len(seen_in_test) == 48
    for name in ("metrics.json", "confusion_matrix.png", "learning_curve.png", "crossval.csv",
                 "per_group.png"):  # fmt: skip
        assert (out / name).is_file()
    page = tmp_path / "report.html"
    invoke("report", out, "--out", page)
    assert "Cross-validation" in page.read_text() and "group-disjoint folds" in page.read_text()
    assert "test_known_rejected" in page.read_text() and "95% over groups" in page.read_text()
    again = invoke(*args)  # finished runs are kept, and the figures are the same
    assert again.splitlines()[-6:] == output.splitlines()[-6:]


@pytest.mark.slow
def test_broken_clips_within_the_dataset_s_limit_stop_no_fold(
    synthetic_dataset, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    shutil.copytree(synthetic_dataset.root, root)
    group = min(item.group for item in synthetic_dataset.items)
    broken = [item.relpath for item in synthetic_dataset.items if item.group == group][:2]
    for relpath in broken:  # 2 of 48 (the limit 5%), but 2 of the 32 a fold learns from
        (root / relpath).write_bytes(b"not a video")
    args = ["crossval", "--data", root, *TINY, "--epochs", "1", "--folds", "3"]
    output = invoke(*args, "--batch-size", "4", "--val-fraction", "0.3", "--out", tmp_path / "cv")
    assert "46 videos in 6 groups, 3 folds: pooled top-1" in output
    assert "--max-bad-fraction" not in output
    named = sorted(str(root / relpath) for relpath in broken)  # once more at the end
    assert f"2 video(s) could not be read and are left out: {', '.join(named)}" in output
    summary = json.loads((tmp_path / "cv" / "crossval.json").read_text())
    assert summary["unreadable"] == named
    assert summary["settings"]["data"]["batch_size"] == 4  # the training flags crossval takes
    assert summary["settings"]["data"]["val_fraction"] == 0.3
    invoke("report", tmp_path / "cv", "--out", tmp_path / "cv.html")  # the page names them too
    page = (tmp_path / "cv.html").read_text()
    assert "2 video(s) could not be read and are left out of the figures" in page
    assert all(path in page for path in named)
    tests = sorted((tmp_path / "cv" / "folds").glob("*/test"))  # the fold that tested them
    invoke("report", *tests, "--out", tmp_path / "folds.html")
    assert "2 video(s) could not be read" in (tmp_path / "folds.html").read_text()
    # a stricter limit (crossval's own option) stops the first fold that learns from them
    _fails([*args, "--max-bad-fraction", "0.02", "--out", tmp_path / "strict"],
           "are unreadable, more than --max-bad-fraction allows (0)")  # fmt: skip


@pytest.mark.slow
def test_a_refit_recipe_counts_validation_among_the_videos_learnt_from(
    synthetic_dataset, tmp_path: Path
) -> None:
    # (with candidates: each fold keeps one, says which, and a rerun keeps the finished folds)
    recipe = tmp_path / "refit.yaml"
    recipe.write_text(
        "model: {head: linear}\noptimizer: lbfgs\nlr: 1.0\nscheduler: none\nrefit: true\n"
        "candidates: [{weight_decay: 0.01}, {weight_decay: 10.0}]\n"
    )
    out = tmp_path / "cv"
    args = ["crossval", "--config", recipe, "--data", synthetic_dataset.root, *TINY,
            "--epochs", "2", "--folds", "3", "--out", out]  # fmt: skip
    invoke(*args)
    for row in json.loads((out / "crossval.json").read_text())["per_fold"]:
        with (out / "folds" / row["run"] / "split.csv").open() as handle:
            split = [r["split"] for r in csv.DictReader(handle)]
        assert row["refit"] and row["train_videos"] == split.count("train") + split.count("val")
        run = out / "folds" / row["run"] / "run"
        assert (run / "checkpoints" / "held_out.ckpt").is_file()
        compared = json.loads((run / "candidates.json").read_text())
        kept = compared["candidates"][compared["kept"] - 1]["settings"]["weight_decay"]
        assert row["kept"] == f"weight_decay={kept}"
        assert yaml.safe_load((run / "config.yaml").read_text())["weight_decay"] == kept
    assert invoke(*args).count("finished before, kept") == 3
    page = tmp_path / "report.html"
    invoke("report", out, "--out", page)
    assert "<th>train_videos</th><th>refit</th>" in page.read_text()
    assert "<th>kept</th>" in page.read_text() and "weight_decay=" in page.read_text()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("frames", "fit"),  # the videos have 12: 16 reads some twice, placing the person's square
    [("3", "crop"), ("16", "crop"), ("16", "person")],  # on the frames read (here: nobody found)
)
def test_a_full_batch_recipe_encodes_each_video_once_across_training_and_testing(
    synthetic_dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, frames: str, fit: str
) -> None:
    """A fold tests videos earlier folds trained on, and trains on videos earlier folds tested:
    the training features and the evaluation views of a full-batch fit are one encoding, and a
    score from it equals a score from the video."""
    encoded: list[int] = []
    store, encode = FeatureExtractor._store, Predictor._encoded
    monkeypatch.setattr(
        FeatureExtractor, "_store", lambda self, *a, **k: encoded.append(1) or store(self, *a, **k)
    )
    monkeypatch.setattr(
        Predictor, "_encoded", lambda self, views: encoded.append(len(views)) or encode(self, views)
    )
    recipe = tmp_path / "probe.yaml"
    recipe.write_text("model: {head: linear}\noptimizer: lbfgs\nlr: 1.0\nscheduler: none\n")
    out = tmp_path / "cv"
    invoke("crossval", "--config", recipe, "--data", synthetic_dataset.root, "--frames", frames,
           "--size", "32", "--frame-fit", fit, "--workers", "0", "--epochs", "2", "--folds", "3",
           "--cache-dir", tmp_path / "cache", "--out", out)  # fmt: skip
    assert sum(encoded) == len(synthetic_dataset.items)  # 48 videos, each encoded once
    fold = out / "folds" / json.loads((out / "crossval.json").read_text())["per_fold"][-1]["run"]
    with (fold / "test" / "predictions.csv").open() as handle:
        paths = [row["path"] for row in csv.DictReader(handle)]
    by_path = {item.relpath: item for item in synthetic_dataset.items}
    predictor = load_predictor(fold / "run" / "checkpoints" / "best.ckpt")  # no cache: decodes
    from_video, _, _ = predictor.score([by_path[path] for path in paths])
    assert np.allclose(from_video, np.load(fold / "test" / "probabilities.npy"), atol=1e-5)


@pytest.mark.slow
def test_recipes_compared_on_the_same_folds_and_their_ensemble(
    synthetic_dataset, tmp_path: Path
) -> None:
    probe, mean = tmp_path / "probe.yaml", tmp_path / "mean.yaml"
    probe.write_text("model: {head: linear}\noptimizer: lbfgs\nlr: 1.0\nscheduler: none\n")
    mean.write_text("model: {head: mean}\n")
    out, root = tmp_path / "cv", synthetic_dataset.root
    output = invoke("crossval", "--config", probe, "--config", mean, "--data", root, *TINY,
                    "--epochs", "2", "--folds", "3", "--out", out)  # fmt: skip
    summaries = {
        name: json.loads((out / name / "crossval.json").read_text())
        for name in ("probe", "mean", "ensemble")
    }
    figures = ", ".join(f"{n} {s['pooled_top1']:.4f}" for n, s in summaries.items())
    assert f"pooled top-1 on the same folds: {figures}" in output
    assert f"recipe 2/2: mean, in {out / 'mean'}" in output  # progress says which recipe runs
    assert summaries["ensemble"]["recipes"] == ["probe", "mean"]
    assert (out / "cache").is_dir() and not (out / "mean" / "cache").exists()  # one cache
    for name in ("mean", "ensemble"):  # each against the first recipe, groups drawn alike
        against = summaries[name]["versus_first"]
        gain = summaries[name]["pooled_top1"] - summaries["probe"]["pooled_top1"]
        assert against["recipe"] == "probe" and against["difference"] == pytest.approx(gain, 1e-3)
        low, high = against["interval"]
        assert low <= against["difference"] <= high
        assert f"  {name} against probe: {gain:+.4f} (95% over groups drawn alike: " in output

    def pooled(name: str) -> tuple[list[str], np.ndarray]:
        with (out / name / "predictions.csv").open() as handle:
            paths = [row["path"] for row in csv.DictReader(handle)]
        return paths, np.load(out / name / "probabilities.npy")

    (paths, fused), (probe_paths, a), (mean_paths, b) = map(pooled, ("ensemble", "probe", "mean"))
    assert paths == probe_paths == mean_paths and len(paths) == 48  # every video, once
    np.testing.assert_allclose(fused, (a + b) / 2, atol=1e-6)
    # what vidact ensemble of a fold's two models answers on that fold's test videos
    fold = out / "probe" / "folds" / "fold-1"
    models = [
        out / n / "folds" / "fold-1" / "run" / "checkpoints" / "best.ckpt"
        for n in ("probe", "mean")
    ]
    invoke(
        "ensemble",
        *models,
        "--data",
        root,
        "--split-file",
        fold / "split.csv",
        "--split",
        "test",
        "--out",
        tmp_path / "ens",
    )
    ensemble_paths, ensemble = pooled("../ens")
    where = [paths.index(path) for path in ensemble_paths]
    np.testing.assert_allclose(ensemble, fused[where], atol=1e-5)
    page = tmp_path / "report.html"
    invoke("report", out / "ensemble", "--out", page)
    assert (
        "Cross-validation" in page.read_text() and "The ensemble of probe, mean" in page.read_text()
    )
    assert "Top-1 against probe " in page.read_text()  # versus_first, on the page too
    refused = tmp_path / "refused"
    both = ["crossval", "--config", probe, "--config", mean, "--data", root, "--out", refused]
    _fails([*both, "--train-sizes", "0.5,1"], "one recipe's learning curve")
    shutil.copy(probe, tmp_path / "x.yaml")
    (tmp_path / "other").mkdir()
    shutil.copy(mean, tmp_path / "other" / "x.yaml")
    same = ["--config", tmp_path / "x.yaml", "--config", tmp_path / "other" / "x.yaml"]
    _fails(["crossval", *same, "--data", root, "--out", refused], "file names of their own")


def test_crossval_needs_groups_and_takes_them_from_a_file(
    synthetic_dataset, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    shutil.copytree(synthetic_dataset.root, root)
    (root / "split.csv").unlink()
    flat = tmp_path / "flat"  # the same videos with no group ids in their names
    for video in root.glob("*/*.mp4"):
        target = flat / video.parent.name / video.name.replace("_g0", "_take0")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(video, target)
    common = [*TINY, "--epochs", "1", "--out", tmp_path / "cv"]
    _fails(["crossval", "--data", flat, *common], "no groups known")
    _fails(["crossval", "--data", root, "--folds", "7", *common], "between 2 and the 6 groups")
    _fails(["crossval", "--data", root, "--folds", "1", *common], "--folds must be")
    _fails(["crossval", "--data", root, "--train-sizes", "0,1", *common], "--train-sizes")
    groups = tmp_path / "groups.csv"
    with groups.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "group"])
        for video in sorted(flat.glob("*/*.mp4")):
            relpath = video.relative_to(flat).as_posix()
            writer.writerow([relpath, "source-" + video.stem[-1]])  # two videos a source
    incomplete = tmp_path / "incomplete.csv"
    incomplete.write_text("path,group\n" + groups.read_text().splitlines()[1] + "\n")
    _fails(["crossval", "--data", flat, "--groups", incomplete, *common], "are not listed")
    _fails(["crossval", "--data", flat, "--groups", groups, "--folds", "5", *common], "groups")
    ddp = tmp_path / "ddp.yaml"  # DDP would start copies of the whole crossval
    ddp.write_text("accelerator: cpu\ndevices: 2\nstrategy: ddp\n")
    _fails(["crossval", "--config", ddp, "--data", root, *common], "2 processes")
    assert not (tmp_path / "cv").exists()  # every refusal came before any run


def test_a_given_split_file_may_not_split_a_group(synthetic_dataset, tmp_path: Path) -> None:
    root = synthetic_dataset.root
    with (root / "split.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    moved = next(r for r in rows if r["split"] == "test")
    moved["split"] = "train"  # one clip of a test source now trains: the source leaks
    leaking = tmp_path / "leak.csv"
    with leaking.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, ["path", "split"])
        writer.writeheader()
        writer.writerows(rows)
    _fails(
        ["train", "--data", root, "--split-file", leaking, *RUN, "--out", tmp_path / "run"],
        "sit on both sides of the split",
    )
    assert not (tmp_path / "run").exists()


def test_group_counts_read_as_words() -> None:
    assert counted_groups(1) == "1 group"  # a fold of one source (the crossval lines)
    assert counted_groups(4) == "4 groups"


@pytest.mark.slow
def test_repeats_cross_validate_on_other_partitions_with_one_cache(
    synthetic_dataset, tmp_path: Path
) -> None:
    out = tmp_path / "cv"
    args = ["crossval", "--data", synthetic_dataset.root, *TINY, "--epochs", "2", "--folds", "2",
            "--seed", "3", "--repeats", "2", "--no-progress", "--out", out]  # fmt: skip
    output = invoke(*args)
    assert "partition 1/2: --seed 3" in output and "partition 2/2: --seed 4" in output
    partitions = [json.loads((out / f"seed-{s}" / "crossval.json").read_text()) for s in (3, 4)]
    repeats = json.loads((out / "repeats.json").read_text())
    entry = repeats["recipes"]["defaults"]
    assert repeats["seeds"] == [3, 4] and repeats["folds"] == 2
    assert entry["pooled_top1"] == [p["pooled_top1"] for p in partitions]
    assert entry["mean"] == pytest.approx(np.mean(entry["pooled_top1"]))
    shown = " / ".join(f"{p['pooled_top1']:.4f}" for p in partitions)
    assert f"defaults: {shown}, mean {entry['mean']:.4f}" in output
    tested = []
    for seed in (3, 4):
        with (out / f"seed-{seed}" / "folds" / "fold-1" / "split.csv").open() as handle:
            tested.append({row["path"] for row in csv.DictReader(handle) if row["split"] == "test"})
    assert tested[0] != tested[1]  # another partition of the groups
    assert (out / "cache").is_dir() and not (out / "seed-3" / "cache").exists()  # one cache
    page = tmp_path / "report.html"
    invoke("report", out, out / "seed-3", "--out", page)
    assert "Cross-validation on 2 partitions" in page.read_text()
    assert invoke(*args).count("finished before, kept") == 4
    refused = [*args[:-2], "--repeats", "0", "--out", tmp_path / "none"]
    _fails(refused, "--repeats must be at least 1")


def test_repeats_compare_each_recipe_with_the_first_partition_by_partition(tmp_path: Path) -> None:
    def summary(top1: float) -> dict:
        return {"pooled_top1": top1, "learning_curve": [{"train_size": 1.0}]}

    partitions = {
        0: {"a": summary(0.70), "b": summary(0.80)},
        1: {"a": summary(0.75), "b": summary(0.72)},
        2: {"a": summary(0.60), "b": summary(0.70)},
    }
    got = repeat_summary(partitions, 5, tmp_path)
    against = got["recipes"]["b"]["versus_first"]
    assert against["recipe"] == "a" and against["higher_in"] == 2 and against["lower_in"] == 1
    assert against["differences"] == pytest.approx([0.10, -0.03, 0.10])
    assert against["mean"] == pytest.approx(0.17 / 3)
    assert json.loads((tmp_path / "repeats.json").read_text()) == got
