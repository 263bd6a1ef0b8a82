"""Events from window scores: hysteresis, minimum length, rejection, streaming = whole."""

from __future__ import annotations

import numpy as np

from vidact.inference.events import UNKNOWN, EventTracker

CLASSES = ("walk", "run", "jump")


def track(bounds, scores, classes, hold, min_segment, threshold=None) -> list[dict]:
    """A whole sequence of windows through a fresh tracker."""
    return EventTracker(classes, hold, min_segment, threshold).track(bounds, scores)


def _windows(labels: str, stride: float = 0.5) -> tuple[list[tuple[float, float]], np.ndarray]:
    """One window per character (w, r, j; ? for a flat score; W and R unsure, leaning to walk
    and run), each ``stride`` long."""
    rows = {"w": [0.8, 0.1, 0.1], "r": [0.1, 0.8, 0.1], "j": [0.1, 0.1, 0.8], "?": [0.4, 0.3, 0.3]}
    rows |= {"W": [0.45, 0.3, 0.25], "R": [0.3, 0.45, 0.25]}
    bounds = [(i * stride, (i + 1) * stride) for i in range(len(labels))]
    return bounds, np.array([rows[c] for c in labels])


def _summary(segments: list[dict]) -> list[tuple[str, float, float]]:
    return [(s["label"], s["start_s"], s["end_s"]) for s in segments]


def test_a_blip_shorter_than_the_hold_stays_in_its_segment() -> None:
    bounds, scores = _windows("wwwwrwwwwwjjjjjjj")
    parts = track(bounds, scores, CLASSES, hold=1.0, min_segment=1.0)
    assert _summary(parts) == [("walk", 0.0, 5.0), ("jump", 5.0, 8.5)]
    # the change opens where the new label began to lead: the hold costs no onset time
    raw = track(bounds, scores, CLASSES, hold=0.0, min_segment=0.0)
    assert [p["label"] for p in raw] == ["walk", "run", "walk", "jump"]


def test_segments_carry_mean_and_peak_of_their_label() -> None:
    bounds, scores = _windows("wwww")
    scores[1, 0] = 0.95
    (part,) = track(bounds, scores, CLASSES, hold=1.0, min_segment=1.0)
    assert part["peak_p"] == 0.95 and part["mean_p"] == round((0.8 * 3 + 0.95) / 4, 6)
    assert part["probability"] == part["mean_p"]


def test_a_short_first_segment_joins_the_next() -> None:
    bounds, scores = _windows("rwwwwwww")
    parts = track(bounds, scores, CLASSES, hold=1.0, min_segment=1.0)
    assert _summary(parts) == [("walk", 0.0, 4.0)]


def test_a_minimum_longer_than_the_hold_joins_short_segments_to_a_neighbour() -> None:
    bounds, scores = _windows("wwwwwwrrrwwwwww")
    assert len(track(bounds, scores, CLASSES, hold=1.0, min_segment=1.0)) == 3
    parts = track(bounds, scores, CLASSES, hold=1.0, min_segment=2.0)
    assert _summary(parts) == [("walk", 0.0, 7.5)]


def test_windows_below_the_threshold_are_unknown() -> None:
    bounds, scores = _windows("wwww????????rrrr")
    parts = track(bounds, scores, CLASSES, hold=1.0, min_segment=1.0, threshold=0.5)
    assert [p["label"] for p in parts] == ["walk", UNKNOWN, "run"]
    assert parts[1]["mean_p"] == 0.4  # an unknown segment: its windows' top probability
    assert [p["label"] for p in track(bounds, scores, CLASSES, 1.0, 1.0)] == ["walk", "run"]


def test_streaming_closes_each_event_once_and_agrees_with_the_whole() -> None:
    bounds, scores = _windows("wwwwwwrrrrrrrjjjjjjjwwwwww")
    tracker = EventTracker(CLASSES, hold=1.0, min_segment=1.0)
    closed_after = []
    for i, ((start, end), row) in enumerate(zip(bounds, scores, strict=True)):
        for event in tracker.update(start, end, row):
            closed_after.append((event["label"], i))
    closed_after += [(event["label"], len(bounds)) for event in tracker.finish()]
    assert [label for label, _ in closed_after] == ["walk", "run", "jump", "walk"]
    # an event is known once the next one has held (and lasted its minimum)
    assert all(i <= len(bounds) for _, i in closed_after)
    assert closed_after[0][1] < 13
    whole = track(bounds, scores, CLASSES, hold=1.0, min_segment=1.0)
    assert [p["label"] for p in whole] == [label for label, _ in closed_after]


