"""`--optimizer lbfgs`: a linear probe fitted to the convex optimum of its regularised loss."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import FAST_RUN, invoke, split_args
from vidact.config import DataConfig, ModelConfig, TrainConfig
from vidact.data.cache import CachedVideo
from vidact.data.datasets import FeatureClipDataset
from vidact.data.index import VideoItem
from vidact.errors import ConfigError
from vidact.inference.events import UNKNOWN
from vidact.inference.load import load_predictor
from vidact.models.checkpoint import METADATA_KEY
from vidact.models.heads import LinearProbeHead
from vidact.models.open_set import OPEN_SET_KEY, OpenSet
from vidact.sampling import ClipSampling
from vidact.training import module as training_module
from vidact.training import optim
from vidact.training.features import SharedViews
from vidact.training.module import ClipClassifierModule, held_out_group_threshold
from vidact.training.trainer import _parse_devices
from vidact.training.validate import check_config


def _fit(features: torch.Tensor, labels: torch.Tensor, weight_decay: float) -> torch.nn.Linear:
    torch.manual_seed(0)
    layer = torch.nn.Linear(features.shape[1], 3)
    config = TrainConfig(optimizer="lbfgs", lr=1.0, weight_decay=weight_decay)
    optimizer = optim.configure([{"params": list(layer.parameters())}], config)["optimizer"]

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(layer(features), labels)
        loss.backward()
        return loss

    for _ in range(5):
        optimizer.step(closure)
    return layer


def test_lbfgs_reaches_the_optimum_of_the_l2_regularised_loss() -> None:
    generator = torch.Generator().manual_seed(1)
    features = torch.randn(60, 20, generator=generator)
    labels = torch.randint(0, 3, (60,), generator=generator)
    layer = _fit(features, labels, 0.1)
    objective = F.cross_entropy(layer(features), labels) + 0.05 * (layer.weight**2).sum()
    gradients = torch.autograd.grad(objective, [layer.weight, layer.bias])
    assert max(float(g.abs().max()) for g in gradients) < 1e-4  # stationary: the optimum
    stronger = _fit(features, labels, 1.0)
    assert stronger.weight.norm() < 0.5 * layer.weight.norm()  # the decay is applied
    assert stronger.bias.abs().sum() > 0  # biases are not decayed to zero


def test_lbfgs_is_refused_for_a_backbone_that_trains() -> None:
    config = TrainConfig(optimizer="lbfgs")
    check_config(config)  # frozen offline Lite0: fine
    trains = TrainConfig(optimizer="lbfgs", model=config.model.__class__(freeze="none"))
    with pytest.raises(ConfigError, match="fixed frame features"):
        check_config(trains)


def test_nuisance_is_refused_for_a_backbone_that_trains() -> None:
    model = ModelConfig(head="linear", head_args={"nuisance": 0.5})
    check_config(TrainConfig(model=model))  # frozen offline Lite0: fine
    trains = TrainConfig(
        model=ModelConfig(head="linear", head_args={"nuisance": 0.5}, freeze="none")
    )
    with pytest.raises(ConfigError, match="trains the backbone, which moves them"):
        check_config(trains)


@pytest.mark.slow
def test_a_probe_run_trains_full_batch_and_beats_chance(synthetic_dataset, tmp_path) -> None:
    run = tmp_path / "probe"
    invoke(
        "train",
        *split_args(synthetic_dataset.root),
        *FAST_RUN,
        "--head",
        "linear",
        "--optimizer",
        "lbfgs",
        "--lr",
        "1",
        "--weight-decay",
        "0.1",
        "--scheduler",
        "none",
        "--epochs",
        "3",
        "--cache-dir",
        tmp_path / "cache",
        "--out",
        run,
    )
    rows = (run / "metrics.csv").read_text().splitlines()[1:]
    train_acc = [float(row.split(",")[2]) for row in rows]
    assert len(rows) == 3 and max(train_acc) > 0.5  # 8 classes: chance is 0.125
    # one optimiser step per epoch: the whole training set (32 videos) in one batch, although
    # FAST_RUN asks for batches of 8
    saved = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    assert saved["global_step"] == saved["epoch"] + 1
    # last.ckpt is the last epoch's, whichever was best (a resume goes on from there)
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert (last["epoch"], last["global_step"]) == (2, 3)
    # a 3840-wide clip embedding has its open-set distance too, kept as the few directions
    # 32 training videos of 8 classes span (no 3840 x 3840 precision): auto rejects by it
    checkpoint = run / "checkpoints" / "best.ckpt"
    distance = OpenSet.from_dict(saved[OPEN_SET_KEY], 8)
    assert distance.directions.shape == (3840, 32 - 8) and "reject" not in saved[METADATA_KEY]
    assert load_predictor(checkpoint).rejection == {
        "score": "distance",
        "threshold": round(distance.threshold, 6),
    }
    video = synthetic_dataset.items[0].path
    assert json.loads(invoke("predict", checkpoint, video, "--json"))["label"] != UNKNOWN
    doubtful = invoke("predict", checkpoint, video, "--json", "--reject", "0.9999")
    assert json.loads(doubtful)["label"] == UNKNOWN
    # the fit reads each video's 3 evaluation frames and nothing else: only those are encoded
    summary = json.loads((run / "summary.json").read_text())
    entries = list(Path(summary["feature_cache"]).rglob("*.npy"))
    assert entries and {np.load(entry).shape[0] for entry in entries} == {3}


def test_a_full_batch_fit_shares_frames_with_evaluation_only_where_they_are_the_same() -> None:
    """SharedViews.rows: the training entry's rows evaluation reads (models.view_cache)."""
    sampling = ClipSampling(frames=16, strategy="segment")
    alone = SimpleNamespace(per_frame=True, by_distinct_frames=True)
    square = SimpleNamespace(per_frame=False, by_distinct_frames=True)  # the person's square
    track = SimpleNamespace(per_frame=False, by_distinct_frames=False)  # a pose track
    per_frame = SharedViews(alone, sampling, 16)  # type: ignore[arg-type]
    assert per_frame.rows(40, 25.0).tolist() == list(range(16))  # the same 16 frames
    rows = per_frame.rows(10, 25.0)  # all 10 frames cached, evaluation reads 16 of them
    assert rows is not None and len(rows) == 16 and set(rows.tolist()) == set(range(10))
    # the square is placed on the distinct frames read: evaluation reads the same 10, some twice
    placed = SharedViews(square, sampling, 16)  # type: ignore[arg-type]
    assert placed.rows(40, 25.0) is not None and np.array_equal(placed.rows(10, 25.0), rows)
    # a pose track follows every frame read, repeats too
    tracked = SharedViews(track, sampling, 16)  # type: ignore[arg-type]
    assert tracked.rows(40, 25.0) is not None and tracked.rows(10, 25.0) is None
    wider = SharedViews(alone, sampling, 64)  # type: ignore[arg-type]
    assert wider.rows(40, 25.0) is not None  # all 40 cached: evaluation's 16 among them
    for together in (square, track):  # placed on the 40 frames read, not evaluation's 16
        assert SharedViews(together, sampling, 64).rows(40, 25.0) is None  # type: ignore[arg-type]


