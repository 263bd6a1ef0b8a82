"""Event-level timeline scores, and long synthetic videos with their true timelines."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

import pytest

from tests.conftest import invoke, runner
from vidact.cli.main import app
from vidact.errors import ConfigError
from vidact.evaluation.timelines import read_segments, score_timelines
from vidact.io.reader import VideoReader

TRUTH = {"a.mp4": [(0.0, 10.0, "walk"), (10.0, 20.0, "run"), (20.0, 36.0, "walk")]}


def test_a_perfect_timeline_scores_one() -> None:
    scores = score_timelines(TRUTH, TRUTH)
    assert scores["f1"] == 1.0 and scores["frame_accuracy"] == 1.0
    assert scores["median_onset_latency_s"] == 0.0 and scores["onsets"] == 2
    assert scores["false_alerts"] == 0 and scores["hours"] == 0.01


def test_late_onsets_blips_and_unknown_are_scored_as_such() -> None:
    predicted = {
        "a.mp4": [
            (0.0, 11.0, "walk"),
            (11.0, 14.0, "run"),  # IoU 0.3 with the true run: a miss and a detection
            (14.0, 15.0, "jump"),  # a class that is nowhere: a false alert
            (15.0, 21.0, "unknown"),  # not a detection
            (21.0, 36.0, "walk"),
        ]
    }
    scores = score_timelines(predicted, TRUTH)
    assert scores["predicted_segments"] == 4  # unknown is not one
    assert scores["precision"] == 0.5 and scores["recall"] == pytest.approx(2 / 3, abs=1e-4)
    assert scores["false_alerts"] == 1 and scores["false_alerts_per_hour"] == 100.0
    assert scores["median_onset_latency_s"] == 1.0  # run +1 s, walk +1 s
    assert scores["frame_accuracy"] == pytest.approx(28 / 36, abs=0.01)


def test_bad_files_are_refused_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("video,start,end,label\na.mp4,0,1,walk\n")
    with pytest.raises(
        ConfigError, match=r"bad.csv: expected a CSV with header .video,start_s,end_s,label."
    ):
        read_segments(bad)
    bad.write_text("video,start_s,end_s,label\na.mp4,3,1,walk\n")
    with pytest.raises(ConfigError, match=r"bad.csv, line 2: needs 0 <= start_s < end_s"):
        read_segments(bad)
    with pytest.raises(ConfigError, match="no predicted segments for 1 video"):
        score_timelines({"b.mp4": TRUTH["a.mp4"]}, TRUTH)


def test_synth_long_writes_videos_and_their_truth(tmp_path: Path) -> None:
    out = tmp_path / "long"
    output = invoke(
        "synth", out, "--long", "--videos", "2", "--seconds", "12", "--size", "32", "--frames", "8"
    )
    assert "writing: 2/2 long videos (100%" in output
    rows = list(csv.DictReader((out / "truth.csv").open()))
    for name in ("long_01.mp4", "long_02.mp4"):
        parts = [r for r in rows if r["video"] == name]
        assert float(parts[0]["start_s"]) == 0.0 and float(parts[-1]["end_s"]) == 12.0
        assert all(a["end_s"] == b["start_s"] and a["label"] != b["label"]
                   for a, b in itertools.pairwise(parts))  # fmt: skip
        assert all(float(r["end_s"]) - float(r["start_s"]) >= 4.0 for r in parts)
        with VideoReader(out / name) as reader:
            assert reader.num_frames == 96 and reader.fps == pytest.approx(8.0)
    pred = tmp_path / "pred.csv"  # videos named by their path, as predict writes them
    pred.write_text((out / "truth.csv").read_text().replace("long_0", f"{out}/long_0"))
    scores = json.loads(invoke("score-timeline", "--pred", pred, "--truth", out / "truth.csv"))
    assert scores["f1"] == 1.0 and scores["videos"] == 2
    refused = runner.invoke(app, ["synth", str(out), "--long"])
    assert refused.exit_code == 2 and "not empty; pass --overwrite" in refused.output


def test_continuous_clips_are_windows_of_repeated_sweeps() -> None:
    import numpy as np

    from vidact.data.synthetic import clip_levels

    rng = np.random.default_rng(0)
    assert clip_levels(5, rng).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]  # one sweep per clip
    for _ in range(5):
        levels = clip_levels(16, rng, sweep=8)
        steps = np.diff(levels).round(6)
        # rising by one step of the sweep, falling back to the start once per sweep
        assert set(steps) <= {round(1 / 7, 6), -1.0} and (steps == -1.0).sum() in (1, 2)
