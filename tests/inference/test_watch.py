"""vidact watch: a file played at its own rate stands in for a live stream."""

from __future__ import annotations

import json
import threading
import time
from itertools import pairwise
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import runner
from vidact.cli.main import app
from vidact.inference.live import _LiveEvents, watch
from vidact.inference.predictor import Predictor
from vidact.inference.timeline import TimelineSettings, Window, WindowScores
from vidact.io.reader import VideoReader, VideoReadError
from vidact.io.writer import write_video

SECONDS, FPS = 3.0, 10.0


@pytest.fixture
def stream_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (int(SECONDS * FPS), 48, 64, 3), dtype=np.uint8)
    return write_video(tmp_path / "stream.mp4", frames, FPS)


@pytest.fixture(scope="module")
def predictor(trained_run: Path) -> Predictor:
    return Predictor.from_checkpoint(trained_run / "checkpoints" / "best.ckpt", "cpu")


@pytest.mark.slow
def test_watch_a_file_at_its_rate_with_a_recording(
    trained_run: Path, stream_file: Path, tmp_path: Path
) -> None:
    recording = tmp_path / "recording.mp4"
    started = time.perf_counter()
    result = runner.invoke(
        app,
        ["watch", str(trained_run / "checkpoints/best.ckpt"), str(stream_file), "--jsonl",
         "--window", "1s", "--stride", "0.5s", "--output", str(recording)],
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    entries = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(entries) >= 4 and {"time_s", "label", "probability"} <= set(entries[0])
    times = [entry["time_s"] for entry in entries]
    assert times == sorted(times) and times[-1] == pytest.approx(SECONDS - 1 / FPS, abs=0.01)
    assert SECONDS * 0.9 <= elapsed < SECONDS + 5  # played at its rate, not as fast as decoding
    assert "0 frames dropped (0%) (the model kept up)" in result.output
    with VideoReader(recording) as reader:  # every frame recorded, at the source's rate
        assert (reader.num_frames, reader.fps) == (int(SECONDS * FPS), FPS)


@pytest.mark.slow
def test_a_slow_model_keeps_real_time_by_dropping_frames(
    predictor: Predictor, stream_file: Path, monkeypatch
) -> None:
    real = predictor.classify_frames

    def slow(frames, fps):
        time.sleep(0.4)  # four frames of the source per answer
        return real(frames, fps)

    monkeypatch.setattr(predictor, "classify_frames", slow)
    entries: list[dict] = []
    started = time.perf_counter()
    report = watch(predictor, str(stream_file), TimelineSettings("3", "1"), entries.append)
    elapsed = time.perf_counter() - started
    # not 28 windows x 0.4 s = 11 s (the margin leaves room for a busy machine)
    assert elapsed < SECONDS + 3.0
    assert report.frames == int(SECONDS * FPS) and report.windows == len(entries)
    assert report.skipped > 0 and report.dropped > 0
    assert "the model was slower than the source" in report.summary()
    assert all(
        b["time_s"] - a["time_s"] >= 0.3 for a, b in pairwise(entries[:-1])
    )  # the last: at the end


def test_ctrl_c_stops_cleanly(predictor: Predictor, stream_file: Path) -> None:
    seen: list[dict] = []

    def interrupt_after_two(entry: dict) -> None:
        seen.append(entry)
        if len(seen) == 2:
            raise KeyboardInterrupt

    before = threading.active_count()
    report = watch(predictor, str(stream_file), TimelineSettings("5", "5"), interrupt_after_two)
    assert report.interrupted and report.windows == 1 and len(seen) == 2
    assert report.frames < SECONDS * FPS and "stopped by the user" in report.summary()
    assert threading.active_count() == before  # the decoding thread is gone


def test_sources_that_cannot_be_opened(predictor: Predictor, tmp_path: Path) -> None:
    with pytest.raises(VideoReadError, match=r"gone\.mp4: no such file"):
        watch(predictor, str(tmp_path / "gone.mp4"))
    (tmp_path / "junk.mp4").write_bytes(b"junk" * 100)
    with pytest.raises(VideoReadError, match=r"junk\.mp4: cannot be opened"):
        watch(predictor, str(tmp_path / "junk.mp4"))


def test_events_are_appended_as_they_close_and_tile_the_stream(
    trained_run: Path, stream_file: Path, tmp_path: Path
) -> None:
    events = tmp_path / "events.jsonl"
    events.write_text('{"kept": true}\n')  # appended to, never replaced
    result = runner.invoke(
        app,
        ["watch", str(trained_run / "checkpoints/best.ckpt"), str(stream_file), "--jsonl",
         "--window", "1s", "--stride", "0.5s", "--no-realtime", "--events", str(events),
         "--raw"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = events.read_text().splitlines()
    assert json.loads(lines[0]) == {"kept": True}
    closed = [json.loads(line) for line in lines[1:]]
    windows = [json.loads(line) for line in result.stdout.splitlines()]
    assert closed and {"source", "start_s", "end_s", "label", "mean_p", "peak_p"} <= set(closed[0])
    assert closed[0]["start_s"] == 0.0 and closed[-1]["end_s"] == pytest.approx(SECONDS, abs=0.01)
    assert all(a["end_s"] == b["start_s"] for a, b in pairwise(closed))
    # raw: one event per run of equal window labels (an unsure window is unknown at once; with
    # a hold and minimum of 0 the first window, unsure, would wait for the first vote)
    runs = [label for i, label in enumerate(w["label"] for w in windows)
            if i == 0 or windows[i - 1]["label"] != label]  # fmt: skip
    assert [event["label"] for event in closed] == runs


@pytest.mark.parametrize(
    "decoding",
    [
        {},  # the defaults: smooth 3 mean, hold 1 s, minimum 3 s
        {"smooth": 5, "smooth_mode": "median", "hold": 0.5, "min_segment": 1.0},
        {"smooth": 4, "hold": 2.0},
        {"raw": True},
    ],
)
@pytest.mark.parametrize("reject", [None, 0.6, "distance"])
def test_live_events_are_the_timeline_of_the_same_windows(decoding: dict, reject) -> None:
    """Events written live equal the segments a timeline makes of the same window scores:
    the same smoothing (centred: a window waits for the later ones its filter reads) and the
    same times (midpoints between window centres), only later; also when windows are sure by
    their open-set distance rather than their top probability."""
    rng = np.random.default_rng(1)
    activities = np.repeat(rng.integers(0, 3, 12), rng.integers(3, 15, 12))  # runs of windows
    scores = rng.dirichlet(np.ones(3) * 0.7, len(activities)) * 0.5
    scores[np.arange(len(activities)), activities] += 0.5  # mostly the activity, often unsure
    settings = TimelineSettings("2s", "0.5s", **decoding)
    fps, length, step = 10.0, 20, 5
    windows = [Window(i * step, length, np.arange(i * step, i * step + length, 4))
               for i in range(len(scores))]  # fmt: skip
    num_frames = windows[-1].start + length
    sureness = scores.max(axis=1)
    if reject == "distance":  # negated distances, unrelated to the probabilities
        sureness, reject = -rng.gamma(4.0, 1.0, len(scores)), -6.0
    timeline = WindowScores(windows, scores, fps, num_frames, settings, reject, sureness)
    model = SimpleNamespace(classes=("walk", "run", "jump"), reject=reject)
    events: list[dict] = []
    live = _LiveEvents(model, settings, length / fps, events.append)
    for window, probabilities, sure in zip(windows, scores, sureness, strict=True):
        live.window(window.start / fps, (window.start + length) / fps, probabilities, sure)
    live.finish()
    assert events == timeline.segments(model.classes)
    assert len(events) > 1
