"""Ensembles: fusion, members that err on different videos, and the saved ensemble file."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import FAST_RUN, invoke, runner, split_args
from vidact.cli.main import app
from vidact.errors import ConfigError
from vidact.evaluation.report import warn_refit_on_validation
from vidact.inference.ensemble import EnsemblePredictor, check_fusion, fuse
from vidact.inference.load import load_predictor


def test_fusion_corrects_members_that_err_on_different_videos() -> None:
    labels = np.array([0, 1, 2, 0])
    first = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.45, 0.105, 0.445], [0.8, 0.1, 0.1]])
    second = np.array([[0.6, 0.3, 0.1], [0.45, 0.4, 0.15], [0.1, 0.1, 0.8], [0.7, 0.2, 0.1]])
    accuracy = [float((p.argmax(1) == labels).mean()) for p in (first, second)]
    assert accuracy == [0.75, 0.75]  # wrong on video 2 and video 1 respectively
    for mode in ("probs", "logits"):
        fused = fuse([first, second], (0.5, 0.5), mode)
        assert np.allclose(fused.sum(1), 1)
        assert float((fused.argmax(1) == labels).mean()) == 1.0
    logits = [np.log(first), np.log(second)]
    mean = (logits[0] + logits[1]) / 2
    softmax = np.exp(mean) / np.exp(mean).sum(1, keepdims=True)
    assert np.allclose(fuse([first, second], (0.5, 0.5), "logits"), softmax)
    assert check_fusion(2, [3, 1], "probs") == (0.75, 0.25)
    for bad in ([1], [-1, 2], [0, 0], [0, 1], [float("nan"), 1], [float("inf"), 1]):
        with pytest.raises(ConfigError, match="--weights"):
            check_fusion(2, bad, "probs")
    with pytest.raises(ConfigError, match="--fuse"):
        check_fusion(2, None, "vote")


@pytest.fixture(scope="module")
def second_run(synthetic_dataset, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second head on the same data: the temporal-statistics head."""
    run = tmp_path_factory.mktemp("runs") / "stats"
    invoke(
        "train", *split_args(synthetic_dataset.root), *FAST_RUN, "--frames", "4", "--head",
        "stats", "--epochs", "2", "--lr", "0.003", "--optimizer", "adam", "--seed", "1",
        "--cache-dir", tmp_path_factory.mktemp("cache"), "--out", run,
    )  # fmt: skip
    return run


