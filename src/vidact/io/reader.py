"""Video decoding over PyAV.

The reader knows nothing of sampling: callers ask for frame indices (presentation order, 0-based)
and get uint8 RGB frames back. Frame counts come from demuxing (reading packets without decoding
them), because the count in a container header can lie (AVI files cut short, MP4s that state none).
The same pass records where the keyframes are, so a read of sparse frames can seek to the keyframe
before each wanted frame instead of decoding everything in between. Only the frames kept are
converted to RGB and resized, by one reformatter per reader: FFmpeg's scaler, set up once rather
than for every frame, converts a frame two to three times faster.
"""

from __future__ import annotations

import bisect
import functools
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vidact.errors import VidactError

log = logging.getLogger(__name__)

# a seek costs about as much as decoding this many frames (demuxer reset, decoder flush)
_SEEK_COST_FRAMES = 3
# how far the frames in a file may fall short of what its header promises before it counts as
# truncated: exact frame counts (AVI, MP4) may be off by a frame or two, durations by more
_COUNT_TOLERANCE = 0.95
_DURATION_TOLERANCE = 0.8
_SLACK_FRAMES = 2


# what PyAV raises for a file it cannot open (an MP4 without frames gives an IndexError)
OPEN_ERRORS = (av.FFmpegError, UnicodeDecodeError, ValueError, IndexError)


def scaled_size(width: int, height: int, short_side: int | None) -> tuple[int, int]:
    """(width, height) after scaling the short side to ``short_side``, keeping the aspect."""
    if short_side is None:
        return width, height
    scale = short_side / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def upright(
    frame: av.VideoFrame,
    short_side: int | None = None,
    interpolation: str | None = None,
    reformatter: VideoReformatter | None = None,
) -> np.ndarray:
    """A decoded frame as uint8 RGB (H, W, 3) the way it is meant to be seen: turned by its
    display matrix (a phone held upright records sideways and says so there), its short side
    scaled to ``short_side``; by ``reformatter``, one per stream of frames (not thread-safe),
    when given."""
    turns = round((frame.rotation or 0) / 90) % 4  # counterclockwise quarter turns
    width, height = frame.width, frame.height
    shown = scaled_size(*((height, width) if turns % 2 else (width, height)), short_side)
    coded = (shown[1], shown[0]) if turns % 2 else shown
    scaler = reformatter or VideoReformatter()
    array = scaler.reformat(
        frame, width=coded[0], height=coded[1], format="rgb24", interpolation=interpolation
    ).to_ndarray()
    return np.ascontiguousarray(np.rot90(array, turns)) if turns else array


class VideoReadError(VidactError):
    """A video could not be opened or decoded; the message names the file and the problem.
    ``hint``: the command-line option that would read it anyway (the web app leaves it out);
    ``reported``: the problem was logged when it was first met (a log need not repeat it)."""

    def __init__(
        self, path: str | Path, problem: str, reported: bool = False, hint: str | None = None
    ) -> None:
        self.path = str(path)
        self.problem = problem
        self.reported = reported
        self.described = problem if hint is None else f"{problem} ({hint})"
        super().__init__(f"{path}: {self.described}")


@dataclass(frozen=True)
class _PacketIndex:
    """Presentation timestamps of every frame, sorted, and the positions of the keyframes."""

    pts: tuple[int, ...] | None  # None when some packet has no timestamp: sequential reads only
    keyframes: tuple[int, ...]
    count: int
    seconds: float | None = None  # time the packets' timestamps span (one frame added)

    def keyframe_before(self, position: int) -> int:
        at = bisect.bisect_right(self.keyframes, position) - 1
        return self.keyframes[at] if at >= 0 else 0


