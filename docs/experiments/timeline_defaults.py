"""How window scores become segments, chosen by measurement: score every decoding setting
(smoothing, hold, minimum segment) on long videos with known truth, each video scanned once.

    python docs/experiments/timeline_defaults.py RUN/checkpoints/best.ckpt data/long [more folders]

Each folder is one from ``vidact synth --long`` (long_NN.mp4 and truth.csv). Prints the settings
ranked by segment F1 at IoU 0.5, with frame accuracy and median onset latency (seconds).
"""

from __future__ import annotations

import dataclasses
import itertools
import statistics
import sys
from pathlib import Path

from vidact.evaluation.timelines import read_segments, score_timelines
from vidact.inference.load import load_predictor
from vidact.inference.timeline import TimelineSettings

SMOOTH = (1, 3, 5, 9)
MODES = ("median", "mean")
HOLD = (0.0, 1.0, 2.0, 3.0)
MINIMUM = (0.0, 1.0, 2.0, 3.0, 4.0)


def main(checkpoint: str, folders: list[str]) -> None:
    predictor = load_predictor(checkpoint, "cpu", reject="off")
    sets = []
    for folder in folders:
        truth = read_segments(Path(folder) / "truth.csv")
        scans = {video: predictor.scan(Path(folder) / video, TimelineSettings()) for video in truth}
        sets.append((truth, scans))
    rows = []
    for smooth, mode, hold, minimum in itertools.product(SMOOTH, MODES, HOLD, MINIMUM):
        settings = TimelineSettings(smooth=smooth, smooth_mode=mode, hold=hold, min_segment=minimum)
        scores = []
        for truth, scans in sets:
            predicted = {
                video: [
                    (part["start_s"], part["end_s"], part["label"])
                    for part in dataclasses.replace(scan, settings=settings).segments(
                        predictor.classes
                    )
                ]
                for video, scan in scans.items()
            }
            scores.append(score_timelines(predicted, truth))
        rows.append(
            (
                statistics.mean(s["f1"] for s in scores),
                statistics.mean(s["frame_accuracy"] for s in scores),
                statistics.median(s["median_onset_latency_s"] or 0.0 for s in scores),
                f"smooth {smooth} {mode}, hold {hold:g} s, min segment {minimum:g} s",
            )
        )
    rows.sort(key=lambda row: -row[0])
    raw = next(r for r in rows if r[3].startswith("smooth 1 median, hold 0 s, min segment 0 s"))
    default = TimelineSettings()
    chosen = next(
        r
        for r in rows
        if r[3] == f"smooth {default.smooth} {default.smooth_mode}, hold {default.hold:g} s, "
        f"min segment {default.min_segment:g} s"
    )
    print("f1     frame_acc  latency_s  settings (the best ten, the default, raw)")
    for f1, accuracy, latency, name in [*rows[:10], chosen, raw]:
        print(f"{f1:.3f}  {accuracy:.3f}      {latency:+.2f}      {name}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
