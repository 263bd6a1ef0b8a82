"""LightningDataModule: the split, the transforms and the loaders of one training run."""

from __future__ import annotations

import os

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from vidact.data.cache import ArrayCache
from vidact.data.datasets import ClipDataset, FeatureClipDataset, collate_skipping
from vidact.data.index import VideoIndex
from vidact.data.transforms import Augment, InputSpec, eval_transform, train_transform
from vidact.sampling import ClipSampling


def default_workers() -> int:
    return os.cpu_count() or 1


class VideoDataModule(L.LightningDataModule):
    """Train / val / test loaders over a split index.

    With ``feature_cache`` the datasets read cached frame features (the frozen-backbone fast path)
    instead of pixels; spatial augmentation then does not apply, temporal jitter does. With
    ``clip_cache`` pixels are decoded once and read from the cache afterwards. Batches are
    ``(inputs, labels, unreadable_paths)``.
    """

    def __init__(
        self,
        index: VideoIndex,
        spec: InputSpec,
        sampling: ClipSampling,
        batch_size: int = 8,
        workers: int | None = None,
        augment: Augment | None = None,
        feature_cache: ArrayCache | None = None,
        clip_cache: ArrayCache | None = None,
        cache_frames: int = 64,
    ) -> None:
        super().__init__()
        self.index = index
        self.spec = spec
        self.sampling = sampling
        self.batch_size = batch_size
        self.workers = default_workers() if workers is None else workers
        self.augment = augment
        self.feature_cache = feature_cache
        self.clip_cache = clip_cache
        self.cache_frames = cache_frames

    def dataset(self, split: str, train: bool = False) -> Dataset:
        items = self.index.subset(split)
        if self.feature_cache is not None:
            return FeatureClipDataset(items, self.feature_cache, self.sampling, train)
        transform = train_transform(self.spec, self.augment) if train else eval_transform(self.spec)
        return ClipDataset(
            items,
            self.sampling,
            transform,
            self.spec.short_side,
            train,
            cache=self.clip_cache,
            cache_frames=self.cache_frames,
        )

    def _loader(self, split: str, train: bool) -> DataLoader:
        # cached features are tiny files: worker start-up would cost more than it saves
        workers = 0 if self.feature_cache is not None else self.workers
        return DataLoader(
            self.dataset(split, train),
            batch_size=self.batch_size,
            shuffle=train,
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
            collate_fn=collate_skipping,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