def test_a_full_batch_fit_reads_fixed_positions_and_others_draw_them() -> None:
    sampling = ClipSampling(frames=4)
    evaluation = FeatureClipDataset([], [], sampling).positions(40, 10.0, None)
    fixed = FeatureClipDataset([], [], sampling, train=True, jitter=False)
    drawn = FeatureClipDataset([], [], sampling, train=True)
    rng = np.random.default_rng(0)
    assert all((fixed.positions(40, 10.0, rng) == evaluation).all() for _ in range(5))
    assert any((drawn.positions(40, 10.0, rng) != evaluation).any() for _ in range(5))


def test_a_full_batch_fit_refuses_views_it_would_not_read() -> None:
    check_config(TrainConfig(optimizer="lbfgs", feature_views=1))
    with pytest.raises(ConfigError, match=r"the 2 augmented view\(s\) .* never read"):
        check_config(TrainConfig(optimizer="lbfgs", feature_views=3))


def test_a_full_batch_fit_is_one_process(monkeypatch) -> None:
    # under DDP each process's line search sees its own share of the loss, so they take
    # different numbers of steps and wait on each other forever: refused
    for asked in ({"devices": 2}, {"devices": "0,1"}, {"num_nodes": 2}):
        with pytest.raises(ConfigError, match=r"one process.*--devices 1"):
            check_config(TrainConfig(optimizer="lbfgs", **asked))
        check_config(TrainConfig(optimizer="adamw", **asked))
    check_config(TrainConfig(optimizer="lbfgs", devices="auto"))
    check_config(TrainConfig(optimizer="lbfgs", devices="1,"))
    assert _parse_devices("auto") == 1 and _parse_devices("0,1") == "0,1"  # auto: one device
    monkeypatch.setenv("WORLD_SIZE", "4")  # started by torchrun
    with pytest.raises(ConfigError, match="4 processes"):
        check_config(TrainConfig(optimizer="lbfgs"))


