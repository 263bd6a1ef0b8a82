"""Activities over time: windows, smoothing, segments, and a video joined from two activities."""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import FAST_RUN, invoke
from vidact.data.index import VideoIndex
from vidact.errors import ConfigError
from vidact.inference import predictor
from vidact.inference.load import load_predictor
from vidact.inference.timeline import (
    TimelineSettings,
    WindowScores,
    plan_windows,
    score_windows,
    smooth,
    window_bounds,
)
from vidact.io.reader import VideoReader
from vidact.io.writer import write_video
from vidact.sampling import ClipSampling

SAMPLING = ClipSampling(frames=4)


def test_windows_cover_the_video_and_end_at_its_end() -> None:
    windows = plan_windows(53, 10.0, TimelineSettings("2s", "0.5s"), SAMPLING)
    assert [w.start for w in windows] == [0, 5, 10, 15, 20, 25, 30, 33]
    assert all(w.length == 20 and len(w.positions) == 4 for w in windows)
    assert windows[-1].positions.max() < 53
    short = plan_windows(7, 10.0, TimelineSettings("2s", "0.5s"), SAMPLING)
    assert len(short) == 1 and short[0].length == 7


def test_windows_stay_inside_shots() -> None:
    settings = TimelineSettings("2s", "0.5s")
    windows = plan_windows(60, 10.0, settings, SAMPLING, cuts=[25, 35])
    for window in windows:  # none straddles a cut
        assert window.shot <= window.positions.min() and window.start >= window.shot
        assert window.start + window.length <= {0: 25, 25: 35, 35: 60}[window.shot]
    short = [w for w in windows if w.shot == 25]
    assert [(w.start, w.length) for w in short] == [(25, 10)]  # shorter than a window: one
    bounds = window_bounds(windows, 10.0, 60)
    assert (2.5, 3.5) in bounds  # the short shot's window speaks for its shot, cut to cut
    first = np.array([w.shot == 0 for w in windows], dtype=float)
    scores = np.stack([first, 1 - first], 1)
    decoding = TimelineSettings("2s", "0.5s", smooth=5, min_segment=1.0)
    scan = WindowScores(windows, scores, 10.0, 60, decoding)
    assert scan.smoothed().tolist() == scores.tolist()  # smoothing stops at the cuts
    assert scan.per_frame()[24] == 1 and scan.per_frame()[25] == 2
    parts = scan.segments(("walk", "run"))
    assert [p["label"] for p in parts] == ["walk", "run"] and parts[-1]["end_s"] == 6.0
    assert abs(parts[0]["end_s"] - 2.5) <= 0.25  # between the two shots' windows: at the cut


def test_smoothing_removes_a_one_window_blip() -> None:
    probabilities = np.array([[0.9, 0.1]] * 3 + [[0.2, 0.8]] + [[0.9, 0.1]] * 3)
    assert (smooth(probabilities, 3, "median").argmax(1) == 0).all()
    assert smooth(probabilities, 1).tolist() == probabilities.tolist()
    np.testing.assert_allclose(smooth(probabilities, 3, "mean")[3], [2.0 / 3, 1.0 / 3])


def test_frames_are_encoded_once_and_windows_scored_in_order() -> None:
    windows = plan_windows(40, 10.0, TimelineSettings("10", "5"), SAMPLING)
    needed = sorted({int(p) for w in windows for p in w.positions})
    encoded: list[int] = []

    def encode(frames: np.ndarray) -> torch.Tensor:
        encoded.extend(int(f[0, 0, 0]) for f in frames)
        return torch.from_numpy(frames[:, 0, 0, :1].astype(np.float32))  # (N, 1): the index

    def classify(clips: torch.Tensor) -> torch.Tensor:  # mean frame index -> "late" probability
        late = clips.mean(dim=(1, 2)) / 40
        return torch.stack([1 - late, late], dim=1)

    frames = ((i, np.full((2, 2, 3), i, np.uint8)) for i in needed)
    scores = score_windows(windows, frames, encode, classify, chunk=3)
    assert encoded == needed  # each frame once, in order
    assert scores.shape == (len(windows), 2) and (np.diff(scores[:, 1]) > 0).all()


