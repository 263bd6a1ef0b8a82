"""Activities over time: sliding windows over a video, merged into labelled segments.

A window of ``window`` (seconds "2s" or frames "48") starts every ``stride``; each is a clip of
the model's frames per clip, sampled inside the window as the model was trained. Every frame any
window needs is decoded and encoded once, in order, and each window is scored as soon as its
frames are in, then forgotten: an hour of video streams through in bounded memory. Window
probabilities are smoothed over ``smooth`` neighbouring windows (median or mean) and runs of the
same top label become segments ``{start_s, end_s, label, probability}``; a window speaks for the
stride of time around its centre, so a change of activity is placed within one stride. Windows
may also stay inside the shots of an edited video (``io.shots``, ``cuts``): none straddles a cut,
a shot shorter than a window is one window, smoothing stops at a cut and a window speaks for its
own shot only.
"""

from __future__ import annotations

import warnings
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch

from vidact.errors import ConfigError
from vidact.inference.events import EventTracker, is_sure
from vidact.sampling import READ_AROUND, ClipSampling, length_in_frames, pair_candidates, pair_rows

SMOOTHING = ("median", "mean")
CUT_MODES = ("auto", "on", "off")
MAX_SMOOTH = 1001  # windows; at 0.5 s strides over 8 minutes (a filter, not an allocation)


@dataclass(frozen=True)
class TimelineSettings:
    window: str = "2s"  # seconds ("2s") or frames ("48")
    stride: str = "0.5s"
    # the decoding defaults: the best segment F1 on long videos with known truth (README,
    # "Timelines"; docs/experiments/timeline_defaults.py)
    smooth: int = 3  # windows in the smoothing filter (1: none)
    smooth_mode: str = "mean"
    hold: float = 1.0  # seconds a new label must lead before its segment opens
    min_segment: float = 3.0  # seconds; a shorter segment joins its neighbour
    raw: bool = False  # runs of the windows' top labels: no smoothing, hold or minimum
    # windows inside shots (an edited video's cuts, ``io.shots``): on, off, or auto: when the
    # model never saw such a jump in training (``VideoPredictor.inside_shots``)
    cuts: str = "auto"

    def __post_init__(self) -> None:
        """Checked when made: every caller (CLI, web app, Python) gets valid settings or a
        ConfigError naming the option."""
        self.frames(25.0)
        for name, value in (("--hold", self.hold), ("--min-segment", self.min_segment)):
            if not 0 <= value <= 3600:
                raise ConfigError(f"{name} must be between 0 and 3600 seconds, got {value}")
        if not 1 <= self.smooth <= MAX_SMOOTH:
            raise ConfigError(
                f"--smooth must be between 1 and {MAX_SMOOTH} windows, got {self.smooth}"
            )
        if self.smooth_mode not in SMOOTHING:
            raise ConfigError(f"--smooth-mode must be median or mean, got {self.smooth_mode!r}")
        if self.cuts not in CUT_MODES:
            raise ConfigError(f"--cuts must be auto, on or off, got {self.cuts!r}")

    def frames(self, fps: float) -> tuple[int, int]:
        """The window and the stride in frames at ``fps``."""
        return (
            length_in_frames(self.window, fps, "--window"),
            length_in_frames(self.stride, fps, "--stride"),
        )

    @property
    def smoothing(self) -> int:
        """Windows in the smoothing filter as used: none when raw."""
        return 1 if self.raw else self.smooth

    def tracker(
        self, classes: Sequence[str], reject: float | None, window_s: float
    ) -> EventTracker:
        """The event tracker these settings describe for windows ``window_s`` long: raw, each
        change of window label (an unsure window is unknown at once); else with the hold and
        minimum, unknown only after a window's length plus the minimum of unsure windows."""
        if self.raw:
            return EventTracker(classes, 0.0, 0.0, reject, 0.0)
        shortest = self.min_segment
        return EventTracker(classes, self.hold, shortest, reject, window_s + shortest)


@dataclass(frozen=True)
class Window:
    start: int  # first frame of the window
    length: int  # frames it spans
    positions: np.ndarray  # (T,) the frames its clip reads
    shot: int = 0  # the first frame of its shot


def plan_windows(
    num_frames: int,
    fps: float,
    settings: TimelineSettings,
    sampling: ClipSampling,
    cuts: Sequence[int] = (),
) -> list[Window]:
    """Windows covering the whole video shot by shot (``cuts``: the frames that begin one),
    the last of each shot ending with it; a shot shorter than a window is one window."""
    length, step = settings.frames(fps)
    windows = []
    for shot, end in pairwise([0, *cuts, num_frames]):
        span = min(length, end - shot)
        starts = list(range(shot, end - span + 1, step))
        if starts[-1] + span < end:
            starts.append(end - span)
        windows += [Window(s, span, s + sampling.indices(span, fps), shot) for s in starts]
    return windows