@pytest.mark.slow
def test_an_ensemble_of_two_trained_heads_keeps_what_they_agree_on(
    real_smoke: Path, trained_run: Path, second_run: Path, synthetic_dataset, tmp_path: Path
) -> None:
    """Two tiny runs' accuracies are luck; what fusion must do on them is not: where both members
    name one class, so does the ensemble (the better-member property is the constructed case)."""
    clip = real_smoke / "UCF101" / "Punch" / "v_Punch_g03_c01.avi"
    members = [trained_run / "checkpoints/best.ckpt", second_run / "checkpoints/best.ckpt"]
    out, saved = tmp_path / "ensemble", tmp_path / "ensemble.ckpt"
    output = invoke(
        "ensemble", *members, *split_args(synthetic_dataset.root), "--out", out,
        "--topk", "1,2", "--save", saved, "--workers", "0",
    )  # fmt: skip
    summary = json.loads((out / "ensemble.json").read_text())
    tops = [m["top1"] for m in summary["members"]]
    said = [
        {r["path"]: r for r in csv.DictReader((out / "members" / name / "predictions.csv").open())}
        for name in ("lstm", "stats")
    ]  # fmt: skip
    fused = {r["path"]: r for r in csv.DictReader((out / "predictions.csv").open())}
    assert set(fused) == set(said[0]) == set(said[1])
    agreed = [path for path in fused if said[0][path]["predicted"] == said[1][path]["predicted"]]
    assert all(fused[path]["predicted"] == said[0][path]["predicted"] for path in agreed)
    both_right = sum(said[0][path]["correct"] == "1" for path in agreed) / len(fused)
    either_right = sum("1" in (said[0][p]["correct"], said[1][p]["correct"]) for p in fused)
    assert both_right <= summary["ensemble"]["top1"] <= either_right / len(fused)
    assert len(tops) == 2
    for member, against in zip(
        summary["members"], summary["ensemble"]["versus_members"], strict=True
    ):
        gain = summary["ensemble"]["top1"] - member["top1"]  # on test sets drawn alike (paired)
        assert against["member"] == member["name"] and against["difference"] == pytest.approx(
            gain, abs=1e-3
        )
        low, high = against["interval"]
        assert low <= against["difference"] <= high
        assert f"  against {member['name']}: {gain:+.4f} (95% over groups drawn alike: " in output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["top2"] >= metrics["top1"] and metrics["fusion"] == "probs"
    invoke("report", out, "--out", tmp_path / "ensemble.html")
    assert "Top-1 against lstm " in (tmp_path / "ensemble.html").read_text()  # versus_members
    for name, member in zip(("lstm", "stats"), members, strict=True):  # each as evaluate says
        alone = tmp_path / f"alone-{name}"
        invoke("evaluate", member, *split_args(synthetic_dataset.root), "--out", alone,
               "--workers", "0")  # fmt: skip
        expected = json.loads((alone / "metrics.json").read_text())["top1"]
        assert json.loads((out / "members" / name / "metrics.json").read_text())["top1"] == (
            pytest.approx(expected)
        )
    # the saved file is one model to predict and serve
    loaded = load_predictor(saved, "cpu")
    assert isinstance(loaded, EnsemblePredictor) and len(loaded.members) == 2
    # each member keeps its open-set distance (the stats head's 3 x 1280-wide one too): auto
    # rejects by the members' distances over their own thresholds
    assert all(member.open_set_threshold for member in loaded.members)
    assert loaded.rejection == {"score": "distance", "threshold": 1.0}
    # evaluating the saved file scores the fusion: what `vidact ensemble` reported, to 1e-6
    again = tmp_path / "evaluated"
    invoke("evaluate", saved, *split_args(synthetic_dataset.root), "--out", again,
           "--topk", "1,2", "--workers", "0")  # fmt: skip
    evaluated = json.loads((again / "metrics.json").read_text())
    for key in ("top1", "top2", "loss", "mean_class_accuracy", "num_videos"):
        assert evaluated[key] == pytest.approx(metrics[key], abs=1e-6), key
    assert evaluated["confusion_matrix"] == metrics["confusion_matrix"]
    rows = [list(csv.DictReader((d / "predictions.csv").open())) for d in (out, again)]
    assert rows[0] == rows[1]  # each video's label and fused probability, row for row
    # ... and the web API describes it as what it is
    described = loaded.describe()
    assert described["kind"] == "ensemble" and described["fusion"] == "probs"
    assert [m["head"] for m in described["members"]] == ["lstm", "stats"]
    assert "ensemble of 2" in described["head"]
    result = json.loads(invoke("predict", saved, clip, "--json", "--window", "1s"))
    assert len(result["timeline"]) >= 1 and result["top_k"][0]["probability"] > 0
    refused = runner.invoke(app, ["export", str(saved), "--out", str(tmp_path / "e.onnx")])
    assert refused.exit_code == 2 and "an ensemble of 2 models" in refused.output


def test_validation_of_a_refit_member_is_called_videos_it_learnt_from(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """evaluate and ensemble warn alike; the held-out model and test scores are not warned of."""
    checkpoints = tmp_path / "run" / "checkpoints"
    checkpoints.mkdir(parents=True)
    best, held_out = checkpoints / "best.ckpt", checkpoints / "held_out.ckpt"
    best.touch()
    held_out.touch()
    warn_refit_on_validation([held_out, best], "val")
    warn_refit_on_validation([best], "test")
    assert [r.getMessage().split(" was refit")[0] for r in caplog.records] == [str(best)]
