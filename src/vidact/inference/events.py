"""Window scores -> events: labelled segments that do not flicker.

Window labels flip whenever two activities score alike; a reader of a long recording wants
"A until 8 s, then B". ``EventTracker`` turns a stream of scored windows into segments:

- a window whose sureness (top probability, or negated open-set distance) is below the
  rejection ``threshold`` abstains: it extends what is going on, and only ``unknown_after``
  seconds of abstaining windows in a row open an ``unknown`` segment (a window straddling two
  activities is unsure, not a third activity, so callers give the window's length plus
  ``min_segment``);
- hysteresis: a new label opens a segment once it has led for ``hold`` seconds; the change is
  then placed halfway between the last window leaning to the old label and the first leaning to
  the new one (so the hold costs no onset time): sure windows, and between them abstaining ones
  by the top label of their ``vote`` (smoothed over the sure windows around them: unsure whether
  it is known, not of which label it is nearer); shorter runs stay in the segment they interrupt;
- a finished segment shorter than ``min_segment`` seconds joins its neighbour; between two
  segments of other labels it is split between them at its middle (windows straddling a change
  are often sure of a third label: a sawtooth of two sweeps looks like their reverse).

The same tracker runs over a whole video (timelines) and live (``watch --events``), one window
at a time, so both give the same events.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidact.errors import ConfigError

UNKNOWN = "unknown"
REJECT_MODES = "off, auto or a probability in (0, 1)"
LEANING_WINDOWS = 10_000  # abstaining windows kept for placing a change (83 min at 0.5 s)


def resolve_reject(mode: str | float | None) -> float | None:
    """``--reject`` -> the top-probability threshold: None for off and auto (auto rejects by
    the model's own open-set distance, where it has one: ``VideoPredictor.use_reject``), or a
    probability strictly between 0 and 1."""
    if mode is None or mode in ("off", "auto"):
        return None
    try:
        value = float(mode)
    except ValueError:
        raise ConfigError(f"--reject {mode!r}: use {REJECT_MODES}") from None
    if not 0 < value < 1:
        raise ConfigError(f"--reject {mode!r}: use {REJECT_MODES}")
    return value


def is_sure(sureness: np.ndarray | float, threshold: float | None) -> np.ndarray | bool:
    """Whether a window's (or each one's) sureness reaches the rejection threshold: its top
    probability, or its negated open-set distance (``models.open_set``) when the model
    rejects by distance."""
    return threshold is None or sureness >= threshold


@dataclass
class _Run:
    """Consecutive windows that share a label, with running statistics of their scores."""

    label: int  # class index, or -1 for unknown
    start: float  # seconds
    end: float
    windows: int = 0
    total: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (K + 1,) sum of scores
    peak: np.ndarray = field(default_factory=lambda: np.zeros(0))  # (K + 1,) max of scores
    first: float | None = None  # centre of its first window that voted for its label
    voted: float | None = None  # centre of its latest such window

    def add(self, end: float, scores: np.ndarray) -> None:
        """One more window, ending at ``end``."""
        self.absorb(_Run(self.label, self.start, end, 1, scores, scores))

    def absorb(self, other: _Run) -> None:
        """Take in a neighbouring run's time and windows, keeping this run's label."""
        self.start, self.end = min(self.start, other.start), max(self.end, other.end)
        if other.windows:
            self.total = other.total.copy() if not self.windows else self.total + other.total
            self.peak = other.peak.copy() if not self.windows else np.maximum(self.peak, other.peak)
            self.windows += other.windows

    @property
    def duration(self) -> float:
        return self.end - self.start

    def lasts(self, seconds: float) -> bool:
        return self.duration + 1e-9 >= seconds

    def surely_lasts(self, seconds: float) -> bool:
        """Whether it lasts ``seconds`` however the next change is placed: a labelled run may
        lose its windows after its latest vote (the change falls between that vote and the
        next label's first), never the time up to that vote."""
        if self.label < 0 or self.voted is None:
            return self.lasts(seconds)
        return self.voted - self.start + 1e-9 >= seconds

    def as_segment(self, classes: Sequence[str]) -> dict[str, Any]:
        # scores carry the top probability last: what an unknown segment is measured by
        column = self.label if self.label >= 0 else -1
        mean = float(self.total[column] / max(self.windows, 1))
        return {
            "start_s": round(self.start, 3),
            "end_s": round(self.end, 3),
            "label": classes[self.label] if self.label >= 0 else UNKNOWN,
            "probability": round(mean, 6),  # contract 4: the label's mean over the segment
            "mean_p": round(mean, 6),
            "peak_p": round(float(self.peak[column]), 6),
        }


class EventTracker:
    """Scored windows in time order -> closed segments (see the module docstring)."""

    def __init__(
        self,
        classes: Sequence[str],
        hold: float,
        min_segment: float,
        threshold: float | None = None,
        unknown_after: float | None = None,
    ) -> None:
        self.classes = classes
        self.hold, self.min_segment, self.threshold = hold, min_segment, threshold
        self.unknown_after = min_segment if unknown_after is None else unknown_after
        self._current: _Run | None = None
        self._candidate: _Run | None = None
        self._held: _Run | None = None  # closed, waiting to see whether the next one is short
        self._quiet: _Run | None = None  # windows that abstained since the current's last vote
        # abstaining windows since the current's last vote: centres and top labels, in order
        # (bounded: a live stream flickering between two candidates for hours keeps the last)
        self._leaning: deque[tuple[float, int]] = deque(maxlen=LEANING_WINDOWS)

    def update(
        self,
        start: float,
        end: float,
        probabilities: np.ndarray,
        vote: np.ndarray | None = None,
        sureness: float | None = None,
    ) -> list[dict[str, Any]]:
        """One window speaking for ``[start, end)`` seconds; returns the segments it closed.

        ``probabilities`` (K,) are the window's own; with its ``sureness`` (by default its top
        probability) below the threshold it abstains. ``vote`` (K,), when given, decides the
        label of a window that does not (smoothed scores)."""
        sure = is_sure(probabilities.max() if sureness is None else sureness, self.threshold)
        vote = probabilities if vote is None else vote
        closed = self._step(start, end, probabilities, vote, bool(sure))
        held, current = self._held, self._current
        if held is not None and current is not None and current.surely_lasts(self.min_segment):
            closed.append(held.as_segment(self.classes))  # nothing can join it any more
            self._held = None
        return closed

    def _step(
        self, start: float, end: float, probabilities: np.ndarray, vote: np.ndarray, sure: bool
    ) -> list[dict[str, Any]]:
        unsure = not sure
        top = int(vote.argmax())
        label = -1 if unsure else top
        scores = np.append(probabilities, probabilities.max())
        centre = (start + end) / 2
        current, candidate = self._current, self._candidate
        if current is None:  # the first windows: abstaining ones wait for the first vote
            if unsure:
                self._abstain(start, end, scores)
                return []
            self._current = _Run(label, start, end, voted=centre)
            self._current.add(end, scores)
            self._settle(self._current)  # the first activity began with the video
            return []
        if unsure:  # no vote: it extends what is going on, unless it lasts (then: unknown)
            if current.label >= 0:
                self._leaning.append((centre, top))
            target = candidate or (current if current.label < 0 else None)
            if target is not None:
                target.add(end, scores)
                return self._switch_if_held()
            quiet = self._abstain(start, end, scores)
            return [] if quiet is None else self._close(current, quiet)
        if label == current.label:
            self._settle(current)  # the interruptions did not hold
            current.add(end, scores)
            current.voted = centre
            self._leaning.clear()
            return []
        if candidate is None or label != candidate.label:
            self._settle(current)
            candidate = self._candidate = _Run(label, start, end, first=centre)
        candidate.add(end, scores)
        candidate.voted = centre
        return self._switch_if_held()

    def _abstain(self, start: float, end: float, scores: np.ndarray) -> _Run | None:
        """One more abstaining window; once they have lasted ``unknown_after`` seconds in a row
        they are the current, unknown, run (returned)."""
        quiet = self._quiet = self._quiet or _Run(-1, start, end)
        quiet.add(end, scores)
        if not quiet.lasts(self.unknown_after):
            return None
        self._current, self._quiet = quiet, None  # nothing known for a while
        self._leaning.clear()
        return quiet

    def _switch_if_held(self) -> list[dict[str, Any]]:
        """The candidate takes over once it has led ``hold`` seconds. The change is placed
        halfway between the last window leaning to the old label and the first leaning to the
        new one: the windows between them hold some of both."""
        current, candidate = self._current, self._candidate
        if current is None or candidate is None or not candidate.lasts(self.hold):
            return []
        if current.label >= 0 and current.voted is not None and candidate.first is not None:
            first = candidate.first
            old = [c for c, top in self._leaning if top == current.label and c < first]
            last = max([current.voted, *old])
            new = [c for c, top in self._leaning if top == candidate.label and last < c]
            cut = (last + min([first, *new])) / 2
            current.end = candidate.start = min(max(cut, current.start), candidate.end)
        self._current, self._candidate = candidate, None
        self._leaning.clear()
        return self._close(current, candidate)

    def finish(self) -> list[dict[str, Any]]:
        """The segments still open, at the end of the stream."""
        current = self._current
        if current is None:  # only abstaining windows, too few to be unknown: still unknown
            current, self._quiet = self._quiet, None
        if current is None:
            return []
        self._settle(current)
        closed = self._close(current, None)
        if self._held is not None:
            closed.append(self._held.as_segment(self.classes))
        self._current = self._candidate = self._held = self._quiet = None
        self._leaning.clear()
        return closed

    def _settle(self, current: _Run) -> None:
        """The candidate and the abstaining windows that did not take over join ``current``."""
        for rest in (self._candidate, self._quiet):
            if rest is not None:
                current.absorb(rest)
        self._candidate = self._quiet = None

    def track(
        self,
        bounds: Sequence[tuple[float, float]],
        probabilities: np.ndarray,
        votes: np.ndarray | None = None,
        sureness: np.ndarray | None = None,
    ) -> list[dict[str, Any]]:
        """Segments of a whole sequence of windows (``bounds``: the seconds each speaks for;
        ``votes``: the scores that label them, by default their ``probabilities``;
        ``sureness``: what the threshold tests, by default their top probability)."""
        segments: list[dict[str, Any]] = []
        votes = probabilities if votes is None else votes
        sure: Sequence[float | None] = [None] * len(bounds) if sureness is None else sureness
        for (start, end), scores, vote, own in zip(bounds, probabilities, votes, sure, strict=True):
            segments += self.update(start, end, scores, vote, own)
        return segments + self.finish()

    def _close(self, run: _Run, following: _Run | None) -> list[dict[str, Any]]:
        """A finished run: a short one joins its neighbour; the one before it is then final."""
        held = self._held
        if held is None:
            if not run.lasts(self.min_segment) and following is not None:
                following.absorb(run)  # the first segment, too short: the next one takes it
                return []
            self._held = run
            return []
        if not run.lasts(self.min_segment):
            held.absorb(run)
            if following is not None and following.label == held.label:
                following.absorb(held)  # a short run between two of one label: one segment
                self._held = None
            elif following is not None:  # between two activities: the change falls inside it
                held.end = following.start = (run.start + run.end) / 2
            return []
        self._held = run
        return [held.as_segment(self.classes)]
