"""Datasets that turn indexed videos into (clip, label) pairs.

``ClipDataset`` decodes pixels; ``FeatureClipDataset`` reads cached frame features of a frozen
backbone (the fast path). Both sample frame positions with the same strategy, so a head sees the
same temporal jitter whichever path feeds it. Random draws use torch's RNG, which the DataLoader
seeds per worker and epoch, so runs repeat for a seed and epochs differ.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from vidact.data.cache import FeatureCache
from vidact.data.index import VideoItem
from vidact.data.transforms import ClipTransform
from vidact.io.reader import VideoReader
from vidact.sampling import sample_indices


class _SampledClips(Dataset):
    """Items plus the temporal sampling both datasets share."""

    def __init__(self, items: Sequence[VideoItem], frames: int, strategy: str, train: bool) -> None:
        self.items = list(items)
        self.frames = frames
        self.strategy = strategy
        self.train = train

    def __len__(self) -> int:
        return len(self.items)

    def positions(self, num_frames: int, frames: int | None = None) -> np.ndarray:
        """Frame positions for one clip; a fresh random draw per call in training."""
        rng = np.random.default_rng(int(torch.randint(2**62, ()).item())) if self.train else None
        return sample_indices(num_frames, frames or self.frames, self.strategy, self.train, rng)


class ClipDataset(_SampledClips):
    """Decoded, transformed clips: (float tensor (T, 3, S, S), label)."""

    def __init__(
        self,
        items: Sequence[VideoItem],
        frames: int,
        transform: ClipTransform,
        short_side: int | None,
        strategy: str = "segment",
        train: bool = False,
        shorter_clips: bool = False,
    ) -> None:
        """``shorter_clips``: a video with fewer than ``frames`` frames gives all of them, once."""
        super().__init__(items, frames, strategy, train)
        self.transform = transform
        self.short_side = short_side
        self.shorter_clips = shorter_clips

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item = self.items[index]
        with VideoReader(item.path) as reader:
            count = reader.num_frames
            positions = self.positions(
                count, min(self.frames, count) if self.shorter_clips else None
            )
            clip = reader.read(positions, short_side=self.short_side)
        return self.transform(clip), item.label


class FeatureClipDataset(_SampledClips):
    """Clips of cached frame features: (float tensor (T, F), label)."""

    def __init__(
        self,
        items: Sequence[VideoItem],
        cache: FeatureCache,
        frames: int,
        strategy: str = "segment",
        train: bool = False,
    ) -> None:
        super().__init__(items, frames, strategy, train)
        self.cache = cache

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item = self.items[index]
        features = self.cache.load(item.path)  # (N, F) float16, N evenly spread frames
        if features is None:
            raise RuntimeError(f"{item.path}: no cached features; extract them first")
        positions = self.positions(len(features))
        return torch.from_numpy(features[positions].astype(np.float32)), item.label
