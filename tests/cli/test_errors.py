"""Bad input gets one line naming the thing and the fix, never a traceback; a bug keeps its
traceback; nothing is written before the input has been checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

from tests.conftest import runner, split_args
from vidact.cli.main import app
from vidact.errors import CheckpointError
from vidact.models.checkpoint import METADATA_KEY


def _fails(args: list[object], *expected: str) -> str:
    """Run the command: exit status 2, one ``error:`` line holding ``expected``, no traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    for text in expected:
        assert text in errors[0], output
    return errors[0]


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--size", "-5"], "--size must be 16 to 1024 pixels"),
        (["--size", "0"], "--size must be 16 to 1024 pixels"),
        (["--size", "100000"], "--size must be 16 to 1024 pixels"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--lr", "-1"], "--lr must be above 0"),
        (["--optimizer", "adamm"], "unknown optimizer 'adamm' (did you mean 'adam'?)"),
        (["--scheduler", "step"], "unknown scheduler 'step'"),
        (["--head", "nope"], "unknown head 'nope'"),
        (["--head", "lstm", "--head-arg", "hiden_size=3"], "head 'lstm': bad arguments"),
        (["--head-arg", "oops"], "--head-arg 'oops': expected KEY=VALUE"),
        (["--backbone", "resnet_nope"], "unknown backbone 'resnet_nope'"),
        (["--sampling", "random"], "unknown sampling strategy 'random'"),
        (["--augment", "wild"], "unknown augmentation preset 'wild'"),
        (["--mlp", "a,b"], "--mlp 'a,b'"),
        (["--dropout", "1.5"], "--dropout must be in [0, 1)"),
        (["--appearance-dropout", "1"], "--appearance-dropout must be in [0, 1)"),
        (
            ["--temporal-input", "raw", "--appearance-dropout", "0.5"],
            "--appearance-dropout needs an input with a change half",
        ),
        (["--precision", "8-bit"], "--precision must be one of"),
        (["--devices", "two"], "--devices must be a count"),
        (["--strategy", "ddpp"], "unknown --strategy 'ddpp'"),
        (["--val-fraction", "0.6", "--test-fraction", "0.5"], "leave nothing to train on"),
        (["--weights", "missing.pth", "--backbone", "resnet18"], "missing.pth: file not found"),
    ],
)
def test_bad_training_options_are_refused_before_anything_is_written(
    synthetic_dataset, tmp_path: Path, flags: list[str], expected: str
) -> None:
    run = tmp_path / "run"
    _fails(["train", *split_args(synthetic_dataset.root), *flags, "--out", run], expected)
    assert not run.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_gpu_without_a_gpu_says_so(synthetic_dataset, tmp_path: Path, trained_run: Path) -> None:
    _fails(
        ["train", *split_args(synthetic_dataset.root), "--accelerator", "gpu", "--out", tmp_path],
        "PyTorch sees no CUDA GPU",
    )
    video = next(Path(synthetic_dataset.root).glob("*/*.mp4"))
    _fails(["predict", trained_run / "checkpoints/best.ckpt", video, "--device", "cuda"], "no CUDA")


@pytest.mark.parametrize(
    ("recipe", "expected"),
    [
        ("model: {head: lstm\n  backbone: [", "is not valid YAML"),
        ("epochs: ten\n", "epochs: expected int, got 'ten'"),
        ("model:\n  hed: gru\n", "unknown ModelConfig settings: hed (did you mean head?)"),
        ("- a list\n", "a recipe is a YAML mapping"),
    ],
)
def test_bad_recipes_name_the_file_and_the_problem(
    synthetic_dataset, tmp_path: Path, recipe: str, expected: str
) -> None:
    path = tmp_path / "recipe.yaml"
    path.write_text(recipe)
    line = _fails(
        ["train", "--config", path, *split_args(synthetic_dataset.root), "--out", tmp_path / "r"],
        expected,
    )
    assert str(path) in line


def test_no_dataset_says_where_to_point(tmp_path: Path) -> None:
    _fails(["train", "--out", tmp_path / "run"], "say where the videos are: --data ROOT")


def test_validation_that_groups_cannot_fill_is_explained(tmp_path: Path, make_video) -> None:
    for name in ("a", "b"):  # two classes, one group of three clips each
        (tmp_path / "d" / name).mkdir(parents=True)
        for clip in range(3):
            shutil.copy(make_video(), tmp_path / "d" / name / f"v_{name}_g01_c{clip}.mp4")
    line = _fails(
        ["train", "--data", tmp_path / "d", "--test-fraction", "0", "--out", tmp_path / "run"],
        "no group of videos fits a --val-fraction 0.15 validation share",
    )
    assert "above 0" not in line
    _fails(
        ["train", "--data", tmp_path / "d", "--val-fraction", "0", "--test-fraction", "0"],
        "set --val-fraction above 0",
    )