def test_refit_needs_a_full_batch_fit() -> None:
    check_config(TrainConfig(optimizer="lbfgs", refit=True))
    with pytest.raises(ConfigError, match=r"--refit.*--optimizer adam"):
        check_config(TrainConfig(optimizer="adam", refit=True))


@pytest.mark.slow
def test_a_refit_learns_from_validation_too_and_keeps_the_held_out_model(
    synthetic_dataset, tmp_path
) -> None:
    run = tmp_path / "refit"
    flags = ["--head", "linear", "--optimizer", "lbfgs", "--lr", "1", "--scheduler", "none"]
    out = invoke(
        "train",
        *split_args(synthetic_dataset.root),
        *FAST_RUN,
        *flags,
        "--epochs",
        "3",
        "--refit",
        "--cache-dir",
        tmp_path / "cache",
        "--out",
        run,
    )
    summary = json.loads((run / "summary.json").read_text())
    videos = summary["num_videos"]
    assert summary["refit"] == {
        "videos": videos["train"] + videos["val"],
        "epochs": summary["best_epoch"],
    }
    assert "refitted on" in out
    checkpoints = run / "checkpoints"
    refit = torch.load(checkpoints / "best.ckpt", weights_only=True)
    held_out = torch.load(checkpoints / "held_out.ckpt", weights_only=True)
    assert refit["global_step"] == summary["best_epoch"]  # one full-batch step per epoch
    # the standardisation's statistics are those of the training and validation clips now
    key = "model.head.standardise.running_mean"
    assert not torch.allclose(refit["state_dict"][key], held_out["state_dict"][key])
    # the distance is fitted again, its threshold calibrated on the groups left out in turn:
    # the training groups first, then training and validation groups
    assert out.count("open-set distance calibrated on the") == 2
    thresholds = [c[OPEN_SET_KEY]["threshold"] for c in (held_out, refit)]
    assert thresholds[0] != thresholds[1] and all(0 < t < float("inf") for t in thresholds)
    assert load_predictor(checkpoints / "best.ckpt").classes == synthetic_dataset.classes
    scored = invoke("evaluate", checkpoints / "best.ckpt", *split_args(synthetic_dataset.root),
                    "--split", "val", "--out", tmp_path / "val")  # fmt: skip
    assert "was refit on the validation videos too: --split val scores videos it learnt" in scored
    # resumed for more epochs, the run chooses against the held-out model and refits again
    invoke("train", "--resume", run, "--epochs", "5")
    again = torch.load(checkpoints / "held_out.ckpt", weights_only=True)
    means = [c["state_dict"][key] for c in (again, held_out, refit)]
    assert (means[0] - means[1]).norm() < (means[0] - means[2]).norm()  # never the refit model
    assert (
        json.loads((run / "summary.json").read_text())["refit"]["videos"]
        == len(synthetic_dataset.items) - videos["test"]
    )


class _Features:
    """A feature cache of one entry per video: 40 frames x 3 features, distinct per video."""

    def load(self, path: Path) -> CachedVideo:
        start = 1000.0 * int(path.stem[1:])
        return CachedVideo(np.arange(start, start + 120, dtype=np.float32).reshape(40, 3), 40, 10.0)


