"""Shared fixtures: tiny videos the tests write themselves, and the real clips in ../shared."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from vidact.cli.main import app
from vidact.data.index import VideoIndex
from vidact.data.synthetic import write_synthetic_dataset
from vidact.io.writer import write_video

# the real clips beside the checkout; VIDACT_REAL_SMOKE points elsewhere (the test that checks
# that their tests skip when they are absent points it at nothing)
REAL_SMOKE = Path(
    os.environ.get("VIDACT_REAL_SMOKE")
    or Path(__file__).resolve().parents[2] / "shared" / "data" / "real-smoke"
)
# Debian's chromium, driven by Playwright (never a downloaded browser); .ci/run installs it
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"  # screenshots, for people
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).is_file(),
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does)",
)
# a tiny run: frozen Lite0 on cached features, 3 frames of 32 px, no worker processes
FAST_RUN = ["--frames", "3", "--size", "32", "--batch-size", "8", "--workers", "0", "--no-progress"]


def real_clip(*parts: str) -> Path:
    """A clip of ../shared/data/real-smoke; the test asking for it is skipped (not failed) when
    the clips are absent, as on a checkout without ../shared."""
    path = REAL_SMOKE.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} is absent (../shared/data/real-smoke)")
    return path


@pytest.fixture
def real_smoke() -> Path:
    """The real clips' folder; asked for first, it skips a test before its costly fixtures."""
    if not REAL_SMOKE.is_dir():
        pytest.skip(f"{REAL_SMOKE} is absent (../shared/data/real-smoke)")
    return REAL_SMOKE


def split_args(root: Path) -> list[object]:
    """The command-line flags of a synthetic dataset: its root and its split file."""
    return ["--data", root, "--split-file", root / "split.csv"]


def numbered_frames(count: int, height: int = 48, width: int = 64) -> np.ndarray:
    """Frames whose brightness encodes their index (10 + 3 i), so decoded order can be checked."""
    if count > 81:
        raise ValueError("brightness can number at most 81 frames")
    frames = np.zeros((count, height, width, 3), dtype=np.uint8)
    for i in range(count):
        frames[i] = 10 + 3 * i
    return frames


def frame_number(frame: np.ndarray) -> int:
    return round((float(frame.mean()) - 10) / 3)


@pytest.fixture
def make_video(tmp_path: Path):
    def make(
        name: str = "clip.mp4",
        frames: int = 12,
        height: int = 48,
        width: int = 64,
        fps: float = 10.0,
    ) -> Path:
        return write_video(
            tmp_path / name, numbered_frames(frames, height, width), fps, bit_rate=5_000_000
        )

    return make


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> VideoIndex:
    """A tiny temporal dataset: 8 classes x 6 videos (one group each), 12 frames of 32x32."""
    root = tmp_path_factory.mktemp("synthetic")
    return write_synthetic_dataset(
        root, videos_per_class=6, frames=12, size=32, seed=0, clips_per_group=1
    )


runner = CliRunner()


def invoke(*args: str) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="session")
def trained_run(synthetic_dataset: VideoIndex, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "lstm"
    invoke(
        "train",
        *split_args(synthetic_dataset.root),
        "--backbone",
        "tf_efficientnet_lite0",
        "--pretrained",
        "--head",
        "lstm",
        "--frames",
        "4",
        "--size",
        "32",
        "--epochs",
        "2",
        "--batch-size",
        "8",
        "--lr",
        "0.003",
        "--optimizer",
        "adam",
        "--seed",
        "1",
        "--workers",
        "0",
        "--no-progress",
        "--cache-dir",
        tmp_path_factory.mktemp("cache"),
        "--out",
        run,
    )
    return run