def smooth(
    probabilities: np.ndarray,
    size: int,
    mode: str = "median",
    sure: np.ndarray | None = None,
) -> np.ndarray:
    """(W, K) window probabilities filtered over ``size`` windows centred on each one; with
    ``sure`` (W,) only the windows it marks count (a window with none keeps its own). In
    chunks of windows, so memory stays bounded whatever the video's length and the filter's."""
    if size <= 1 or len(probabilities) < 2:
        return probabilities
    values = probabilities.astype(np.float64)
    if sure is not None:
        values[~sure] = np.nan
    half = size // 2
    padded = np.pad(values, ((half, size - 1 - half), (0, 0)), mode="edge")
    views = np.lib.stride_tricks.sliding_window_view(padded, size, axis=0)  # (W, K, size)
    reduce = np.nanmedian if mode == "median" else np.nanmean
    chunk = max(1, 2**22 // (size * probabilities.shape[1]))  # windows per 32 MB of float64
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a neighbourhood of unsure windows
        filtered = np.concatenate(
            [reduce(views[i : i + chunk], axis=-1) for i in range(0, len(values), chunk)]
        )
    return np.where(np.isnan(filtered), probabilities, filtered)


@dataclass(frozen=True)
class WindowScores:
    """The probabilities of every window of one video, and how to read them."""

    windows: list[Window]
    scores: np.ndarray  # (W, K)
    fps: float
    num_frames: int

    settings: TimelineSettings = TimelineSettings()
    reject: float | None = None  # windows whose sureness is lower vote unknown
    sureness: np.ndarray | None = None  # (W,) what ``reject`` tests; None: top probability

    @property
    def window_sureness(self) -> np.ndarray:
        return self.scores.max(axis=-1) if self.sureness is None else self.sureness

    def segments(self, classes: Sequence[str]) -> list[dict[str, Any]]:
        """Labelled segments (``inference.events``): clean by default, runs of window labels
        when the settings say raw."""
        bounds = window_bounds(self.windows, self.fps, self.num_frames)
        window = max(w.length for w in self.windows) / self.fps
        tracker = self.settings.tracker(classes, self.reject, window)
        return tracker.track(bounds, self.scores, self.smoothed(), self.window_sureness)

    def smoothed(self) -> np.ndarray:
        """(W, K) the scores that label windows: filtered over ``smooth`` windows of one shot
        (those sure enough to vote, when there is a rejection threshold) unless raw."""
        sure = None if self.reject is None else is_sure(self.window_sureness, self.reject)
        shots = np.array([w.shot for w in self.windows])
        ends = [*(np.flatnonzero(np.diff(shots)) + 1), len(shots)]
        return np.concatenate(
            [
                smooth(
                    self.scores[a:b],
                    self.settings.smoothing,
                    self.settings.smooth_mode,
                    None if sure is None else sure[a:b],
                )
                for a, b in pairwise([0, *ends])
            ]
        )

    def per_frame(self) -> np.ndarray:
        """(N,) the window that speaks for each frame (``window_bounds``)."""
        ends = [end for _, end in window_bounds(self.windows, 1.0, self.num_frames)]
        return np.searchsorted(ends[:-1], np.arange(self.num_frames) + 0.5)


def window_bounds(
    windows: Sequence[Window], fps: float, num_frames: int
) -> list[tuple[float, float]]:
    """The seconds each window speaks for: the time between the midpoints to its neighbours'
    centres, or the cut between their shots; the first starts at 0 and the last ends with the
    video."""
    handovers = [
        (a.start + a.length / 2 + b.start + b.length / 2) / 2 if a.shot == b.shot else b.shot
        for a, b in pairwise(windows)
    ]
    bounds = [0.0, *handovers, float(num_frames)]
    return [(a / fps, b / fps) for a, b in pairwise(bounds)]


def paired_frames(
    frames: Iterator[tuple[int, np.ndarray]],
    wanted: np.ndarray,
    num_frames: int,
    fps: float,
    span: int = 2,
) -> Iterator[tuple[int, np.ndarray]]:
    """(index, frame) in increasing order, each wanted index with the frames around it that
    ``sampling.pair_candidates`` names among them -> (index, (span, H, W, 3) the frames a motion
    encoder reads for it: the frame and the one it is paired with, or ``span`` 4's fours
    (``sampling.pair_rows``: as every other path reads them)."""
    pending = deque(sorted({int(i) for i in wanted}))
    recent: dict[int, np.ndarray] = {}
    for index, frame in frames:
        recent[index] = frame
        while pending and min(pending[0] + int(READ_AROUND[-1]), num_frames - 1) <= index:
            start = pending.popleft()
            group = np.stack([recent[p] for p in pair_candidates(np.array([start]), num_frames)])
            yield start, group[pair_rows(group, fps, span=span)]
        low = pending[0] + int(READ_AROUND[0]) if pending else index + 1
        for old in [i for i in recent if i < low]:
            del recent[old]


def score_windows(
    windows: Sequence[Window],
    frames: Iterator[tuple[int, np.ndarray]],
    encode: Any,
    classify: Any,
    chunk: int = 16,  # frames a run: onnxruntime keeps memory for its largest (serve peak)
) -> np.ndarray:
    """(W, K) probabilities: ``frames`` (index, frame) in increasing order are encoded in
    chunks (``encode``: (N, H, W, 3) uint8 -> (N, F)), and each window is classified
    (``classify``: (B, T, F) -> (B, K)) once its frames are in, its features then dropped."""
    pending = deque(windows)
    features: dict[int, torch.Tensor] = {}
    scored: list[torch.Tensor] = []
    batch: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        indices = [index for index, _ in batch]
        encoded = encode(np.stack([frame for _, frame in batch]))  # (N, F)
        features.update(zip(indices, encoded, strict=True))
        batch.clear()
        ready = []
        while pending and int(pending[0].positions.max()) in features:
            ready.append(pending.popleft())
        if ready:
            clips = torch.stack(
                [torch.stack([features[int(p)] for p in w.positions]) for w in ready]
            )
            scored.append(classify(clips))
        low = int(pending[0].positions.min()) if pending else 1 << 62
        for index in [i for i in features if i < low]:
            del features[index]

    for index, frame in frames:
        batch.append((index, frame))
        if len(batch) == chunk:
            flush()
    if batch:
        flush()
    return torch.cat(scored).numpy()