def test_a_full_batch_fit_learns_from_augmented_copies_drawn_once() -> None:
    items = [VideoItem(Path(f"/d/v{i}.mp4"), f"v{i}.mp4", i, f"g{i}") for i in range(2)]
    sampling = ClipSampling(frames=4)

    def noisy(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return clip + rng.normal(size=clip.shape).astype(np.float32)

    fit = FeatureClipDataset(
        items, [_Features()], sampling, train=True, augment=noisy, jitter=False, copies=3
    )
    evaluation = FeatureClipDataset(items, [_Features()], sampling, augment=noisy, copies=3)
    assert len(fit) == 2 * (1 + 3) and len(evaluation) == 2  # copies are for training only
    for video in range(2):  # first each video as evaluation reads it, unaugmented
        assert torch.equal(fit[(0, video)][0], evaluation[video][0])
    copies = [fit[(0, index)] for index in range(2, 8)]
    assert [label for _, label in copies] == [0, 1, 0, 1, 0, 1]
    assert not torch.equal(copies[0][0], evaluation[0][0])  # augmented
    assert not torch.equal(copies[0][0], copies[2][0])  # each copy its own draw
    assert (copies[0][0] - evaluation[0][0]).abs().max() < 6  # of its own video
    for index in range(8):  # and the same draws every epoch: one fixed objective
        assert torch.equal(fit[(0, index)][0], fit[(7, index)][0])


def test_augmented_copies_need_a_full_batch_fit_of_cached_pose_features() -> None:
    pytest.importorskip("mediapipe", reason="the pose extra is not installed")
    arms = ModelConfig(backbone="pose_arms", head="linear")
    check_config(TrainConfig(model=arms, optimizer="lbfgs", augmented_copies=5))
    with pytest.raises(ConfigError, match=r"adam draws new .* lbfgs, or --augmented-copies 0$"):
        check_config(TrainConfig(model=arms, optimizer="adam", augmented_copies=5))
    with pytest.raises(
        ConfigError, match=r"tf_efficientnet_lite0 has no .*: use --augmented-copies 0$"
    ):
        check_config(TrainConfig(optimizer="lbfgs", augmented_copies=5))
    with pytest.raises(
        ConfigError, match=r"leave --feature-cache on, or use --augmented-copies 0$"
    ):
        check_config(
            TrainConfig(model=arms, optimizer="lbfgs", augmented_copies=5, feature_cache=False)
        )
    with pytest.raises(ConfigError, match=r"--augmented-copies must be 0 or more, got -1"):
        check_config(TrainConfig(model=arms, optimizer="lbfgs", augmented_copies=-1))


@pytest.mark.slow
def test_the_pose_recipe_learns_from_augmented_copies_of_real_clips(real_smoke, tmp_path) -> None:
    """configs/people_pose.yaml as shipped on real UCF101 clips: the fit's one batch holds each
    training clip and its copies, and a run without copies fits other weights."""
    pytest.importorskip("mediapipe", reason="the pose extra is not installed")
    root = real_smoke / "UCF101"
    videos = sorted(p.relative_to(root).as_posix() for p in root.glob("*/*.avi"))
    split = tmp_path / "split.csv"
    rows = [f"{v},{'val' if 'Biking' in v else 'train'}" for v in videos]
    split.write_text("path,split\n" + "\n".join(rows) + "\n")
    recipe = Path(__file__).resolve().parents[2] / "configs" / "people_pose.yaml"
    common = ["--data", root, "--split-file", split, "--frames", "8", "--epochs", "2"]
    common += ["--cache-dir", tmp_path / "cache", "--no-progress"]
    out = invoke("train", "--config", recipe, *common, "--out", tmp_path / "copies")
    assert "full-batch fit on 3 training videos and 10 augmented copies of each" in out
    invoke(
        "train", "--config", recipe, *common, "--augmented-copies", "0", "--out", tmp_path / "no"
    )
    key = "model.classifier.1.weight"
    weights = [
        torch.load(tmp_path / run / "checkpoints" / "held_out.ckpt", weights_only=True)
        for run in ("copies", "no")
    ]
    assert not torch.allclose(weights[0]["state_dict"][key], weights[1]["state_dict"][key])
    output = invoke("predict", tmp_path / "copies" / "checkpoints" / "best.ckpt", root / videos[0])
    assert output.splitlines()[1].split()[1] in {v.split("/")[0] for v in videos}  # its top class


def test_each_epoch_standardises_with_its_own_training_batches() -> None:
    """The probe's statistics restart every epoch: a full-batch fit keeps its training set's
    exactly, and a trained encoder's first epochs do not linger."""
    config = TrainConfig(
        data=DataConfig(size=32),
        model=ModelConfig(backbone="test_efficientnet", pretrained=False, head="linear"),
    )
    module = ClipClassifierModule(config, ("a", "b"))
    head = module.model.head.train()
    features = head.out_features // 3  # mean, spread and change of each
    first, second = torch.randn(8, 3, features) + 10, torch.randn(8, 3, features) - 10
    head(first)
    module.on_train_epoch_start()
    head(second)
    expected = head.eval()(second)
    module.on_train_epoch_start()
    head.train()(second)  # a full-batch fit sees its one batch many times in an epoch
    head(second)
    torch.testing.assert_close(head.eval()(second), expected)
    assert expected.mean().abs() < 0.1  # standardised with the second batch's statistics alone


@pytest.mark.parametrize("temporal_input", ["raw", "diff"])
def test_the_linear_head_takes_out_how_training_groups_differ(
    synthetic_dataset, tmp_path, temporal_input: str
) -> None:
    run = tmp_path / "nuisance"
    probe = ["--head", "linear", "--head-arg", "nuisance=0.5", "--optimizer", "lbfgs", "--lr", "1"]
    output = invoke(
        "train", *split_args(synthetic_dataset.root), *FAST_RUN, *probe, "--scheduler", "none",
        "--epochs", "2", "--refit", "--cache-dir", tmp_path / "cache", "--out", run,
        "--temporal-input", temporal_input,
    )  # fmt: skip
    fitted = re.findall(
        r"taking out (\d+) direction\(s\) in which the (\d+) training groups", output
    )
    assert len(fitted) == 2 and int(fitted[0][0]) > 0  # the fit, then the refit with validation
    assert int(fitted[1][1]) > int(fitted[0][1])
    assert "fitting the nuisance" not in output  # cached features: no decoding to show
    saved = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    basis = next(value for key, value in saved.items() if key.endswith("nuisance_basis"))
    # the statistics of what the head reads: each frame's features and, with diff, their change
    width = 1280 * (2 if temporal_input == "diff" else 1)
    assert basis.shape == (int(fitted[1][0]), 3 * width)
    video = synthetic_dataset.items[0].path
    assert json.loads(invoke("predict", run / "checkpoints" / "best.ckpt", video, "--json"))[
        "label"
    ]


def _grouped_statistics(
    generator: torch.Generator, groups: int, clips: int = 8, width: int = 12
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Two classes apart along one axis, each group (camera) its own offset, clips noisy."""
    labels = torch.arange(clips).remainder(2).repeat(groups)
    offsets = 3 * torch.randn(groups, width, generator=generator).repeat_interleave(clips, 0)
    noise = 0.3 * torch.randn(groups * clips, width, generator=generator)
    statistics = offsets + noise + 4 * labels[:, None].float() * F.one_hot(torch.tensor(0), width)
    return statistics, labels, [f"g{n}" for n in range(groups) for _ in range(clips)]


@pytest.mark.parametrize("nuisance", [0.0, 0.5])
def test_a_head_fitted_apart_embeds_as_the_fitted_head(nuisance: float) -> None:
    statistics, labels, groups = _grouped_statistics(torch.Generator().manual_seed(0), 5)
    head = LinearProbeHead(4, nuisance=nuisance).eval()  # 12 statistics of 4 features
    head.fit_nuisance(statistics, labels, groups)
    head.standardise.running_mean.copy_(statistics.mean(0))
    head.standardise.running_var.copy_(statistics.var(0))
    others = torch.randn(6, 12)
    basis = head.nuisance_basis
    expected = [(x := head.standardise(s)) - x @ basis.T @ basis for s in (statistics, others)]
    got = head.embedded_apart(statistics, labels, groups, others)
    for a, b in zip(got, expected, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_groups_left_out_in_turn_set_a_threshold_new_groups_meet() -> None:
    generator = torch.Generator().manual_seed(0)
    statistics, labels, groups = _grouped_statistics(generator, 8)
    head = LinearProbeHead(4)
    threshold = held_out_group_threshold(head, statistics, labels, groups, 2)
    # validation of one group the model trained on: its clips sit close, the threshold too
    embedded = head.embedded_apart(statistics, labels, groups, statistics)[0]
    fitted = OpenSet.fit(embedded, labels, 2)
    seen = torch.tensor([group == "g0" for group in groups])
    narrow = fitted.calibrated(embedded[seen], 0.95).threshold
    assert threshold is not None and threshold > 3 * narrow
    # clips of new cameras: most lie within the groups' threshold, few within the narrow one
    new = _grouped_statistics(generator, 6)[0]
    distances = fitted.distance(head.embedded_apart(statistics, labels, groups, new)[1])
    assert (distances <= threshold).float().mean() > 0.75 > (distances <= narrow).float().mean()
    # a clip far from every class still lies beyond it
    far = statistics.mean(0) + 40 * torch.randn(1, 12, generator=generator)
    assert fitted.distance(head.embedded_apart(statistics, labels, groups, far)[1]) > threshold
    # too few groups to leave one out: validation calibrates
    assert held_out_group_threshold(head, statistics[:16], labels[:16], groups[:16], 2) is None


def test_many_groups_are_left_out_sixteen_at_most_on_a_share_of_the_clips(monkeypatch) -> None:
    statistics, labels, groups = _grouped_statistics(torch.Generator().manual_seed(1), 40)
    fits = []
    original = OpenSet.fit

    def counted(train: torch.Tensor, *args: object) -> OpenSet | None:
        fits.append(len(train))
        return original(train, *args)

    monkeypatch.setattr(training_module, "FIT_VIDEOS", 100)
    monkeypatch.setattr(OpenSet, "fit", counted)
    threshold = held_out_group_threshold(LinearProbeHead(4), statistics, labels, groups, 2)
    assert threshold is not None and len(fits) == training_module.LEFT_OUT
    assert max(fits) < 100 < len(statistics)  # each fit on the share less one group


def test_balanced_class_weights_count_the_training_clips() -> None:
    weights = training_module.balanced_weights([3, 1, 0])  # a class without clips weighs 1
    assert weights.tolist() == pytest.approx([4 / 6, 4 / 2, 1.0])


def test_class_weight_balanced_weighs_the_training_loss(synthetic_dataset, tmp_path) -> None:
    root = synthetic_dataset.root
    with (root / "split.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    kept = 0  # one training video of the first class, four of every other
    for row in rows:
        if row["split"] == "train" and row["path"].split("/")[0] == synthetic_dataset.classes[0]:
            kept += 1
            row["split"] = "train" if kept == 1 else "test"
    split = tmp_path / "split.csv"
    with split.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    output = invoke(
        "train", "--data", root, "--split-file", split, *FAST_RUN, "--head", "linear",
        "--optimizer", "lbfgs", "--lr", "1", "--scheduler", "none", "--epochs", "1",
        "--group-regex", "^(.+)$", "--class-weight", "balanced", "--cache-dir", tmp_path / "cache",
        "--out", tmp_path / "run",
    )  # fmt: skip
    first = synthetic_dataset.classes[0]
    assert f"class weights in the loss (--class-weight balanced): {first} 3.62" in output
    assert ", ".join(f"{c} 0.91" for c in synthetic_dataset.classes[1:]) in output  # 29 / (8 x 4)
    model = ModelConfig(backbone="lrcn_cnn", pretrained=False, head="mean", dropout=0.0)
    module = ClipClassifierModule(TrainConfig(model=model), ("a", "b")).eval()
    features, labels = (
        torch.randn(4, 3, module.model.encoder.num_features),
        torch.tensor([0, 0, 0, 1]),
    )
    plain = module._step((features, labels, []), "train").detach()
    module.class_weights = torch.tensor([2 / 3, 2.0])
    weighted = module._step((features, labels, []), "train").detach()
    logits = module(features).detach()
    expected = F.cross_entropy(logits, labels, weight=module.class_weights)
    assert float(weighted) == pytest.approx(float(expected), rel=1e-5)
    assert float(weighted) != pytest.approx(float(plain))
    assert float(module._step((features, labels, []), "val")) == pytest.approx(float(plain))
