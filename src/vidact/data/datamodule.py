"""LightningDataModule: the split, the transforms and the loaders of one training run."""

from __future__ import annotations

import os

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from vidact.data.cache import FeatureCache
from vidact.data.datasets import ClipDataset, FeatureClipDataset
from vidact.data.index import VideoIndex
from vidact.data.transforms import InputSpec, eval_transform, train_transform


def default_workers() -> int:
    return os.cpu_count() or 1


class VideoDataModule(L.LightningDataModule):
    """Train / val / test loaders over a split index.

    With ``feature_cache`` the datasets read cached frame features (the frozen-backbone fast path)
    instead of decoding pixels; spatial augmentation then does not apply, temporal jitter does.
    """

    def __init__(
        self,
        index: VideoIndex,
        spec: InputSpec,
        frames: int,
        strategy: str = "segment",
        batch_size: int = 8,
        workers: int | None = None,
        augment: bool = True,
        feature_cache: FeatureCache | None = None,
    ) -> None:
        super().__init__()
        self.index = index
        self.spec = spec
        self.frames = frames
        self.strategy = strategy
        self.batch_size = batch_size
        self.workers = default_workers() if workers is None else workers
        self.augment = augment
        self.feature_cache = feature_cache

    def dataset(self, split: str, train: bool = False) -> Dataset:
        items = self.index.subset(split)
        if self.feature_cache is not None:
            return FeatureClipDataset(items, self.feature_cache, self.frames, self.strategy, train)
        transform = (
            train_transform(self.spec) if train and self.augment else eval_transform(self.spec)
        )
        return ClipDataset(
            items, self.frames, transform, self.spec.short_side, self.strategy, train
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
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", train=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", train=False)