def test_segments_place_the_change_within_one_stride() -> None:
    windows = plan_windows(80, 10.0, TimelineSettings("1s", "0.5s"), SAMPLING)
    cut = 40  # frames 0-39 are "walk", 40-79 "run"
    first = np.array([(w.start + w.length / 2) < cut for w in windows], dtype=float)
    bounds = window_bounds(windows, 10.0, 80)
    assert bounds[0][0] == 0.0 and bounds[-1][1] == 8.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))
    scan = WindowScores(windows, np.stack([first, 1 - first], 1), 10.0, 80)
    parts = scan.segments(("walk", "run"))
    assert [p["label"] for p in parts] == ["walk", "run"]
    assert parts[0]["start_s"] == 0.0 and parts[-1]["end_s"] == 8.0
    assert abs(parts[0]["end_s"] - 4.0) <= 0.5 and parts[0]["end_s"] == parts[1]["start_s"]


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="--window 'soon': expected frames"):
        TimelineSettings("soon")
    for endless in ("inf", "nans", "-infs"):
        with pytest.raises(ConfigError, match="positive, finite"):
            TimelineSettings("2s", endless)
    with pytest.raises(ConfigError, match="--smooth must be"):
        TimelineSettings(smooth=10**9)
    with pytest.raises(ConfigError, match="--smooth must be"):
        TimelineSettings(smooth=0)
    with pytest.raises(ConfigError, match="--cuts must be auto, on or off"):
        TimelineSettings(cuts="maybe")


def _constant_videos(root: Path, name: str, level: int, count: int) -> None:
    rng = np.random.default_rng(level)
    for i in range(count):
        value = int(np.clip(level + rng.integers(-20, 20), 0, 255))
        frames = np.full((12, 32, 32, 3), value, np.uint8)
        write_video(root / name / f"v_{name}_g{i:02d}_c01.mp4", frames, 10.0)


@pytest.mark.slow
def test_a_video_of_two_activities_gets_two_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    _constant_videos(data, "dark", 40, 8)
    _constant_videos(data, "bright", 210, 8)
    run = tmp_path / "run"
    invoke(
        "train", "--data", data, "--head", "gru", "--epochs", "8", "--lr", "0.01",
        "--val-fraction", "0.25", "--test-fraction", "0", *FAST_RUN,
        "--cache-dir", tmp_path / "cache", "--out", run,
    )  # fmt: skip
    joined = write_video(
        tmp_path / "joined.mp4",
        np.concatenate(
            [np.full((40, 32, 32, 3), 40, np.uint8), np.full((40, 32, 32, 3), 210, np.uint8)]
        ),
        10.0,
    )
    output = invoke(
        "predict", run / "checkpoints" / "best.ckpt", joined, "--json",
        "--window", "1s", "--stride", "0.5s", "--reject", "off",
    )  # fmt: skip
    result = json.loads(output.strip().splitlines()[-1])
    assert "scanning" not in output  # 80 frames: no progress for so short a scan
    monkeypatch.setattr(predictor, "LONG_SCAN_FRAMES", 2)  # as if it were long
    raw = invoke(
        "predict", run / "checkpoints" / "best.ckpt", joined, "--json",
        "--window", "1s", "--stride", "0.5s", "--reject", "off", "--raw",
    )  # fmt: skip
    cut = json.loads(raw.strip().splitlines()[-1])["timeline"][0]["end_s"]
    scanned = [line for line in raw.splitlines() if line.startswith("scanning: ")]
    assert scanned and "frames (100%" in scanned[-1]  # progress, also in a log
    assert abs(cut - 4.0) <= 0.5  # unsmoothed: the cut within one stride
    labels = [part["label"] for part in result["timeline"]]
    assert labels == ["dark", "bright"], result["timeline"]
    # the cut within 1 s: smoothing (3 windows) may move it by a window toward the less sure class
    assert abs(result["timeline"][0]["end_s"] - 4.0) <= 1.0
    assert result["timeline"][-1]["end_s"] == 8.0
    short = invoke("predict", run / "checkpoints" / "best.ckpt", joined, "--json", "--window", "8s")
    assert len(json.loads(short.strip().splitlines()[-1])["timeline"]) == 1  # one window long


def test_windows_stay_inside_shots_when_the_model_never_saw_a_jump(
    trained_run: Path, synthetic_dataset: VideoIndex, tmp_path: Path
) -> None:
    clips = [item.path for item in synthetic_dataset.subset("test")[:3]]  # three scenes
    frames = []
    for clip in clips:
        with VideoReader(clip) as reader:
            frames += [frame for _, frame in reader.frames(range(reader.num_frames))]
            fps = reader.fps
    joined = write_video(tmp_path / "joined.mp4", np.stack(frames), fps)
    model = load_predictor(trained_run / "checkpoints" / "best.ckpt", "cpu")
    assert model.trained_jumps == 0.0  # single-shot training clips: recorded when trained
    settings = TimelineSettings("8", "2")
    shots = {w.shot for w in model.scan(joined, settings).windows}
    assert shots == {0, len(frames) // 3, 2 * len(frames) // 3}  # auto: inside shots
    off = dataclasses.replace(settings, cuts="off")
    assert {w.shot for w in model.scan(joined, off).windows} == {0}
    jumpy = dataclasses.replace(model.info, jumps=0.5)  # trained on jumps: they are activity
    model.info = jumpy
    assert not model.inside_shots(settings) and model.inside_shots(
        dataclasses.replace(settings, cuts="on")
    )
    model.info = dataclasses.replace(jumpy, jumps=None)  # written before vidact looked
    assert not model.inside_shots(settings)
