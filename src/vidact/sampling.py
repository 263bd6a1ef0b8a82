"""Frame-index sampling strategies: pure functions of (num_frames, clip_len, train, rng, ...).

The sampler knows nothing of files; the reader knows nothing of sampling. Every strategy returns a
non-decreasing int64 array of ``clip_len`` indices in ``[0, num_frames)``; a video shorter than the
clip repeats frames rather than failing. In training a strategy draws from ``rng``; in evaluation
it is deterministic, and clip ``clip`` of ``num_clips`` takes its own place in the video (several
clips per video, scores averaged, is the usual test protocol).

- ``segment``: T equal segments; a random frame of each in training, the middle one in
  evaluation (TSN; seeds 002 and 004).
- ``uniform``: T evenly spaced frames, first and last included (seed 002's 40-frame spread).
- ``stride``: every k-th frame from a start, frame 0 in evaluation (the seeds' frame skipping).
- ``dense``: T frames k apart from a random (training) or centred start (3D CNNs: C3D, I3D).
- ``window``: one of the sliding windows of T frames, ``step`` apart (long videos, timelines).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vidact.errors import ConfigError
from vidact.registry import Registry

SamplerFn = Callable[..., np.ndarray]
# frames per video a cache keeps, evenly spread, when a clip may read any frame (all frames of a
# shorter video)
CACHE_SPREAD = 64
SAMPLERS: Registry[SamplerFn] = Registry("sampling strategy")


def register_sampler(name: str) -> Callable[[SamplerFn], SamplerFn]:
    return SAMPLERS.register(name)  # type: ignore[return-value]


def list_samplers() -> list[str]:
    return SAMPLERS.names()


def _phase(clip: int, num_clips: int) -> float:
    """Where evaluation clip ``clip`` of ``num_clips`` sits, in (0, 1): 0.5 for a single clip."""
    return (clip + 0.5) / num_clips


def _run(num_frames: int, clip_len: int, interval: int, start: int) -> np.ndarray:
    """``clip_len`` frames ``interval`` apart from ``start``; past the end, the last frame."""
    return np.minimum(start + interval * np.arange(clip_len), num_frames - 1)


def _room(num_frames: int, clip_len: int, interval: int) -> int:
    """How many start positions a run of ``clip_len`` frames ``interval`` apart can shift."""
    return max(num_frames - (interval * (clip_len - 1) + 1), 0)


@register_sampler("segment")
def segment_indices(
    num_frames: int,
    clip_len: int,
    train: bool,
    rng: np.random.Generator,
    clip: int = 0,
    num_clips: int = 1,
    **_: int,
) -> np.ndarray:
    """TSN segment sampling (Wang et al., 2016): one frame from each of T equal segments.

    Training draws a fresh random frame per segment; evaluation takes the middle frame (with
    several clips, evenly spaced offsets inside each segment).
    """
    starts = np.arange(clip_len) * num_frames / clip_len  # segment i covers [starts[i], +width)
    width = num_frames / clip_len
    offsets = rng.random(clip_len) if train else np.full(clip_len, _phase(clip, num_clips))
    return np.minimum(np.floor(starts + offsets * width), num_frames - 1)


@register_sampler("uniform")
def uniform_indices(
    num_frames: int, clip_len: int, train: bool, rng: np.random.Generator, **_: int
) -> np.ndarray:
    """T evenly spaced frames over the whole video, the first and last included; no randomness."""
    return np.round(np.linspace(0, num_frames - 1, clip_len))


@register_sampler("stride")
def stride_indices(
    num_frames: int,
    clip_len: int,
    train: bool,
    rng: np.random.Generator,
    interval: int = 1,
    clip: int = 0,
    num_clips: int = 1,
    **_: int,
) -> np.ndarray:
    """Every ``interval``-th frame from a start: the seeds' frame skipping.

    Evaluation starts at frame 0 (several clips spread from the start to the last fitting start);
    training draws the start.
    """
    room = _room(num_frames, clip_len, interval)
    if train:
        start = int(rng.integers(0, room + 1))
    else:
        start = round(clip * room / (num_clips - 1)) if num_clips > 1 else 0
    return _run(num_frames, clip_len, interval, start)


@register_sampler("dense")
def dense_indices(
    num_frames: int,
    clip_len: int,
    train: bool,
    rng: np.random.Generator,
    interval: int = 1,
    clip: int = 0,
    num_clips: int = 1,
    **_: int,
) -> np.ndarray:
    """T consecutive frames ``interval`` apart, as 3D CNNs take them.

    Training draws the start anywhere; evaluation centres the clip (several clips: evenly spread).
    """
    room = _room(num_frames, clip_len, interval)
    start = int(rng.integers(0, room + 1)) if train else int(_phase(clip, num_clips) * room)
    return _run(num_frames, clip_len, interval, start)


def sliding_windows(num_frames: int, clip_len: int, step: int, interval: int = 1) -> np.ndarray:
    """All windows of ``clip_len`` frames (``interval`` apart) whose starts are ``step`` apart.

    (W, clip_len) int64; the last window is moved back to end on the last frame, so the end of
    the video is always covered. A video shorter than one window gives one padded window.
    """
    if step < 1:
        raise ConfigError(f"window step must be at least 1 frame, got {step}")
    room = _room(num_frames, clip_len, interval)
    starts = list(range(0, room + 1, step))
    if starts[-1] != room:
        starts.append(room)
    return np.stack([_run(num_frames, clip_len, interval, s) for s in starts]).astype(np.int64)


@register_sampler("window")
def window_indices(
    num_frames: int,
    clip_len: int,
    train: bool,
    rng: np.random.Generator,
    interval: int = 1,
    step: int | None = None,
    clip: int = 0,
    num_clips: int = 1,
    **_: int,
) -> np.ndarray:
    """One of the sliding windows (``step`` frames apart, default: back to back).

    Training draws a window; evaluation clip ``clip`` of ``num_clips`` takes evenly spread ones.
    """
    windows = sliding_windows(num_frames, clip_len, step or interval * clip_len, interval)
    if train:
        return windows[int(rng.integers(0, len(windows)))]
    return windows[min(int(_phase(clip, num_clips) * len(windows)), len(windows) - 1)]


def length_in_frames(length: str | int, fps: float, what: str) -> int:
    """A length in frames (``16``) or seconds (``"0.5s"``) as a whole number of frames
    (``what`` names the setting in errors: ``--window-stride``, ``--window``...)."""
    text = str(length).strip().lower()
    try:
        frames = float(text[:-1]) * fps if text.endswith("s") else float(text)
    except ValueError:
        raise ConfigError(f"{what} {length!r}: expected frames (16) or seconds (0.5s)") from None
    if not math.isfinite(frames) or frames <= 0:
        raise ConfigError(f"{what} {length!r} must be a positive, finite length")
    return max(1, round(frames))


def sample_indices(
    num_frames: int,
    clip_len: int,
    strategy: str = "segment",
    train: bool = False,
    rng: np.random.Generator | None = None,
    *,
    interval: int = 1,
    step: int | None = None,
    clip: int = 0,
    num_clips: int = 1,
) -> np.ndarray:
    """Pick ``clip_len`` frame indices of a ``num_frames`` video with the named strategy.

    ``interval``: frames between picks (stride, dense, window); ``step``: frames between window
    starts; ``clip`` of ``num_clips``: which evaluation clip.
    """
    if num_frames < 1:
        raise ConfigError(f"num_frames must be at least 1, got {num_frames}")
    if clip_len < 1:
        raise ConfigError(f"clip_len must be at least 1, got {clip_len}")
    if interval < 1:
        raise ConfigError(f"interval must be at least 1, got {interval}")
    if not 0 <= clip < num_clips:
        raise ConfigError(f"clip must lie in [0, {num_clips}), got {clip}")
    sampler = SAMPLERS.get(strategy)
    if train and rng is None:
        raise ValueError("training sampling is random: pass an rng (np.random.default_rng(seed))")
    indices = sampler(
        num_frames,
        clip_len,
        train,
        rng or np.random.default_rng(0),
        interval=interval,
        step=step,
        clip=clip,
        num_clips=num_clips,
    )
    return np.asarray(indices, dtype=np.int64)


@dataclass(frozen=True)
class ClipSampling:
    """The sampling settings of a model: recorded in its checkpoint, used by every dataset."""

    frames: int = 8  # T, frames per clip
    strategy: str = "segment"
    interval: int = 1  # frames between picks for stride, dense and window
    window_stride: str | None = None  # window starts: frames ("16") or seconds ("0.5s")
    span: int = 1  # frames read for each sampled one: 1, or a motion encoder's (READINGS)

    def indices(
        self,
        num_frames: int,
        fps: float,
        train: bool = False,
        rng: np.random.Generator | None = None,
        clip: int = 0,
        num_clips: int = 1,
    ) -> np.ndarray:
        """Indices of clip ``clip`` of ``num_clips`` (evaluation) or a random clip (training)."""
        stride = self.window_stride
        step = length_in_frames(stride, fps, "--window-stride") if stride else None
        return sample_indices(
            num_frames,
            self.frames,
            self.strategy,
            train,
            rng,
            interval=self.interval,
            step=step,
            clip=clip,
            num_clips=num_clips,
        )

    @property
    def frames_read(self) -> int:
        """Frames a clip of the model reads: T, or ``span`` T (a motion encoder's readings)."""
        return self.frames * self.span

    @property
    def pairs(self) -> bool:
        """Whether each sampled frame is read with later ones (``READINGS``), chosen among the
        frames around it (``pair_candidates``)."""
        return self.span > 1

    def frames_to_cache(self, jitter: bool = True) -> int:
        """Frames per video (evenly spread, ``spread_indices``) a cache keeps for the clips this
        sampling reads. Segment sampling without training ``jitter`` (a full-batch fit) reads
        only the T evaluation frames: exactly those are cached. Otherwise a clip may read any
        frame: up to ``CACHE_SPREAD`` (5 candidates per segment instead cost 0.05 top-1 on
        fight-dev with the default recipe: README)."""
        if self.strategy == "segment" and not jitter:
            return self.frames
        return CACHE_SPREAD

    def as_read(self, positions: np.ndarray, num_frames: int) -> np.ndarray:
        """(..., T) positions as they are read: with the frames around each one that its pair is
        chosen from (``pair_candidates``) when the model reads pairs, as they are otherwise."""
        return pair_candidates(positions, num_frames) if self.pairs else positions


READ_AROUND = np.arange(-1, 4)  # frames a motion encoder's pair is chosen from: t-1 to t+3
SAMPLED_ROW = int(-READ_AROUND[0])  # the sampled frame t among them
DISTINCT = 0.5  # mean absolute difference, in grey levels (0-255), of a picture that is new
GLANCE = 4  # pictures are compared on every GLANCE-th pixel of every GLANCE-th row
REPEATS_FROM = 20.0  # frames/s from which a file may hold a slower camera's repeats
PAIRING = (
    f"each frame t with t+1, or, in a video of {REPEATS_FROM:g} frames/s or more, with t+2 "
    f"where t+1 repeats it: t+1 differs from t by at most {DISTINCT:g} grey levels (0-255) on "
    f"average, t+2 from t+1 by more, and the picture changed before t or holds again after t+2"
)
# the rows a motion encoder reads of each sampled frame t, by span: this many frames before t,
# then t, the frame paired with it, and the rest after that one
BEFORE_SAMPLED = {2: 0, 4: 1}
# what a motion encoder reads of each sampled frame t, by span (rows per sampled frame)
READINGS = {
    2: PAIRING,
    4: f"each frame t as t-1, t, the frame paired with it and the one after that ({PAIRING})",
}


def pair_candidates(positions: np.ndarray, num_frames: int) -> np.ndarray:
    """(..., T) positions -> (..., T * 5): each frame t as t-1, t, t+1, t+2, t+3 (clipped to
    the video), those a motion encoder's pair is chosen from (``pair_rows``). Every path that
    reads pixels for such a model reads these positions and chooses there, so training,
    evaluation, timelines and live input give it the same frames."""
    positions = np.asarray(positions, dtype=np.int64)
    around = np.clip(positions[..., None] + READ_AROUND, 0, num_frames - 1)
    return around.reshape(*positions.shape[:-1], -1)


def pair_rows(
    frames: np.ndarray, fps: float, candidates: np.ndarray | None = None, span: int = 2
) -> np.ndarray:
    """(M, H, W, 3) uint8 frames of a video of ``fps`` frames/s and (N * 5,) rows of them at
    ``pair_candidates``' positions (all M in order when None) -> (span N,) rows of ``frames``:
    each frame t with t+1, or with t+2 where t+1 is a repeat of t (``PAIRING``); with ``span``
    4, t-1 before them and the frame after the later one (``READINGS``). Each distinct frame
    read once, however many candidate lists name it.

    A camera that delivers 15 frames/s into a 30 frames/s file repeats every other frame, and
    a frame paired with its repeat shows no motion: people_rgb models trained without repeats
    lost 0.15 on people filmed with them (docs/measurements.md, "Repeated frames"). A still
    scene repeats pictures too, in rendered or noiseless video, so a repeat is told by what
    surrounds it: the picture moves on right after it, and it either moved just before (a
    dropped frame) or holds again after moving (every other frame repeated). Stillness, and
    motion starting after it, keep the next frame. Measured on every 4th pixel of every 4th
    row. Under ``REPEATS_FROM`` frames/s (12 and 15 frames/s files) the next frame is always
    kept: a repeat there would be a camera of 6 or 7.5 frames/s, and a picture that barely
    changed is mostly an arm slowing down, which the rule paired past, two frames at a rate
    where one already moves an arm far (docs/measurements.md, "The repeat rule by frame
    rate")."""
    candidates = np.arange(len(frames)) if candidates is None else np.asarray(candidates)
    count = len(READ_AROUND)
    small = frames[:, ::GLANCE, ::GLANCE][candidates].astype(np.int16)  # only the frames named
    small = small.reshape(-1, count, *small.shape[1:])
    moved = np.abs(np.diff(small, axis=1)).mean(axis=(2, 3, 4)) > DISTINCT  # (N, 4)
    before, to_next, next_on, after = moved.T  # t-1 to t, t to t+1, t+1 to t+2, t+2 to t+3
    repeat = ~to_next & next_on & (before | ~after) & (fps >= REPEATS_FROM)
    starts = np.arange(len(small)) * count + SAMPLED_ROW
    later = starts + 1 + repeat
    before = BEFORE_SAMPLED[span]
    rows = [starts - k for k in range(before, 0, -1)] + [starts, later]
    rows += [later + k for k in range(1, span - len(rows) + 1)]
    return candidates[np.stack(rows, axis=1).reshape(-1)]


def evenly_spread(count: int, most: int) -> np.ndarray:
    """Indices of at most ``most`` of ``count`` things (videos, groups), evenly spread over
    them, the first and last included; all of them when they fit."""
    if count <= most:
        return np.arange(count)
    return np.linspace(0, count - 1, most).round().astype(int)


def spread_indices(num_frames: int, cached_frames: int) -> np.ndarray:
    """Every frame of a short video, else ``cached_frames`` evenly spread: what caches store."""
    return sample_indices(num_frames, min(num_frames, cached_frames), "segment")
