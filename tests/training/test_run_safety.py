"""Nothing lost, nothing mixed: locked run directories, safe --overwrite, moved runs, faithful
kill-and-resume, caches that heal, unreadable videos pooled across DDP processes."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from tests.conftest import FAST_RUN, invoke, runner, split_args
from vidact.cli.main import app
from vidact.data import sampler
from vidact.data.cache import clear_cache
from vidact.data.sampler import EpochSampler
from vidact.data.synthetic import write_synthetic_dataset
from vidact.errors import RunError
from vidact.training.rundir import RunDirectory

# a tiny trainable backbone on pixels: augmentation, dropout, a DataLoader worker
PIXELS = [
    "--backbone",
    "test_efficientnet",
    "--no-pretrained",
    "--head",
    "gru",
    "--frames",
    "3",
    "--size",
    "32",
    "--batch-size",
    "8",
    "--workers",
    "1",
    "--no-progress",
]


def _vidact(*args: object) -> list[str]:
    return [sys.executable, "-m", "vidact", *map(str, args)]


def _epochs(run: Path) -> list[int]:
    with (run / "metrics.csv").open() as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def _fingerprint(run: Path) -> dict[str, str]:
    return {
        str(p.relative_to(run)): hashlib.sha1(p.read_bytes()).hexdigest()
        for p in sorted(run.rglob("*"))
        if p.is_file()
    }


def _fails(args: list[object], expected: str) -> None:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2 and expected in result.output, result.output
    assert "Traceback" not in result.output


@pytest.fixture
def cached_run(synthetic_dataset, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    invoke(
        "train",
        *split_args(synthetic_dataset.root),
        "--epochs",
        "2",
        "--cache-dir",
        tmp_path / "cache",
        *FAST_RUN,
        "--out",
        run,
    )
    return run


@pytest.fixture
def unreadable_dataset(synthetic_dataset, tmp_path: Path) -> Path:
    """The synthetic dataset with every video replaced by bytes that are not a video."""
    root = tmp_path / "unreadable"
    shutil.copytree(synthetic_dataset.root, root)
    for video in root.glob("*/*.mp4"):
        video.write_bytes(b"not a video")
    return root


def test_a_second_writer_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with RunDirectory(tmp_path / "run"), pytest.raises(RunError, match=f"process {os.getpid()}"):
        RunDirectory(tmp_path / "run").__enter__()
    assert not (tmp_path / "run").exists()  # made for nothing, removed again
    with RunDirectory(tmp_path / "run"):  # released: the next writer gets it
        pass


@pytest.mark.slow
def test_a_moved_run_resumes_under_the_documented_names(cached_run: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "run"
    shutil.copytree(cached_run, moved)
    shutil.rmtree(cached_run)
    invoke("train", "--resume", moved, "--epochs", "3")
    assert sorted(p.name for p in (moved / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert _epochs(moved) == [1, 2, 3]
    invoke("train", "--resume", moved, "--epochs", "4")  # from the new last.ckpt, not a stale one
    assert _epochs(moved) == [1, 2, 3, 4]
    last = torch.load(moved / "checkpoints" / "last.ckpt", weights_only=False)
    assert last["epoch"] == 3  # 0-based: four epochs done
    config = yaml.safe_load((moved / "config.yaml").read_text())
    assert config["epochs"] == 2  # as the run was started; the change lives in resumed.yaml
    assert yaml.safe_load((moved / "resumed.yaml").read_text()) == {"epochs": 4}


@pytest.mark.slow
def test_resume_refuses_what_it_cannot_honour(cached_run: Path) -> None:
    before = _fingerprint(cached_run)
    _fails(["train", "--resume", cached_run, "--lr", "0.1"], "cannot change --lr")
    _fails(["train", "--resume", cached_run, "--head", "gru"], "cannot change --head")
    _fails(["train", "--resume", cached_run, "--epochs", "1"], "has trained 2 epochs already")
    assert _fingerprint(cached_run) == before
    last = cached_run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:2000])  # killed while Lightning wrote it
    _fails(["train", "--resume", cached_run, "--epochs", "3"], "cannot be read (truncated")


@pytest.mark.slow
def test_overwrite_replaces_a_run_only_once_the_new_one_stands(
    cached_run: Path, synthetic_dataset, unreadable_dataset: Path, tmp_path: Path
) -> None:
    before = _fingerprint(cached_run)
    base = ["train", *split_args(synthetic_dataset.root), *FAST_RUN, "--out", cached_run]
    _fails([*base, "--overwrite", "--head", "nope"], "unknown head")
    _fails([*base, "--overwrite", "--lr", "-1"], "--lr must be above 0")
    assert _fingerprint(cached_run) == before

    # a new run that fails after starting (every video unreadable) puts the old run back
    _fails(
        [
            "train",
            *split_args(unreadable_dataset),
            *FAST_RUN,
            "--cache-dir",
            tmp_path / "cache2",
            "--overwrite",
            "--out",
            cached_run,
        ],
        "videos are unreadable",
    )
    assert _fingerprint(cached_run) == before

    invoke(*base, "--overwrite", "--epochs", "1", "--head", "gru", "--cache-dir", tmp_path / "c")
    assert _epochs(cached_run) == [1]
    assert yaml.safe_load((cached_run / "config.yaml").read_text())["model"]["head"] == "gru"
    assert not (cached_run / ".replaced").exists() and not (cached_run / ".lock").exists()


@pytest.mark.slow
def test_a_failed_start_leaves_nothing_behind(unreadable_dataset: Path, tmp_path: Path) -> None:
    _fails(
        [
            "train",
            *split_args(unreadable_dataset),
            *FAST_RUN,
            "--cache-dir",
            tmp_path / "c",
            "--out",
            tmp_path / "r",
        ],
        "videos are unreadable",
    )
    assert not (tmp_path / "r").exists()


def test_an_unreadable_video_is_reported_once_not_every_epoch(
    synthetic_dataset, tmp_path: Path
) -> None:
    root = tmp_path / "data"
    shutil.copytree(synthetic_dataset.root, root)
    broken = root / next(r for r in csv.DictReader((root / "split.csv").open()))["path"]
    broken.write_bytes(b"not a video")
    output = invoke(
        "train",
        *split_args(root),
        *FAST_RUN,
        "--epochs",
        "3",
        "--max-bad-fraction",
        "0.2",
        "--cache-dir",
        tmp_path / "c",
        "--out",
        tmp_path / "r",
    )
    assert output.count(f"skipping {broken}") == 1 and "rebuilding" not in output
    assert f"skipped 1 unreadable video(s): {broken}" in output


@pytest.mark.parametrize("inputs", [FAST_RUN, PIXELS], ids=["features", "pixels"])
def test_a_validation_of_unreadable_videos_stops_with_its_reason(
    synthetic_dataset, tmp_path: Path, inputs: list[str]
) -> None:
    root = tmp_path / "data"
    shutil.copytree(synthetic_dataset.root, root)
    for row in csv.DictReader((root / "split.csv").open()):
        if row["split"] == "val":
            (root / row["path"]).write_bytes(b"not a video")
    args = ["train", *split_args(root), *inputs, "--max-bad-fraction", "0.5", "--epochs", "2"]
    _fails(
        [*args, "--cache-dir", tmp_path / "c", "--out", tmp_path / "r"],
        "so nothing can choose the epoch",
    )


@pytest.mark.slow
def test_damaged_or_cleared_caches_never_make_a_video_unreadable(
    synthetic_dataset, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    args = ["train", *split_args(synthetic_dataset.root), "--cache-dir", cache, *FAST_RUN]
    invoke(*args, "--epochs", "1", "--out", tmp_path / "a")
    entries = sorted(cache.glob("features/*/*.npy"))
    for entry in entries[:10]:  # bytes overwritten inside the arrays
        data = bytearray(entry.read_bytes())
        data[-16:] = b"\xff" * 16
        entry.write_bytes(bytes(data))
    for entry in entries[10:15]:
        entry.write_bytes(entry.read_bytes()[:50])  # truncated
    invoke(*args, "--epochs", "1", "--out", tmp_path / "b")
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert summary["unreadable_videos"] == []
    first = (tmp_path / "a" / "metrics.csv").read_text()
    assert first == (tmp_path / "b" / "metrics.csv").read_text().replace(
        *_seconds_of(tmp_path / "b", tmp_path / "a")
    )  # rebuilt features train exactly as the originals did


def _seconds_of(new: Path, old: Path) -> tuple[str, str]:
    """The seconds column differs between two runs; everything else must not."""
    row_new = next(csv.DictReader((new / "metrics.csv").open()))
    row_old = next(csv.DictReader((old / "metrics.csv").open()))
    return row_new["seconds"], row_old["seconds"]


@pytest.mark.slow
def test_killed_run_resumes_to_the_weights_of_an_unbroken_run(
    synthetic_dataset, tmp_path: Path
) -> None:
    root = synthetic_dataset.root
    epochs = ["--epochs", "5", "--augment", "strong", "--seed", "7"]
    invoke("train", *split_args(root), *PIXELS, *epochs, "--out", tmp_path / "whole")

    run = tmp_path / "broken"
    process = subprocess.Popen(
        _vidact("train", *split_args(root), *PIXELS, *epochs, "--out", run),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = run / "checkpoints" / "last.ckpt"  # written at the end of epoch 1
    while not last.exists() and process.poll() is None:
        time.sleep(0.02)
    # frozen where it stands, so no timing decides how far it gets before the kill
    process.send_signal(signal.SIGSTOP)
    # while it holds the run, a second training on the same --out is refused, naming the holder
    _fails(["train", *split_args(root), *PIXELS, "--out", run], f"process {process.pid}")
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert last.exists(), "the run never wrote its first checkpoint"
    assert len(_epochs(run)) < 5, "the run finished before it could be killed"

    output = invoke("train", "--resume", run)
    assert "5 epochs" in output and _epochs(run) == [1, 2, 3, 4, 5]  # no gap, no repeat
    summary = json.loads((run / "summary.json").read_text())
    assert summary["epochs_run"] == 5 and summary["resumed_from_epoch"] >= 1
    whole = torch.load(tmp_path / "whole" / "checkpoints" / "last.ckpt", weights_only=False)
    resumed = torch.load(last, weights_only=False)
    for name, tensor in whole["state_dict"].items():
        torch.testing.assert_close(resumed["state_dict"][name], tensor, rtol=1e-5, atol=1e-6)
    rows = [list(csv.DictReader((r / "metrics.csv").open())) for r in (tmp_path / "whole", run)]
    for a, b in zip(*rows, strict=True):
        assert float(a["train_loss"]) == pytest.approx(float(b["train_loss"]), rel=1e-5)


@pytest.mark.slow
def test_two_process_ddp_pools_unreadable_videos(tmp_path: Path, monkeypatch) -> None:
    root = tmp_path / "data"
    write_synthetic_dataset(root, videos_per_class=6, frames=12, size=32, seed=0, clips_per_group=1)
    rows = list(csv.DictReader((root / "split.csv").open()))
    train = [root / row["path"] for row in rows if row["split"] == "train"]  # dataset order
    seen = [_seen_by(rank, len(train), epochs=2, monkeypatch=monkeypatch) for rank in (0, 1)]
    # one video only the first process reads, one only the second: the report needs both
    corrupt = [train[min(seen[0] - seen[1])], train[min(seen[1] - seen[0])]]
    for video in corrupt:
        video.write_bytes(video.read_bytes()[:300])
    run = tmp_path / "run"
    env = {**os.environ, "MASTER_PORT": str(29500 + os.getpid() % 1000)}
    result = subprocess.run(
        _vidact(
            "train",
            *split_args(root),
            *PIXELS,
            "--workers",
            "0",
            "--accelerator",
            "cpu",
            "--devices",
            "2",
            "--strategy",
            "ddp",
            "--epochs",
            "2",
            "--max-bad-fraction",
            "0.1",
            "--out",
            run,
        ),
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("best epoch") == 1  # one report, not one per process
    summary = json.loads((run / "summary.json").read_text())
    assert summary["unreadable_videos"] == sorted(str(v) for v in corrupt)  # both processes' finds
    assert _epochs(run) == [1, 2]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]


def _seen_by(rank: int, size: int, epochs: int, monkeypatch) -> set[int]:
    """Indices of the training videos process ``rank`` of two reads in ``epochs`` epochs."""
    monkeypatch.setattr(sampler, "_world", lambda: (rank, 2))
    order = EpochSampler(size, seed=0)
    seen = set()
    for epoch in range(epochs):
        order.set_epoch(epoch)
        seen |= {index for _, index in order}
    return seen


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["clips", "features"])
def test_clearing_the_cache_during_training_loses_no_video(
    synthetic_dataset, tmp_path: Path, kind: str
) -> None:
    cache, run = tmp_path / "cache", tmp_path / "run"
    model = PIXELS if kind == "clips" else [*FAST_RUN, "--head", "gru"]
    process = subprocess.Popen(
        _vidact(
            "train",
            *split_args(synthetic_dataset.root),
            *model,
            "--epochs",
            "4",
            "--cache-dir",
            cache,
            "--out",
            run,
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    cleared = 0
    while process.poll() is None:
        if (cache / "CACHEDIR.TAG").exists():
            clear_cache(cache)
            cleared += 1
        time.sleep(0.05)
    assert process.returncode == 0, process.stderr.read()[-3000:]
    assert cleared > 3
    assert json.loads((run / "summary.json").read_text())["unreadable_videos"] == []