class VideoReader:
    """Random access to the frames of one video file.

    Use as a context manager, or call ``close()``. ``num_frames`` is exact (counted by demuxing);
    ``fps`` is the stream's average rate; ``duration`` is ``num_frames / fps`` in seconds.

    A file is a video when its container has a video stream of at least two frames that holds
    (nearly) as many frames as its header promises: a truncated file is refused, saying how much
    of it is readable, and a still image (a PNG renamed ``.mp4``) is refused unless
    ``allow_images``, which reads it as a one-frame video.
    """

    def __init__(self, path: str | Path, allow_images: bool = False) -> None:
        self.path = Path(path)
        self.allow_images = allow_images
        if self.path.is_dir():
            raise VideoReadError(self.path, "is a folder, not a video file")
        if not self.path.is_file():
            raise VideoReadError(self.path, "file not found")
        if self.path.stat().st_size == 0:
            raise VideoReadError(self.path, "file is empty")
        try:
            self._container = av.open(str(self.path))
        except OPEN_ERRORS as err:
            raise VideoReadError(self.path, f"not a readable video ({err})") from err
        if not self._container.streams.video:
            self._container.close()
            raise VideoReadError(self.path, "no video stream in the file")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        self._reformatter = VideoReformatter()
        self._index: _PacketIndex | None = None
        self._consumed = False  # whether decoding has moved past the start

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._container.close()

    @property
    def width(self) -> int:
        """As shown: a video turned a quarter by its display matrix swaps width and height."""
        coded = self._stream.codec_context
        return int(coded.height if self._quarter_turned else coded.width)

    @property
    def height(self) -> int:
        coded = self._stream.codec_context
        return int(coded.width if self._quarter_turned else coded.height)

    @functools.cached_property
    def _quarter_turned(self) -> bool:
        """Whether the display matrix turns the picture by 90 degrees. PyAV shows the matrix
        only on decoded frames, so the first frame is decoded on a handle of its own; asked
        only for the size (decoding turns every frame by itself, see ``upright``)."""
        try:
            with av.open(str(self.path)) as container:
                for frame in container.decode(video=0):
                    return round(frame.rotation or 0) % 180 == 90
        except av.FFmpegError:  # a damaged first frame: reading it says so
            pass
        return False

    @property
    def fps(self) -> float:
        """Frames per second: the declared rate, unless the timestamps say otherwise by more
        than 5% (a variable-frame-rate file declaring 25 fps over 7.5 real ones)."""
        declared = self._declared_fps
        index = self._packet_index()
        if index.seconds and index.count > 1:
            measured = index.count / index.seconds
            if abs(measured / declared - 1) > 0.05:
                return measured
        return declared

    @property
    def _declared_fps(self) -> float:
        rate = self._stream.average_rate or self._stream.guessed_rate or Fraction(25)
        return float(rate)

    @property
    def num_frames(self) -> int:
        return self._packet_index().count

    @property
    def duration(self) -> float:
        return self.num_frames / self.fps

    def _packet_index(self) -> _PacketIndex:
        if self._index is None:
            self._index = self._scan()
            self._check_plausible(self._index)
        return self._index

    def _check_plausible(self, index: _PacketIndex) -> None:
        """Refuse empty streams, files cut short of what their header says (a video cut after
        its first frame among them) and still images."""
        count = index.count
        if count == 0:
            raise VideoReadError(self.path, "the video stream holds no frames")
        self._check_complete(index)
        image_format = self._container.format.name == "image2" or any(
            name.endswith("_pipe") for name in self._container.format.name.split(",")
        )
        if (image_format or count < 2) and not self.allow_images:
            raise VideoReadError(
                self.path,
                f"a still image ({count} frame, {self._container.format.name}), not a video",
                hint="--allow-images reads images as one-frame videos",
            )

    def _check_complete(self, index: _PacketIndex) -> None:
        """Refuse a file whose frames fall short of the count or duration its header states."""
        count = index.count
        promised_s = self._promised_seconds()
        if not self._stream.frames and promised_s and index.seconds:
            # the header gives a duration: compare it with the time the timestamps span (a
            # variable frame rate makes counts at the declared rate meaningless)
            slack = _SLACK_FRAMES / self._declared_fps
            if index.seconds < promised_s * _DURATION_TOLERANCE - slack:
                raise VideoReadError(
                    self.path,
                    f"truncated: its frames span {index.seconds:.1f} s of the {promised_s:.1f} s "
                    f"its header promises ({index.seconds / promised_s:.0%} readable)",
                )
            return
        # the header's frame count, else (no timestamps) its duration at the declared rate
        promised, tolerance = (
            (int(self._stream.frames), _COUNT_TOLERANCE)
            if self._stream.frames
            else (round(promised_s * self._declared_fps), _DURATION_TOLERANCE)
        )
        if promised and count < promised * tolerance - _SLACK_FRAMES:
            raise VideoReadError(
                self.path,
                f"truncated: {count} of the {promised} frames its header promises are in the "
                f"file ({count / promised:.0%} readable, {count / self.fps:.1f} s)",
            )
        if promised and promised != count:
            log.debug("%s: header says %d frames, stream has %d", self.path, promised, count)

    def _promised_seconds(self) -> float:
        """The duration the headers state (0: none)."""
        if self._stream.duration and self._stream.time_base:
            return float(self._stream.duration * self._stream.time_base)
        if self._container.duration:
            return self._container.duration / av.time_base
        return 0.0

    def _scan(self) -> _PacketIndex:
        # a second handle: demuxing to the end must not disturb the decoding one
        stamps: list[int | None] = []
        keys: list[int | None] = []
        try:
            with av.open(str(self.path)) as container:
                stream = container.streams.video[0]
                time_base = stream.time_base
                for packet in container.demux(stream):
                    if packet.size > 0:
                        stamps.append(packet.pts)
                        if packet.is_keyframe:
                            keys.append(packet.pts)
        except av.FFmpegError as err:
            raise VideoReadError(self.path, f"cannot read the video stream ({err})") from err
        if not stamps or any(p is None for p in stamps) or len(set(stamps)) != len(stamps):
            return _PacketIndex(None, (0,), len(stamps))
        ordered = sorted(stamps)  # type: ignore[type-var]
        position = {pts: i for i, pts in enumerate(ordered)}
        keyframes = sorted(position[k] for k in keys if k is not None) or [0]
        seconds = None
        if len(ordered) > 1 and time_base:  # the span, plus one average frame
            seconds = (
                float((ordered[-1] - ordered[0]) * time_base) * len(ordered) / (len(ordered) - 1)
            )
        return _PacketIndex(tuple(ordered), tuple(keyframes), len(stamps), seconds)

    def read(self, indices: Sequence[int], short_side: int | None = None) -> np.ndarray:
        """Decode the frames at ``indices`` (any order, repeats allowed).

        ``short_side`` resizes while converting to RGB, so only the kept frames are scaled.
        Returns uint8 RGB of shape (len(indices), H, W, 3).
        """
        frames = dict(self.frames(indices, short_side))
        return np.stack([frames[int(i)] for i in indices])

    def frames(
        self, indices: Sequence[int], short_side: int | None = None
    ) -> Iterator[tuple[int, np.ndarray]]:
        """Yield (index, uint8 RGB (H, W, 3)) for each distinct index, in increasing order, as
        they are decoded: a long video streams through without being held in memory."""
        if len(indices) == 0:
            raise ValueError("indices must not be empty")
        wanted = sorted({int(i) for i in indices})
        if wanted[0] < 0 or wanted[-1] >= self.num_frames:
            raise ValueError(
                f"{self.path}: frame indices must lie in [0, {self.num_frames}), "
                f"got {wanted[0]}..{wanted[-1]}"
            )
        expected = iter(wanted)
        try:
            for position, frame in self._decode(wanted):
                missing = next(expected)
                if position != missing:
                    break
                yield position, upright(frame, short_side, "AREA", self._reformatter)
            else:
                missing = next(expected, None)
                if missing is None:
                    return
        except av.FFmpegError as err:
            raise VideoReadError(
                self.path, f"frames could not be decoded (truncated or damaged file: {err})"
            ) from err
        raise VideoReadError(
            self.path,
            f"frame {missing} of {self.num_frames} could not be decoded "
            "(truncated or damaged file)",
        )

    def verify(self) -> int:
        """Decode every frame without converting it; raise VideoReadError unless all decode."""
        try:
            decoded = sum(1 for _ in self._decode_sequential(list(range(self.num_frames))))
        except av.FFmpegError as err:
            raise VideoReadError(self.path, f"decoding failed ({err})") from err
        if decoded != self.num_frames:
            raise VideoReadError(
                self.path, f"only {decoded} of {self.num_frames} frames could be decoded"
            )
        return decoded

    def _decode(self, wanted: list[int]) -> Iterator[tuple[int, av.VideoFrame]]:
        """Yield (position, frame) for the wanted positions, seeking where that is cheaper."""
        index = self._packet_index()
        if index.pts is not None and _seek_cost(index, wanted) < wanted[-1] + 1:
            yield from self._decode_seeking(index, wanted)
        else:
            yield from self._decode_sequential(wanted)

    def _decode_sequential(self, wanted: list[int]) -> Iterator[tuple[int, av.VideoFrame]]:
        self._rewind()
        self._consumed = True
        targets = iter(wanted)
        target = next(targets)
        for position, frame in enumerate(self._container.decode(self._stream)):
            if position == target:
                yield position, frame
                target = next(targets, None)
                if target is None:
                    return

    def _decode_seeking(
        self, index: _PacketIndex, wanted: list[int]
    ) -> Iterator[tuple[int, av.VideoFrame]]:
        assert index.pts is not None
        position_of = {pts: i for i, pts in enumerate(index.pts)}
        pending = list(reversed(wanted))  # pop() takes the next target
        while pending:
            keyframe = index.keyframe_before(pending[-1])
            self._container.seek(index.pts[keyframe], stream=self._stream, backward=True)
            self._consumed = True
            for frame in self._container.decode(self._stream):
                position = position_of.get(frame.pts)
                if position is None or position > pending[-1]:
                    # timestamps did not lead where the index said: fall back to plain decoding
                    yield from self._decode_sequential(sorted(pending))
                    return
                if position == pending[-1]:
                    yield position, frame
                    pending.pop()
                    if not pending:
                        return
                    if index.keyframe_before(pending[-1]) > position + _SEEK_COST_FRAMES:
                        break  # cheaper to seek again than to decode up to the next target

    def _rewind(self) -> None:
        """Start decoding from the first frame again (reopening where seeking is refused)."""
        if not self._consumed:
            return
        try:
            self._container.seek(0, stream=self._stream)
        except av.FFmpegError:
            self._container.close()
            self._container = av.open(str(self.path))
            self._stream = self._container.streams.video[0]
        self._consumed = False


def _seek_cost(index: _PacketIndex, wanted: list[int]) -> int:
    """Frames decoded (plus seek overhead) when seeking to the keyframe before each run."""
    cost, current = 0, -1
    for target in wanted:
        keyframe = index.keyframe_before(target)
        if keyframe > current + _SEEK_COST_FRAMES:
            cost += _SEEK_COST_FRAMES + target - keyframe + 1
        else:
            cost += target - current
        current = target
    return cost


def probe(path: str | Path, allow_images: bool = False) -> dict[str, float | int]:
    """Frame count, fps, duration and size of a video, raising VideoReadError if unreadable."""
    with VideoReader(path, allow_images) as reader:
        return {
            "num_frames": reader.num_frames,
            "fps": reader.fps,
            "duration": reader.duration,
            "width": reader.width,
            "height": reader.height,
        }
