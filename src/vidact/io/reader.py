"""Video decoding over PyAV.

The reader knows nothing of sampling: callers ask for frame indices (decode order, 0-based) and get
uint8 RGB frames back. Frame counts come from demuxing (counting packets, no decoding), because the
count in a container header can lie (AVI files cut short, variable-frame-rate MP4s).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

log = logging.getLogger(__name__)


class VideoReadError(RuntimeError):
    """A video could not be opened or decoded; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str | None = None) -> None:
        # one-argument form: DataLoader workers re-raise with the formatted message alone
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}" if problem is not None else str(path))


class VideoReader:
    """Random access to the frames of one video file.

    Use as a context manager, or call ``close()``. ``num_frames`` is exact (counted by demuxing);
    ``fps`` is the stream's average rate; ``duration`` is ``num_frames / fps`` in seconds.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise VideoReadError(self.path, "file not found")
        if self.path.stat().st_size == 0:
            raise VideoReadError(self.path, "file is empty")
        try:
            self._container = av.open(str(self.path))
        except (av.FFmpegError, UnicodeDecodeError, ValueError) as err:
            raise VideoReadError(self.path, f"not a readable video ({err})") from err
        if not self._container.streams.video:
            self._container.close()
            raise VideoReadError(self.path, "no video stream in the file")
        self._stream = self._container.streams.video[0]
        self._num_frames: int | None = None
        self._consumed = False  # whether decoding has moved past the start

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    @property
    def width(self) -> int:
        return int(self._stream.codec_context.width)

    @property
    def height(self) -> int:
        return int(self._stream.codec_context.height)

    @property
    def fps(self) -> float:
        rate = self._stream.average_rate or self._stream.guessed_rate or Fraction(25)
        return float(rate)

    @property
    def num_frames(self) -> int:
        if self._num_frames is None:
            self._num_frames = self._count_frames()
            if self._num_frames == 0:
                raise VideoReadError(self.path, "the video stream holds no frames")
            header = self._stream.frames
            if header and header != self._num_frames:
                log.debug(
                    "%s: header says %d frames, stream has %d", self.path, header, self._num_frames
                )
        return self._num_frames

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def _count_frames(self) -> int:
        # a second handle: demuxing to the end must not disturb the decoding one
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                return sum(1 for packet in container.demux(stream) if packet.size > 0)
        except av.FFmpegError as err:
            raise VideoReadError(self.path, f"cannot read the video stream ({err})") from err

    def _rewind(self) -> None:
        """Start decoding from the first frame again (reopening where seeking is refused)."""
        if not self._consumed:
            return
        try:
            self._container.seek(0)
        except av.FFmpegError:
            self._container.close()
            self._container = av.open(str(self.path))
            self._stream = self._container.streams.video[0]
        self._consumed = False

    def output_size(self, short_side: int | None) -> tuple[int, int]:
        """(width, height) after scaling the short side to ``short_side``, keeping the aspect."""
        if short_side is None:
            return self.width, self.height
        scale = short_side / min(self.width, self.height)
        return max(1, round(self.width * scale)), max(1, round(self.height * scale))

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        """Decode the frames at ``indices`` (any order, repeats allowed).

        ``short_side`` resizes while converting to RGB, so only the kept frames are scaled.
        Returns uint8 RGB of shape (len(indices), H, W, 3).
        """
        if len(indices) == 0:
            raise ValueError("indices must not be empty")
        wanted = sorted({int(i) for i in indices})
        if wanted[0] < 0 or wanted[-1] >= self.num_frames:
            raise IndexError(
                f"{self.path}: frame indices must lie in [0, {self.num_frames}), "
                f"got {wanted[0]}..{wanted[-1]}"
            )
        width, height = self.output_size(short_side)
        frames: dict[int, np.ndarray] = {}
        targets = iter(wanted)
        target = next(targets)
        decoded = 0
        self._rewind()
        self._consumed = True
        try:
            for position, frame in enumerate(self._container.decode(self._stream)):
                decoded = position + 1
                if position != target:
                    continue
                frames[position] = frame.to_ndarray(
                    width=width, height=height, format="rgb24", interpolation="AREA"
                )
                target = next(targets, None)
                if target is None:
                    break
        except av.FFmpegError as err:
            raise VideoReadError(
                self.path,
                f"only {decoded} of {self.num_frames} frames could be decoded "
                f"(truncated or damaged file: {err})",
            ) from err
        if target is not None:
            raise VideoReadError(
                self.path,
                f"only {decoded} of {self.num_frames} frames could be decoded "
                "(truncated or damaged file)",
            )
        return np.stack([frames[int(i)] for i in indices])

    def read_all(self, short_side: int | None = None) -> np.ndarray:
        """Decode every frame: (N, H, W, 3) uint8."""
        return self.read(range(self.num_frames), short_side=short_side)


def probe(path: str | Path) -> dict[str, float | int]:
    """Frame count, fps, duration and size of a video, raising VideoReadError if unreadable."""
    with VideoReader(path) as reader:
        return {
            "num_frames": reader.num_frames,
            "fps": reader.fps,
            "duration": reader.duration,
            "width": reader.width,
            "height": reader.height,
        }
