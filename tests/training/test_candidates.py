"""A recipe's ``candidates``: settings a run chooses between by cross-validation."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from tests.conftest import REAL_SMOKE, invoke, split_args
from vidact.config import TrainConfig, override, resolve_config
from vidact.data import bodies
from vidact.data.synthetic import write_synthetic_dataset
from vidact.errors import ConfigError
from vidact.io.reader import VideoReader
from vidact.io.writer import write_video
from vidact.models.checkpoint import METADATA_KEY
from vidact.training.trainer import (
    CHOICE_FOLDS,
    _choose,
    _fit,
    _keep,
    _plan_candidates,
    choice_splits,
    plan,
    train,
)
from vidact.training.validate import check_config

FITS = [{"data": {"frame_fit": "person", "size": 224}}, {"data": {"frame_fit": "pad", "size": 288}}]


def test_the_command_line_takes_its_settings_out_of_the_candidates(tmp_path) -> None:
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({"data": {"frames": 8}, "candidates": FITS}))
    chosen = resolve_config(recipe, {"data": "videos"})
    assert [(c.data.frame_fit, c.data.size) for c in chosen.candidate_configs()] == [
        ("person", 224),
        ("pad", 288),
    ]
    assert all(c.data.frames == 8 and not c.candidates for c in chosen.candidate_configs())
    # --frame-fit pad leaves the size to choose; both settings given leave nothing
    fit = resolve_config(recipe, {"data": "videos", "frame_fit": "pad"})
    assert fit.candidates == ({"data": {"size": 224}}, {"data": {"size": 288}})
    assert all(c.data.frame_fit == "pad" for c in fit.candidate_configs())
    fixed = resolve_config(recipe, {"data": "videos", "frame_fit": "pad", "size": 288})
    assert not fixed.candidates and (fixed.data.frame_fit, fixed.data.size) == ("pad", 288)
    # a grid's values (vidact compare) override the same way
    assert override({"candidates": FITS}, {"data": {"size": 160}})["candidates"] == [
        {"data": {"frame_fit": "person"}},
        {"data": {"frame_fit": "pad"}},
    ]
    # a view whose every data setting was given otherwise goes with what else it set (the
    # square's motion picture); one given the same stays
    views = [{**FITS[0], "model": {"backbone": "motion_steps"}}, FITS[1]]
    recipe = {"model": {"backbone": "motion"}, "candidates": views}
    whole = override(recipe, {"data": {"frame_fit": "pad", "size": 288}})
    assert not whole["candidates"] and whole["model"]["backbone"] == "motion"
    square = override(recipe, {"data": {"frame_fit": "person", "size": 224}})
    assert not square["candidates"] and square["model"]["backbone"] == "motion_steps"
    neither = override(recipe, {"data": {"frame_fit": "crop", "size": 160}})
    assert not neither["candidates"] and neither["data"] == {"frame_fit": "crop", "size": 160}
    assert override(recipe, {"data": {"frame_fit": "pad"}})["candidates"] == [
        {"data": {"size": 224}, "model": {"backbone": "motion_steps"}},
        {"data": {"size": 288}},
    ]


@pytest.mark.parametrize(
    ("candidates", "wording"),
    [
        ([{"data": {"framefit": "pad"}}, {}], r"candidate 1 \(framefit=pad\).*did you mean"),
        ([{"data": {"frame_fit": "square"}}, {}], r"candidate 1 .*--frame-fit must be"),
        ([{}, {"candidates": []}], "candidate 2 .*cannot hold candidates"),
        ([{}, "pad"], "candidates: a list of settings"),
        ({"data": {}}, "candidates: a list of settings"),
    ],
)
def test_a_candidate_that_is_no_recipe_is_refused(candidates, wording) -> None:
    with pytest.raises(ConfigError, match=wording):
        TrainConfig.from_dict({"candidates": candidates})


def test_a_choice_rule_is_one_that_can_choose() -> None:
    with pytest.raises(ConfigError, match="choose must be validation or person_in_view"):
        TrainConfig.from_dict({"candidates": FITS, "choose": "taste"})
    three = [*FITS, {"data": {"frame_fit": "crop"}}]
    with pytest.raises(ConfigError, match=r"first of two candidates.* got 3"):
        TrainConfig.from_dict({"candidates": three, "choose": "person_in_view"})
    assert TrainConfig.from_dict(
        {"choose": "person_in_view"}
    ).candidate_configs()  # nothing to choose


def _people(root: Path) -> Path:
    """Two classes of three short clips of the real person of real-smoke's NTU clip (moved
    along the picture, the second class played backwards), one test clip each: 4 to learn from."""
    video = REAL_SMOKE / "NTU_RGBD" / "A001_drink_water" / "S001C001P001R001A001_rgb.avi"
    with VideoReader(video) as reader:
        frames = reader.read(range(0, 96, 8), short_side=270)  # 12 frames of 480x270
    rows = ["path,split"]
    for label, clip in (("forward", frames), ("backward", frames[::-1])):
        for number, split in enumerate(("train", "val", "test")):
            write_video(root / label / f"{number}.mp4", np.roll(clip, 60 * number, axis=2), 10)
            rows.append(f"{label}/{number}.mp4,{split}")
    (root / "split.csv").write_text("\n".join(rows) + "\n")
    return root


@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
def test_person_in_view_keeps_the_square_for_one_person_and_the_scene_otherwise(
    tmp_path,
) -> None:
    pytest.importorskip("mediapipe", reason="the pose extra is not installed")
    shapes = write_synthetic_dataset(tmp_path / "shapes", 3, frames=4, size=32, clips_per_group=1)
    people = _people(tmp_path / "people")
    (people / "forward" / "0.mp4").write_bytes(b"not a video")  # counts for neither
    for root, kept in ((people, 1), (shapes.root, 2)):
        data = {"root": str(root), "split_file": str(root / "split.csv"), "frames": 4}
        config = TrainConfig.from_dict(
            {"data": data, "candidates": FITS, "choose": "person_in_view", "progress": False}
        )
        chosen, compared = _choose(config, _plan_candidates(config))
        assert compared["kept"] == kept, compared
        assert compared["in_view"] == 1.0 if kept == 1 else compared["in_view"] < 0.75
        assert compared["videos"] == len(chosen.index.subset("train") + chosen.index.subset("val"))
        assert chosen.config.data.frame_fit == FITS[kept - 1]["data"]["frame_fit"]
        assert [c["settings"] for c in compared["candidates"]] == FITS


def test_each_videos_answer_is_kept_until_the_file_changes(make_video, monkeypatch) -> None:
    """A crossval's folds ask about the same training videos: each is looked at once."""
    looked = []
    monkeypatch.setattr(bodies, "body_centre", lambda frames: looked.append(len(frames)))
    videos = [make_video(f"{n}.mp4", frames=20) for n in range(3)]
    for _ in range(2):
        assert bodies.share_in_view(videos, 8, 64) == 0.0
    assert looked == [8, 8, 8]
    videos[0].write_bytes(videos[0].read_bytes() + b"\0")  # changed: looked at again
    bodies.share_in_view(videos, 8, 64)
    assert looked == [8, 8, 8, 8]