def test_unsure_windows_abstain_and_the_change_falls_between_the_sure_ones() -> None:
    # two activities glued together: the windows over the cut are unsure, not a third activity
    bounds, scores = _windows("wwwwwwWRRrrrrrr")
    parts = track(bounds, scores, CLASSES, hold=1.0, min_segment=3.0, threshold=0.5)
    # halfway between the centres of the last window leaning to walk (3.25) and the first
    # leaning to run (3.75): sure windows, and unsure ones by their top label
    assert _summary(parts) == [("walk", 0.0, 3.5), ("run", 3.5, 7.5)]
    bounds, scores = _windows("wwwwwwRRWrrrrrr")  # leaning back: the last walk window counts
    parts = track(bounds, scores, CLASSES, hold=1.0, min_segment=3.0, threshold=0.5)
    assert _summary(parts) == [("walk", 0.0, 4.5), ("run", 4.5, 7.5)]
    # one sure window among unsure ones holds once the hold has passed
    bounds, scores = _windows("wwwwwwr?????")
    parts = track(bounds, scores, CLASSES, hold=1.0, min_segment=3.0, threshold=0.5)
    assert _summary(parts) == [("walk", 0.0, 3.0), ("run", 3.0, 6.0)]
    # but abstaining for min_segment seconds is unknown
    parts = track(bounds, scores, CLASSES, hold=1.0, min_segment=1.0, threshold=0.5)
    assert [p["label"] for p in parts] == ["walk", "run", UNKNOWN]


def test_unsure_windows_at_the_start_belong_to_the_first_activity() -> None:
    """Abstaining windows are unknown only after ``unknown_after`` seconds in a row, at the
    start of a video as anywhere (the first windows of clips joined together straddle two)."""
    bounds, scores = _windows("????wwwwwwww")
    parts = EventTracker(CLASSES, 1.0, 1.0, 0.5, unknown_after=3.0).track(bounds, scores)
    assert _summary(parts) == [("walk", 0.0, 6.0)]
    bounds, scores = _windows("????????wwwwww")  # 4 s of abstaining: unknown, then walk
    parts = EventTracker(CLASSES, 1.0, 1.0, 0.5, unknown_after=3.0).track(bounds, scores)
    assert [p["label"] for p in parts] == [UNKNOWN, "walk"] and parts[1]["start_s"] == 4.0
    bounds, scores = _windows("???")  # nothing sure at all, however short
    parts = EventTracker(CLASSES, 1.0, 1.0, 0.5, unknown_after=3.0).track(bounds, scores)
    assert _summary(parts) == [(UNKNOWN, 0.0, 1.5)]


def test_a_run_shortened_by_the_next_change_never_splits_one_activity_in_two() -> None:
    """A segment is final only once the run after it lasts its minimum up to its latest sure
    window: the next change may still move that run's end back to there."""
    bounds, scores = _windows("wwwwwwr?????wwwwww")
    parts = track(bounds, scores, CLASSES, hold=1.0, min_segment=3.0, threshold=0.5)
    assert _summary(parts) == [("walk", 0.0, 9.0)]


def test_a_short_run_between_two_activities_is_split_between_them() -> None:
    """Windows over a change are often sure of a third label (two sweeps joined look like the
    reverse sweep): the change falls in the middle of that run, not at its end."""
    bounds, scores = _windows("wwwwwwwwjjjrrrrrrrr")
    parts = track(bounds, scores, CLASSES, hold=1.0, min_segment=3.0)
    # the jump run spans 4.0-5.5 s (changes halfway between votes): split at 4.75
    assert _summary(parts) == [("walk", 0.0, 4.75), ("run", 4.75, 9.5)]