def test_prediction_inputs_are_checked(
    trained_run: Path, tmp_path: Path, synthetic_dataset
) -> None:
    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    video = next(Path(synthetic_dataset.root).glob("*/*.mp4"))
    _fails(["predict", checkpoint, video, "--topk", "-1"], "--topk must be at least 1")
    _fails(["predict", checkpoint, video, "--device", "bogus"], "--device 'bogus': not a device")
    _fails(["predict", checkpoint, tmp_path], "no video files in", str(tmp_path))
    _fails(["predict", checkpoint, tmp_path / "gone.mp4"], "gone.mp4: no such file or folder")
    _fails(["predict", checkpoint, f"{tmp_path}/*.avi"], "*.avi: no file matches this pattern")
    _fails(["predict", tmp_path, video], "is a folder; pass a checkpoint file")
    _fails(["models", "--num-classes", "-3"], "--num-classes and --features must be at least 1")


def test_checkpoints_that_do_not_match_their_metadata(trained_run: Path, tmp_path: Path) -> None:
    state = torch.load(trained_run / "checkpoints" / "best.ckpt", weights_only=False)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"")  # never reached: the checkpoint fails first

    bad_meta = {**state, METADATA_KEY: {**state[METADATA_KEY], "input": {"size": 32}}}
    torch.save(bad_meta, tmp_path / "meta.ckpt")
    _fails(["predict", tmp_path / "meta.ckpt", video], "model description is incomplete")

    head = dict(state[METADATA_KEY]["model"], head_args={"hidden_size": 7})
    bad_tensors = {**state, METADATA_KEY: {**state[METADATA_KEY], "model": head}}
    torch.save(bad_tensors, tmp_path / "tensors.ckpt")
    _fails(["predict", tmp_path / "tensors.ckpt", video], "weights do not match the model")

    (tmp_path / "cut.ckpt").write_bytes((trained_run / "checkpoints/best.ckpt").read_bytes()[:999])
    _fails(["predict", tmp_path / "cut.ckpt", video], "cannot read the checkpoint")


