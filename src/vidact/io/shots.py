"""Shot cuts: the frames where an edited video jumps from one shot to the next.

A window that straddles a cut mixes two scenes and reads as neither (four clips of a darkening
scene joined end to end brighten at every join), so timelines plan their windows inside shots.
A cut is a frame far unlike the one before it: the mean absolute difference of small frames is
at least ``MIN_CHANGE`` and ``RATIO`` times the largest change among the ``NEIGHBOURS`` frames on
either side (after PySceneDetect's adaptive detector, written here because the ``scenedetect``
package needs ``opencv-python``, which clashes with the ``opencv-contrib-python`` that the pose
extra installs). Steady camera motion, gradual light changes and fast movement change
neighbouring frames alike, and footage with repeated frames (10 frames/s stored at 30) jumps
every few frames, so none of them is a cut; a cut closer than ``MIN_SHOT`` seconds to the last
one or to the end (a flash) is ignored. Chosen on real clips (README, "Timelines"): 1 of 126
real single-shot clips (a surveillance camera that skips time) has cuts, and every join of 16
videos of 8 synthetic clips each is found.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from vidact.io.reader import VideoReader, VideoReadError
from vidact.progress import progress

CUT_SIDE = 48  # short side, in pixels, of the frames compared
MIN_CHANGE = 8.0  # mean absolute difference of 0-255 values
RATIO = 2.5  # times the largest change of the frames around it
NEIGHBOURS = 3  # frames on either side that set what is ordinary there
MIN_SHOT = 0.5  # seconds
JUMPS_SAMPLE = 32  # training videos looked at for jumps


def frame_changes(frames: Iterable[np.ndarray]) -> np.ndarray:
    """(N,) the mean absolute difference of each (H, W, 3) uint8 frame to the one before it
    (0 for the first), streaming: one frame is kept at a time."""
    changes, previous = [], None
    for frame in frames:
        current = frame.astype(np.int16)
        changes.append(0.0 if previous is None else float(np.abs(current - previous).mean()))
        previous = current
    return np.asarray(changes)


def find_cuts(changes: np.ndarray, fps: float) -> list[int]:
    """The frames that begin a new shot, given each frame's change from the one before."""
    count = len(changes)
    if count < 3:
        return []
    values = changes.astype(np.float64).copy()
    values[0] = -np.inf  # the first frame has no change of its own
    padded = np.pad(values, NEIGHBOURS, constant_values=-np.inf)
    around = np.lib.stride_tricks.sliding_window_view(padded, 2 * NEIGHBOURS + 1)
    ordinary = np.delete(around, NEIGHBOURS, axis=1).max(axis=1)
    candidates = np.flatnonzero((values >= MIN_CHANGE) & (values >= RATIO * ordinary))
    shortest = max(1, round(MIN_SHOT * fps))
    cuts: list[int] = []
    for frame in candidates:
        if frame - (cuts[-1] if cuts else 0) >= shortest and count - frame >= shortest:
            cuts.append(int(frame))
    return cuts


def video_cuts(reader: VideoReader, shown_as: str | None = None) -> list[int]:
    """The frames that begin a shot of an open video: every frame decoded small once more
    (``CUT_SIDE``), with a progress line ``shown_as`` when given."""
    frames: Iterable[tuple[int, np.ndarray]] = reader.frames(range(reader.num_frames), CUT_SIDE)
    if shown_as is not None:
        frames = progress(frames, shown_as, total=reader.num_frames, unit="frames")
    return find_cuts(frame_changes(frame for _, frame in frames), reader.fps)


def share_with_jumps(videos: Sequence[Path], sample: int = JUMPS_SAMPLE) -> float | None:
    """The share of ``videos`` (a seeded sample of ``sample``) in which a frame jumps as at a
    cut: a training set of single shots has none, one of edited clips or of sweeps that start
    over has many. None when none could be read."""
    chosen = random.Random(0).sample(list(videos), min(sample, len(videos)))
    jumps = read = 0
    for path in chosen:
        try:
            with VideoReader(path) as reader:
                jumps += bool(video_cuts(reader))
            read += 1
        except VideoReadError:
            continue  # the training run reports unreadable videos
    return round(jumps / read, 4) if read else None
