"""LightningDataModule: the split, the transforms and the loaders of one training run."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from vidact.data.cache import ArrayCache, CachedVideo
from vidact.data.datasets import (
    ClipDataset,
    EntrySource,
    FeatureAugment,
    FeatureClipDataset,
    collate_skipping,
    default_workers,
)
from vidact.data.index import VideoIndex, VideoItem
from vidact.data.sampler import EpochSampler
from vidact.data.transforms import (
    Augment,
    InputSpec,
    eval_transform,
    train_transform,
    worker_start,
)
from vidact.sampling import ClipSampling, evenly_spread


class VideoDataModule(L.LightningDataModule):
    """Training and validation loaders over a split index (test figures come from the predictor).

    With ``feature_cache`` the datasets read cached frame features (the frozen-backbone fast path)
    instead of pixels; spatial augmentation then does not apply, temporal jitter does. With
    ``clip_cache`` pixels are decoded once and read from the cache afterwards. Batches are
    ``(inputs, labels, unreadable_paths)``. Every loader has its own sampler and generator
    (``data.sampler``), so batches depend only on (seed, epoch), never on the global RNG:
    Lightning must not swap in its distributed sampler (``use_distributed_sampler=False``).
    """

    def __init__(
        self,
        index: VideoIndex,
        spec: InputSpec,
        sampling: ClipSampling,
        batch_size: int = 8,
        workers: int | None = None,
        augment: Augment | None = None,
        feature_cache: Sequence[EntrySource] | None = None,
        clip_cache: ArrayCache | None = None,
        cached_frames: int = 64,
        seed: int = 0,
        allow_images: bool = False,
        rebuild_features: Sequence[Callable[[VideoItem], CachedVideo]] | None = None,
        start_epoch: int = 0,
        feature_augment: FeatureAugment | None = None,
        jitter: bool = True,
        open_set_videos: int = 0,
        augmented_copies: int = 0,
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
        self.cached_frames = cached_frames
        self.seed = seed
        self.allow_images = allow_images
        self.rebuild_features = rebuild_features
        self.start_epoch = start_epoch  # epochs a resumed run has done already
        self.feature_augment = feature_augment  # training only, on cached features
        self.jitter = jitter  # random training positions (off for a full-batch fit)
        self.open_set_videos = open_set_videos  # training videos validation also embeds
        self.augmented_copies = augmented_copies  # per training video, on cached features

    def dataset(self, split: str, train: bool = False, most: int | None = None) -> Dataset:
        """The clips of ``split``; with ``most``, of at most that many of its videos, evenly
        spread over the list (so over its classes)."""
        items = self.index.subset(split)
        if most is not None:
            items = [items[i] for i in evenly_spread(len(items), most)]
        if self.feature_cache is not None:
            return FeatureClipDataset(
                items,
                self.feature_cache,
                self.sampling,
                train,
                self.rebuild_features,
                self.seed,
                self.feature_augment if train else None,
                jitter=self.jitter,
                copies=self.augmented_copies,
            )
        transform = train_transform(self.spec, self.augment) if train else eval_transform(self.spec)
        return ClipDataset(
            items,
            self.sampling,
            transform,
            self.spec.short_side,
            train,
            cache=self.clip_cache,
            cached_frames=self.cached_frames,
            seed=self.seed,
            allow_images=self.allow_images,
            jitter=self.jitter,
        )

    def _loader(self, split: str, train: bool, most: int | None = None) -> DataLoader:
        # cached features are tiny files: worker start-up would cost more than it saves
        workers = 0 if self.feature_cache is not None else self.workers
        dataset = self.dataset(split, train, most)
        order = EpochSampler(len(dataset), self.seed, shuffle=train)
        # Lightning makes the first iterator before it calls set_epoch (and, resuming, before
        # its epoch counter is right): a resumed run must start from its own epoch there
        order.set_epoch(self.start_epoch)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=order,  # type: ignore[arg-type]
            generator=torch.Generator().manual_seed(self.seed),  # worker seeds: not the global RNG
            num_workers=workers,
            multiprocessing_context=worker_start(self.spec, workers),
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
            collate_fn=collate_skipping,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", train=True)

    def val_dataloader(self) -> list[DataLoader]:
        """The validation clips, then (with ``open_set_videos``) that many training clips as
        evaluation sees them, unaugmented: what the open-set distance is fitted on each epoch
        (``models.open_set``)."""
        loaders = [self._loader("val", train=False)]
        if self.open_set_videos:
            loaders.append(self._loader("train", train=False, most=self.open_set_videos))
        return loaders