def _scored(checkpoint: Path, root: Path, out: Path) -> tuple[str, int]:
    """What ``vidact evaluate CHECKPOINT --data ROOT`` says, and how many videos it scored."""
    result = runner.invoke(
        app, ["evaluate", str(checkpoint), "--data", str(root), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    return result.output, json.loads((out / "metrics.json").read_text())["num_videos"]


def test_a_plain_folder_is_scored_on_the_run_s_split_else_whole(
    trained_run: Path, synthetic_dataset, tmp_path
) -> None:
    root = synthetic_dataset.root
    run_split = trained_run / "split.csv"
    tested = [line for line in run_split.read_text().splitlines() if line.endswith(",test")]
    # the run's own checkpoint scores the test videos of the split it was trained with, on the
    # dataset where it lies now (a copy elsewhere), and any split of it
    moved = Path(shutil.copytree(root, tmp_path / "moved" / "data"))
    output, scored = _scored(trained_run / "checkpoints" / "best.ckpt", moved, tmp_path / "own")
    assert f"the {len(tested)} test videos of {run_split}, the split this model" in output
    assert scored == len(tested) and "any the model trained on included" not in output
    # the top-1 interval is drawn over the run's groups (groups.csv), unless others are given
    copy = Path(
        shutil.copytree(trained_run, tmp_path / "copy", ignore=shutil.ignore_patterns("last.ckpt"))
    )
    paths = [line.split(",")[0] for line in run_split.read_text().splitlines()[1:]]
    (copy / "groups.csv").write_text(
        "path,group\n" + "".join(f"{p},{p < 'h'}\n" for p in paths)  # two groups
    )
    _scored(copy / "checkpoints" / "best.ckpt", moved, tmp_path / "grouped")
    metrics = json.loads((tmp_path / "grouped" / "metrics.json").read_text())
    assert metrics["interval_over"] == "groups"
    assert metrics["interval_groups"] == 2 < len(tested)
    members = [trained_run / "checkpoints" / "best.ckpt"] * 2  # an ensemble of one run's models
    out = tmp_path / "both"
    result = runner.invoke(
        app, ["ensemble", *map(str, members), "--data", str(moved), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((out / "metrics.json").read_text())["num_videos"] == len(tested)
    # a checkpoint away from its run, or a folder of other videos, has no split to score
    checkpoint = Path(shutil.copy(trained_run / "checkpoints" / "best.ckpt", tmp_path))
    _fails(
        ["evaluate", checkpoint, "--data", root, "--split", "test"],
        f"plain folder with no split; pass --split-file (a run's split is RUN/split.csv; the "
        f"folder holds {root / 'split.csv'})",
    )
    output, scored = _scored(checkpoint, root, tmp_path / "all")
    assert "any the model trained on included" in output and scored == len(synthetic_dataset.items)
    next(moved.glob("*/*.mp4")).unlink()
    output, scored = _scored(trained_run / "checkpoints" / "best.ckpt", moved, tmp_path / "less")
    assert (
        "any the model trained on included" in output and scored == len(synthetic_dataset.items) - 1
    )
    # a split file of test videos alone is enough to evaluate (training refuses it)
    tests = [
        line for line in (root / "split.csv").read_text().splitlines() if line.endswith(",test")
    ]
    only_test = tmp_path / "test-only.csv"
    only_test.write_text("path,split\n" + "\n".join(tests) + "\n")
    out = tmp_path / "test-only"
    args = ["evaluate", checkpoint, "--data", root, "--split-file", only_test, "--out", out]
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    assert "no group ids" not in result.output  # vidact drew no split
    assert json.loads((out / "metrics.json").read_text())["num_videos"] == len(tests)
    train = ["train", "--data", root, "--split-file", only_test, "--out", tmp_path / "run"]
    _fails(train, "leaves no training videos")


def test_verbose_shows_the_traceback_of_a_user_error(synthetic_dataset, tmp_path: Path) -> None:
    args = ["train", *map(str, split_args(synthetic_dataset.root)), "--lr", "-1"]
    result = runner.invoke(app, [*args, "--out", str(tmp_path / "r"), "-v"])
    assert result.exit_code == 2 and "Traceback" in result.output
    assert "ConfigError: --lr must be above 0" in result.output


def test_a_bug_is_not_dressed_as_a_user_error(trained_run: Path, make_video, monkeypatch) -> None:
    import vidact.inference.predictor as predictor

    def broken(*args, **kwargs):
        raise KeyError("internal")

    monkeypatch.setattr(predictor, "classifier_from", broken)
    checkpoint = str(trained_run / "checkpoints/best.ckpt")
    result = runner.invoke(app, ["predict", checkpoint, str(make_video())])
    assert isinstance(result.exception, KeyError)  # not SystemExit: the traceback is shown
    assert not isinstance(result.exception, CheckpointError)


ALLOCATOR_FAILED = (  # torch's words when the machine has no more memory to give
    "DefaultCPUAllocator: can't allocate memory: you tried to allocate 56934936576 bytes. "
    "Error code 12 (Cannot allocate memory)"
)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (
            RuntimeError(ALLOCATOR_FAILED),
            "error: out of memory (asked for 53.0 GiB): lower --batch-size, --clips or --crops "
            "(or --workers), or run where there is more",
        ),
        (torch.OutOfMemoryError("CUDA out of memory."), "error: out of memory: lower"),
        (MemoryError(), "error: out of memory: lower --batch-size"),
    ],
)
def test_running_out_of_memory_names_the_settings_not_a_traceback(
    trained_run: Path, make_video, monkeypatch, raised: BaseException, expected: str
) -> None:
    import vidact.inference.predictor as predictor

    def out_of_memory(*args, **kwargs):
        raise raised

    monkeypatch.setattr(predictor, "classifier_from", out_of_memory)
    checkpoint = str(trained_run / "checkpoints/best.ckpt")
    result = runner.invoke(app, ["predict", checkpoint, str(make_video())])
    assert result.exit_code == 2 and expected in result.output, result.output
    assert "Traceback" not in result.output
    monkeypatch.setattr(predictor, "classifier_from", lambda *a, **k: 1 / 0)
    bug = runner.invoke(app, ["predict", checkpoint, str(make_video("b.mp4"))])
    assert isinstance(bug.exception, ZeroDivisionError)  # any other error keeps its traceback


def test_running_out_of_memory_names_only_the_command_s_own_settings(
    synthetic_dataset, tmp_path: Path, monkeypatch
) -> None:
    import vidact.evaluation.crossval as crossval

    def out_of_memory(*args, **kwargs):
        raise MemoryError

    monkeypatch.setattr(crossval, "run_crossval", out_of_memory)
    args = ["crossval", "--data", synthetic_dataset.root, "--out", tmp_path / "cv"]
    result = runner.invoke(app, [str(a) for a in args])
    expected = "lower --batch-size, --frames or --size (or --workers), or run where there is more"
    assert result.exit_code == 2 and expected in result.output, result.output
