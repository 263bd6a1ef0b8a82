"""Event-level scores of predicted timelines against true ones (``vidact score-timeline``).

Both files hold rows ``video,start_s,end_s,label``; videos are matched by file name, so a
prediction made on ``/data/long/long_01.mp4`` meets the truth row ``long_01.mp4``.

- segment precision, recall and F1 at temporal IoU 0.5: a predicted segment is a hit when it
  overlaps an unmatched true segment of its label by IoU >= 0.5 (greedy, best IoU first), as
  in ActivityNet detection; ``unknown`` segments are not detections.
- frame accuracy: the share of time (sampled every 0.1 s) whose predicted label is the true one.
- onset latency: for each true segment that does not start its video, the seconds from its
  start to the start of the first predicted segment of its label overlapping it (median, and
  the share of onsets found at all).
- false alerts per hour: predicted segments (not ``unknown``) that overlap no true segment of
  their label, per hour of video.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from vidact.errors import ConfigError
from vidact.inference.events import UNKNOWN
from vidact.io.tables import table_rows

Segment = tuple[float, float, str]
COLUMNS = ("video", "start_s", "end_s", "label")
SAMPLE_S = 0.1  # the time step of frame accuracy


def read_segments(path: str | Path) -> dict[str, list[Segment]]:
    """``video -> [(start_s, end_s, label)]`` sorted by start, from a CSV with ``COLUMNS``."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such file")
    found: dict[str, list[Segment]] = defaultdict(list)
    for line, row in table_rows(path, COLUMNS, str(path), ConfigError):
        try:
            start, end = float(row["start_s"]), float(row["end_s"])
        except ValueError:
            raise ConfigError(f"{path}, line {line}: start_s and end_s must be numbers") from None
        if not 0 <= start < end:
            raise ConfigError(f"{path}, line {line}: needs 0 <= start_s < end_s")
        found[Path(row["video"]).name].append((start, end, row["label"]))
    if not found:
        raise ConfigError(f"{path}: no segments")
    return {video: sorted(parts) for video, parts in found.items()}


def _iou(a: Segment, b: Segment) -> float:
    overlap = min(a[1], b[1]) - max(a[0], b[0])
    return max(overlap, 0.0) / (max(a[1], b[1]) - min(a[0], b[0]))


def _hits(predicted: list[Segment], truth: list[Segment], threshold: float) -> int:
    """Predicted segments matched one-to-one to true ones of their label at IoU >= threshold."""
    pairs = sorted(
        ((_iou(p, t), i, j) for i, p in enumerate(predicted) for j, t in enumerate(truth)
         if p[2] == t[2]),
        reverse=True,
    )  # fmt: skip
    used_p: set[int] = set()
    used_t: set[int] = set()
    for iou, i, j in pairs:
        if iou >= threshold and i not in used_p and j not in used_t:
            used_p.add(i)
            used_t.add(j)
    return len(used_p)


def _label_at(parts: list[Segment], times: np.ndarray) -> list[str | None]:
    ends = np.array([p[1] for p in parts])
    index = np.searchsorted(ends, times, side="right")
    return [
        parts[i][2] if i < len(parts) and parts[i][0] <= t else None
        for i, t in zip(index, times, strict=True)
    ]


def score_timelines(
    predicted: dict[str, list[Segment]], truth: dict[str, list[Segment]], iou: float = 0.5
) -> dict[str, Any]:
    """The figures of the module docstring over every video of ``truth``; a video missing from
    ``predicted`` is an error (its events would silently count as missed)."""
    missing = sorted(set(truth) - set(predicted))
    if missing:
        raise ConfigError(f"no predicted segments for {len(missing)} video(s): {missing[:5]}")
    hits = detections = true_count = alerts = 0
    correct = samples = 0
    latencies: list[float] = []
    onsets = 0
    seconds = 0.0
    for video, true_parts in truth.items():
        shown = [p for p in predicted[video] if p[2] != UNKNOWN]
        hits += _hits(shown, true_parts, iou)
        detections += len(shown)
        true_count += len(true_parts)
        alerts += sum(not any(p[2] == t[2] and _iou(p, t) > 0 for t in true_parts) for p in shown)
        length = max(t[1] for t in true_parts)
        seconds += length
        times = np.arange(SAMPLE_S / 2, length, SAMPLE_S)
        said = _label_at(predicted[video], times)
        correct += sum(s == t for s, t in zip(said, _label_at(true_parts, times), strict=True))
        samples += len(times)
        for start, end, label in true_parts:
            if start <= 0:
                continue
            onsets += 1
            found = [p[0] for p in shown if p[2] == label and p[0] < end and p[1] > start]
            if found:
                latencies.append(min(found) - start)
    precision = hits / detections if detections else 0.0
    recall = hits / true_count if true_count else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "videos": len(truth),
        "true_segments": true_count,
        "predicted_segments": detections,
        "iou": iou,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "frame_accuracy": round(correct / samples, 4) if samples else 0.0,
        "onsets": onsets,
        "onsets_found": len(latencies),
        "median_onset_latency_s": round(float(np.median(latencies)), 3) if latencies else None,
        "median_abs_onset_latency_s": (
            round(float(np.median(np.abs(latencies))), 3) if latencies else None
        ),
        "false_alerts": alerts,
        "false_alerts_per_hour": round(alerts / (seconds / 3600), 2) if seconds else 0.0,
        "hours": round(seconds / 3600, 4),
    }