def test_candidates_are_compared_on_folds_of_the_training_groups(synthetic_dataset) -> None:
    splits = choice_splits(synthetic_dataset, seed=0)
    learning = {i.relpath: i.group for i in synthetic_dataset.items if i.split != "test"}
    assert len(splits) == CHOICE_FOLDS
    validated: list[str] = []
    for split in splits:
        assert split.subset("test") == synthetic_dataset.subset("test")  # never read
        val, train = split.subset("val"), split.subset("train")
        assert {i.group for i in val}.isdisjoint(i.group for i in train)
        assert {i.label for i in train} == set(range(len(synthetic_dataset.classes)))
        validated += [i.relpath for i in val]
    assert sorted(validated) == sorted(learning)  # every training video validated on once
    # two groups: each validates once; one group: the split as given
    for groups in (("g01", "g02"), ("g01",)):
        kept = [replace(i, split="train") for i in synthetic_dataset.items if i.group in groups]
        index = replace(synthetic_dataset, items=tuple(kept))
        halves = [{i.group for i in split.subset("val")} for split in choice_splits(index, 0)]
        assert halves == ([{"g01"}, {"g02"}] if len(groups) == 2 else [set()]), halves


def test_the_comparison_says_how_sure_it_is(caplog) -> None:
    # per-video losses around each mean: differences to the kept one spread by 0.5 (standard
    # deviation) over 25 videos, a standard error of 0.1
    spread = torch.tensor([-0.5, 0.5] * 12 + [0.0])
    tried = [{"val_loss": 0.45}, {"val_loss": 0.40}, {"val_loss": 0.60}]
    losses = [torch.full((25,), 0.45) + spread, torch.full((25,), 0.40), torch.full((24,), 0.6)]
    assert _keep(tried, losses) == 1
    assert tried[0]["difference_se"] == pytest.approx(0.1)  # paired on the same videos
    assert "difference_se" not in tried[1]  # the kept one
    assert tried[2]["difference_se"] is None  # validated on other videos: no pairing
    assert "candidate 1 (None) validated within one standard error (0.1000)" in caplog.text
    assert "candidate 3" not in caplog.text


