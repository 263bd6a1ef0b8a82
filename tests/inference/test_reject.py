"""Rejection: a threshold calibrated on validation clips at training time, and unknown answers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import invoke, runner
from vidact.cli.main import app
from vidact.errors import CheckpointError, ConfigError
from vidact.inference.ensemble import EnsemblePredictor
from vidact.inference.events import UNKNOWN, resolve_reject
from vidact.inference.load import load_predictor
from vidact.io.writer import write_video
from vidact.models.checkpoint import METADATA_KEY, read_checkpoint
from vidact.models.open_set import OPEN_SET_KEY, OpenSet
from vidact.training.module import KNOWN_ACCEPTED, fit_open_set


def test_the_distance_keeps_the_chosen_share_of_validation_clips_and_tells_strangers() -> None:
    """Two classes in 8 dimensions: the distance threshold keeps 95% of validation clips of
    those classes, and clips far from both are beyond it whatever their top label."""
    generator = torch.Generator().manual_seed(0)
    means = torch.zeros(2, 8)
    means[1, 0] = 6.0
    labels = torch.arange(400) % 2
    train = means[labels] + torch.randn(400, 8, generator=generator)
    validation = means[torch.arange(200) % 2] + torch.randn(200, 8, generator=generator)
    fitted = fit_open_set(train, labels.float(), 2, validation)
    assert fitted is not None
    kept = float((fitted.distance(validation) <= fitted.threshold).double().mean())
    assert kept == pytest.approx(KNOWN_ACCEPTED, abs=0.011)
    strangers = torch.randn(50, 8, generator=generator) * 0.5
    strangers[:, 3] += 8.0  # nowhere near a class
    assert (fitted.distance(strangers) > fitted.threshold).all()
    assert fit_open_set(train, labels.float(), 2, validation[:3]) is None  # too few to tell
    assert fit_open_set(train, torch.zeros(400), 2, validation) is None  # a class unseen


def _dense(train: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """The distance as first shipped: class means and the whole shrunk covariance inverted."""
    train = train.double()
    means = torch.stack([train[labels == k].mean(0) for k in labels.unique()])
    centred = train - means[labels]
    covariance = centred.T @ centred / len(train)
    covariance += (0.1 * covariance.trace() / len(covariance) + 1e-8) * torch.eye(len(covariance))
    return {"means": means, "precision": torch.linalg.inv(covariance)}


@pytest.mark.parametrize(("videos", "width"), [(300, 24), (40, 2000)])
def test_the_distance_in_directions_is_the_dense_one(videos: int, width: int) -> None:
    """Wider embeddings than clips (a linear head's) keep only the directions the clips span,
    with the same distance as the dense inverse; a dense precision of an earlier release
    loads as its own directions."""
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(videos) % 3
    scales = torch.rand(width, generator=generator) * 3
    train = torch.randn(videos, width, generator=generator) * scales + labels[:, None]
    clips = torch.cat([train[:10], torch.randn(20, width, generator=generator) * 2])  # known, new
    dense = _dense(train, labels)
    gaps = clips.double()[:, None] - dense["means"][None]
    expected = ((gaps @ dense["precision"]) * gaps).sum(-1).amin(-1)
    fitted = OpenSet.fit(train, labels, 3)
    assert fitted is not None and fitted.directions.shape == (width, min(width, videos - 3))
    torch.testing.assert_close(fitted.distance(clips).double(), expected, rtol=1e-3, atol=0)
    if width <= videos:  # a file of an earlier release
        former = OpenSet.from_dict({**dense, "threshold": 1.0}, 3)
        torch.testing.assert_close(former.distance(clips).double(), expected, rtol=1e-3, atol=0)
        cut = {**dense, "precision": dense["precision"][:-1], "threshold": 1.0}
        with pytest.raises(ValueError, match="do not fit the model"):
            OpenSet.from_dict(cut, 3)


def test_a_damaged_distance_entry_is_refused_naming_the_file(
    trained_run: Path, tmp_path: Path
) -> None:
    raw = read_checkpoint(trained_run / "checkpoints" / "best.ckpt")
    raw[OPEN_SET_KEY]["means"] = raw[OPEN_SET_KEY]["means"][:1]  # one class short
    damaged = tmp_path / "damaged.ckpt"
    torch.save(raw, damaged)
    with pytest.raises(CheckpointError, match=r"damaged\.ckpt.*distance statistics"):
        load_predictor(damaged, "cpu")


def test_reject_modes() -> None:
    # auto is no top probability: the model's open-set distance, where it has one
    assert resolve_reject("off") is None and resolve_reject("auto") is None
    assert resolve_reject("0.7") == 0.7
    for bad in ("1", "0", "high", "-0.2"):
        with pytest.raises(ConfigError, match="--reject"):
            resolve_reject(bad)


def test_a_trained_checkpoint_carries_its_threshold_and_answers_unknown_below_it(
    trained_run: Path, synthetic_dataset, tmp_path: Path
) -> None:
    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    raw = read_checkpoint(checkpoint)
    distance = OpenSet.from_dict(raw[OPEN_SET_KEY], len(raw[METADATA_KEY]["classes"]))
    auto = load_predictor(checkpoint, "cpu")  # auto by default: by open-set distance
    assert auto.rejection == {"score": "distance", "threshold": round(distance.threshold, 6)}
    assert auto.reject == -distance.threshold
    assert load_predictor(checkpoint, "cpu", reject="off").reject is None
    chosen = load_predictor(checkpoint, "cpu", reject="0.5")
    assert chosen.rejection == {"score": "probability", "threshold": 0.5}
    video = synthetic_dataset.items[0].path
    sure = json.loads(invoke("predict", checkpoint, video, "--json", "--reject", "off"))
    assert sure["label"] == sure["top_k"][0]["label"] and sure["timeline"][0]["label"] != UNKNOWN
    doubtful = json.loads(invoke("predict", checkpoint, video, "--json", "--reject", "0.9999"))
    assert doubtful["label"] == UNKNOWN and doubtful["timeline"][0]["label"] == UNKNOWN
    assert doubtful["top_k"] == sure["top_k"]  # the scores stay; only the answer changes
    # the batch row and the plain text give the same answer, not the top label
    rows = tmp_path / "rows.csv"
    invoke("predict", checkpoint, video, "--csv", rows, "--reject", "0.9999")
    row = next(csv.DictReader(rows.open()))
    assert row["label"] == UNKNOWN and row["probability"] == str(sure["top_k"][0]["probability"])
    text = invoke("predict", checkpoint, video, "--reject", "0.9999")
    assert f"answer: {UNKNOWN} (no class reaches probability 0.9999" in text
    assert sure["top_k"][0]["label"] in text
    raw[OPEN_SET_KEY]["threshold"] = 0.0  # every clip lies beyond: the answer says why
    torch.save(raw, tmp_path / "strict.ckpt")
    text = invoke("predict", tmp_path / "strict.ckpt", video)
    assert f"answer: {UNKNOWN} (unlike the clips of every class it was trained on" in text
    assert "answer:" not in invoke("predict", checkpoint, video, "--reject", "off")
    refused = runner.invoke(app, ["predict", str(checkpoint), str(video), "--reject", "loud"])
    assert refused.exit_code == 2 and "--reject 'loud'" in refused.output


def test_evaluate_reports_rejection_and_open_set_scores(
    trained_run: Path, synthetic_dataset, tmp_path: Path
) -> None:
    rng = np.random.default_rng(0)
    outside = tmp_path / "outside"
    for i in range(3):  # noise: no activity the model knows
        write_video(
            outside / f"noise_{i}.mp4", rng.integers(0, 255, (12, 32, 32, 3), np.uint8), 8.0
        )
    root = synthetic_dataset.root
    out = tmp_path / "eval"
    printed = invoke(
        "evaluate", trained_run / "checkpoints" / "best.ckpt", "--data", root,
        "--split-file", root / "split.csv", "--unknown-dir", outside, "--out", out,
        "--workers", "0",
    )  # fmt: skip
    rejection = json.loads((out / "metrics.json").read_text())["rejection"]
    assert rejection["unknown_videos"] == 3 and 0 <= rejection["open_set_auroc"] <= 1
    assert 0 <= rejection["known_rejected"] <= 1 and 0 <= rejection["unknown_rejected"] <= 1
    assert "open-set AUROC" in printed and "beyond open-set distance" in printed
    assert rejection["score"] == "distance" and rejection["threshold"] > 0
    assert 0 <= rejection["open_set_auroc_top_probability"] <= 1
    for point in rejection["operating_points"]:  # at most the share asked lets unknown through
        assert point["unknown_accepted"] <= point["false_accept_target"]
        assert 0 < point["threshold"] < 1 and f"--reject {point['threshold']:.6g}" in printed


def test_an_ensemble_of_distance_models_rejects_by_their_relative_distances(
    trained_run: Path, synthetic_dataset
) -> None:
    """Each member's distance over its own threshold, weighted: an ensemble of one model twice
    rejects exactly the videos that model rejects."""
    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    member = load_predictor(checkpoint, "cpu")
    ensemble = EnsemblePredictor([member, load_predictor(checkpoint, "cpu")], (1, 3))
    assert ensemble.rejection == {"score": "distance", "threshold": 1.0}
    items = synthetic_dataset.items[:6]
    _, alone, _ = member.score(items, batch_size=3)
    _, fused, _ = ensemble.score(items, batch_size=3)
    np.testing.assert_allclose(fused, alone / member.distance, rtol=1e-6)
    assert ((fused >= ensemble.reject) == (alone >= member.reject)).all()
    ensemble.use_reject("0.5")
    assert ensemble.rejection == {"score": "probability", "threshold": 0.5}
