"""Writing videos with PyAV: the synthetic dataset and annotated outputs share this one writer."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from vidact.errors import ConfigError


class NoFrames(ValueError):
    """Nothing was given to write (a stream that ended before its first frame)."""


# container suffix -> (codec, pixel format); MPEG-4 Part 2 in AVI is what UCF101 ships
_CODECS = {
    ".mp4": ("libx264", "yuv420p"),
    ".mkv": ("libx264", "yuv420p"),
    ".mov": ("libx264", "yuv420p"),
    ".avi": ("mpeg4", "yuv420p"),
    ".webm": ("libvpx-vp9", "yuv420p"),
}


def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    keyframe_interval: int | None = None,
    bit_rate: int | None = None,
) -> Path:
    """Encode uint8 RGB frames (H, W, 3) to ``path``; the codec follows the file suffix.

    ``keyframe_interval`` (GOP size) and ``bit_rate`` default to the encoder's own choices.
    Frames with odd sizes are padded by one pixel (4:2:0 chroma needs even sizes).
    """
    path = Path(path)
    try:
        codec, pix_fmt = _CODECS[path.suffix.lower()]
    except KeyError:
        raise ConfigError(
            f"{path}: cannot write {path.suffix!r} videos; use one of {', '.join(_CODECS)}"
        ) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(str(path), mode="w") as container:
        stream = None
        for frame in frames:
            if stream is None:
                height, width = frame.shape[:2]
                stream = container.add_stream(codec, rate=rate)
                stream.width, stream.height = width + width % 2, height + height % 2
                stream.pix_fmt = pix_fmt
                if keyframe_interval is not None:
                    stream.codec_context.gop_size = keyframe_interval
                if bit_rate is not None:
                    stream.bit_rate = bit_rate
            if frame.shape[0] != stream.height or frame.shape[1] != stream.width:
                frame = np.pad(
                    frame,
                    (
                        (0, stream.height - frame.shape[0]),
                        (0, stream.width - frame.shape[1]),
                        (0, 0),
                    ),
                    mode="edge",
                )
            packet_frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            container.mux(stream.encode(packet_frame))
        if stream is None:
            raise NoFrames(f"{path}: no frames to write")
        container.mux(stream.encode(None))
    return path