@pytest.mark.slow
def test_the_run_keeps_the_candidate_with_the_lower_validation_loss(
    synthetic_dataset, tmp_path
) -> None:
    # forward and backward sweeps: one frame cannot tell them apart, three can; the blind
    # candidate comes first, so keeping the second is the comparison's doing, not the order's
    recipe = tmp_path / "recipe.yaml"
    probe = {"model": {"head": "linear"}, "optimizer": "lbfgs", "lr": 1.0, "scheduler": "none"}
    blind = {"data": {"frames": 1}}
    recipe.write_text(
        yaml.safe_dump(
            {**probe, "weight_decay": 10.0, "candidates": [blind, {"data": {"frames": 8}}]}
        )
    )
    run = tmp_path / "run"
    common = ["--size", "32", "--workers", "0", "--no-progress", "--epochs", "3"]
    out = invoke(
        "train",
        "--config",
        recipe,
        *split_args(synthetic_dataset.root),
        *common,
        "--refit",
        "--cache-dir",
        tmp_path / "cache",
        "--out",
        run,
    )
    compared = json.loads((run / "candidates.json").read_text())
    losses = [c["val_loss"] for c in compared["candidates"]]
    assert compared["kept"] == 2 and losses[1] < losses[0], compared
    # a clear choice: lower by more than one standard error, and no warning of a close call
    assert losses[0] - losses[1] > compared["candidates"][0]["difference_se"] > 0
    assert "cannot tell the two apart" not in out
    assert "kept candidate 2 (frames=8)" in out
    stored = yaml.safe_load((run / "config.yaml").read_text())
    assert stored["data"]["frames"] == 8 and stored["candidates"] == [
        blind,
        {"data": {"frames": 8}},
    ]
    summary = json.loads((run / "summary.json").read_text())
    assert summary["candidates"] == compared and summary["refit"]  # the recipe's refit, once kept
    saved = torch.load(run / "checkpoints" / "best.ckpt", weights_only=True)
    assert saved[METADATA_KEY]["sampling"]["frames"] == 8
    assert list(run.iterdir()) and not (run / "candidates").exists()  # scratch runs are gone
    # the run resumes as the candidate it kept, without choosing again
    resumed = invoke("train", "--resume", run, "--epochs", "4")
    assert "candidate" not in resumed
    assert json.loads((run / "summary.json").read_text())["candidates"] == compared


def test_candidates_that_cannot_be_compared_are_refused_before_anything_is_written(
    synthetic_dataset, tmp_path, monkeypatch
) -> None:
    root = synthetic_dataset.root
    base = {"data": {"root": str(root), "split_file": str(root / "split.csv"), "size": 32}}
    out = tmp_path / "run"
    two = [{"data": {"frames": 2}}, {"data": {"frames": 3}}]
    some = list(synthetic_dataset.classes[:2])
    for candidates, wording, world in (
        (two, "compared in one process, not 2", "2"),
        ([{}, {"data": {"classes": some}}], "split the videos differently", "1"),
    ):
        monkeypatch.setenv("WORLD_SIZE", world)
        config = TrainConfig.from_dict({**base, "out": str(out), "candidates": candidates})
        with pytest.raises(ConfigError, match=wording):
            train(config)
        assert not out.exists()


@pytest.mark.slow
def test_each_trial_starts_from_a_fresh_model(synthetic_dataset, tmp_path) -> None:
    # a candidate's pooled validation loss is that of independent fits, one per fold: a model
    # carried from fold to fold would have trained on the next fold's validation videos
    root = synthetic_dataset.root
    data = {"root": str(root), "split_file": str(root / "split.csv"), "size": 32, "workers": 0}
    config = TrainConfig.from_dict(
        {
            "data": data,
            "model": {"head": "linear"},
            "epochs": 2,
            "progress": False,
            "cache_dir": str(tmp_path / "cache"),
            "candidates": [{"data": {"frames": 3}}, {"data": {"frames": 2}}],
        }
    )
    plans = _plan_candidates(config)
    _, compared = _choose(config, plans)
    first = plans[0]
    pooled, videos = 0.0, 0
    for fold, index in enumerate(choice_splits(first.index, config.seed)):
        folder = tmp_path / f"alone-{fold}"
        folder.mkdir()
        trial = replace(first.config, out=str(folder), tensorboard=False)
        alone = _fit(replace(plan(trial), index=index), folder, None, None).summary
        pooled += alone["best_val_loss"] * len(index.subset("val"))
        videos += len(index.subset("val"))
    assert compared["candidates"][0]["val_loss"] == pytest.approx(pooled / videos, rel=1e-5)


def test_each_candidate_is_checked_as_it_would_train() -> None:
    fine = TrainConfig(candidates=({"model": {"head": "gru"}}, {"model": {"head": "linear"}}))
    check_config(fine)
    unknown = TrainConfig(candidates=({"model": {"head": "gru"}}, {"model": {"head": "lstmm"}}))
    with pytest.raises(ConfigError, match=r"candidate 2 \(head=lstmm\): .*lstm"):
        check_config(unknown)
