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


def _rng(train: bool) -> np.random.Generator | None:
    return np.random.default_rng(int(torch.randint(2**62, ()).item())) if train else None


class ClipDataset(Dataset):
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
        self.items = list(items)
        self.frames = frames
        self.shorter_clips = shorter_clips
        self.transform = transform
        self.short_side = short_side
        self.strategy = strategy
        self.train = train

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item = self.items[index]
        with VideoReader(item.path) as reader:
            frames = min(self.frames, reader.num_frames) if self.shorter_clips else self.frames
            positions = sample_indices(
                reader.num_frames, frames, self.strategy, self.train, _rng(self.train)
            )
            clip = reader.read(positions, short_side=self.short_side)
        return self.transform(clip), item.label


class FeatureClipDataset(Dataset):
    """Clips of cached frame features: (float tensor (T, F), label)."""

    def __init__(
        self,
        items: Sequence[VideoItem],
        cache: FeatureCache,
        frames: int,
        strategy: str = "segment",
        train: bool = False,
    ) -> None:
        self.items = list(items)
        self.cache = cache
        self.frames = frames
        self.strategy = strategy
        self.train = train

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        item = self.items[index]
        features = self.cache.load(item.path)  # (N, F) float16, N evenly spread frames
        if features is None:
            raise RuntimeError(f"{item.path}: no cached features; extract them first")
        positions = sample_indices(
            len(features), self.frames, self.strategy, self.train, _rng(self.train)
        )
        return torch.from_numpy(features[positions].astype(np.float32)), item.label
