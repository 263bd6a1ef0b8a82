"""What the model reads of a video: its evaluation views, and whether it gets a timeline."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from vidact.data.datasets import evaluation_positions, read_clips, to_views
from vidact.data.transforms import ClipTransform, InputSpec
from vidact.inference.timeline import TimelineSettings
from vidact.io.reader import VideoReader
from vidact.sampling import ClipSampling


def is_long(reader: VideoReader, settings: TimelineSettings) -> bool:
    """Whether a video gets a timeline of its own: longer than two windows."""
    return reader.num_frames > 2 * settings.frames(reader.fps)[0]


@dataclass(frozen=True)
class ViewLoader:
    """Reads the evaluation views of a video; small and picklable, so DataLoader workers can
    decode videos in parallel while the model runs in the main process."""

    sampling: ClipSampling
    input: InputSpec
    transform: ClipTransform
    clips: int
    crops: int
    allow_images: bool

    @property
    def short_side(self) -> int:
        """Decode size: the crop size itself for three crops, which must see the whole frame."""
        return self.input.size if self.crops == 3 else self.input.short_side

    def __call__(self, reader: VideoReader) -> torch.Tensor:
        """The views of an open video: (clips * crops, T, 3, S, S)."""
        positions = evaluation_positions(self.sampling, reader.num_frames, reader.fps, self.clips)
        frames, positions = read_clips(reader, positions, self.sampling, self.short_side)
        return to_views(frames, positions, self.transform)
