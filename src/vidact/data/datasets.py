"""Datasets that turn indexed videos into (clip, label) pairs.

``ClipDataset`` gives pixels, decoded on the fly or read from the clip cache; ``FeatureClipDataset``
gives cached frame features of a frozen backbone (the fast path). Both sample frame positions with
the model's ``ClipSampling``, so a head sees the same temporal jitter whichever path feeds it.
In training, items are fetched by ``(epoch, index)`` keys (``data.sampler.EpochSampler``) and
every random draw (frame positions, augmentation) comes from a generator seeded by (seed, epoch,
index): runs repeat for a seed, epochs differ, and a resumed run replays exactly, whatever
processes or workers fetch the items.

An unreadable video does not stop anything here: the item comes back as ``(None, path)``,
``collate_skipping`` drops it from the batch and hands the path on, and whoever consumes the batches
counts and reports the failures (training stops only past a set fraction).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from vidact.data.cache import ArrayCache, CachedVideo, DamagedEntry
from vidact.data.index import VideoItem
from vidact.data.sampler import ItemKey, derived_seed
from vidact.data.transforms import ClipTransform
from vidact.errors import ConfigError
from vidact.io.reader import VideoReader, VideoReadError
from vidact.sampling import ClipSampling, pair_candidates, pair_rows, spread_indices

log = logging.getLogger(__name__)

Sample = tuple[torch.Tensor, int] | tuple[None, str]
FeatureAugment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


def default_workers() -> int:
    """Loader worker processes when none are asked for: one per CPU. Here, not beside the
    Lightning data module, so predicting does not import Lightning to learn it."""
    return os.cpu_count() or 1


class EntrySource(Protocol):
    """Where cached per-video arrays come from (an ArrayCache, or a store joining several)."""

    def load(self, video: Path) -> CachedVideo | None: ...


def read_spread_frames(
    path: Path,
    cached_frames: int,
    short_side: int | None,
    allow_images: bool = False,
    span: int = 1,
) -> CachedVideo:
    """Every frame of a short video, else ``cached_frames`` evenly spread ones, decoded at
    ``short_side``; with a ``span`` above 1, each read with the frames a motion encoder reads
    for it (span N rows: ``sampling.pair_rows``)."""
    with VideoReader(path, allow_images) as reader:
        positions = spread_indices(reader.num_frames, cached_frames)
        if span > 1:
            candidates = pair_candidates(positions, reader.num_frames)
            frames = read_pairs(reader, candidates, short_side, span)[0]
        else:
            frames = reader.read(positions, short_side)
        return CachedVideo(frames, reader.num_frames, reader.fps)


def read_pairs(
    reader: VideoReader, candidates: np.ndarray, short_side: int | None, span: int = 2
) -> tuple[np.ndarray, np.ndarray]:
    """(N * 5,) ``sampling.pair_candidates`` positions -> the (span N, H, W, 3) frames a motion
    encoder reads of N sampled frames (``sampling.pair_rows``) and their (span N,) positions;
    each distinct frame decoded once."""
    distinct, candidate_rows = np.unique(candidates, return_inverse=True)
    frames = reader.read(distinct, short_side)
    rows = pair_rows(frames, reader.fps, candidate_rows, span)
    return frames[rows], distinct[rows]


def read_clips(
    reader: VideoReader, positions: np.ndarray, sampling: ClipSampling, short_side: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """The frames of K clips at (K, T) ``positions``, and the positions as read: (K, span T)
    with the frames a motion encoder reads for each (``sampling.READINGS``)."""
    read = sampling.as_read(positions, reader.num_frames)
    if not sampling.pairs:
        return reader.read(read.reshape(-1), short_side), read
    frames, paired = read_pairs(reader, read.reshape(-1), short_side, sampling.span)
    return frames, paired.reshape(len(read), -1)


def evaluation_positions(
    sampling: ClipSampling, num_frames: int, fps: float, clips: int = 1
) -> np.ndarray:
    """(clips, T) positions of the evaluation clips of a video."""
    return np.stack(
        [sampling.indices(num_frames, fps, clip=c, num_clips=clips) for c in range(clips)]
    )


def to_views(frames: np.ndarray, positions: np.ndarray, transform: ClipTransform) -> torch.Tensor:
    """Frames read at ``positions.reshape(-1)`` -> (K*C, T, 3, S, S): each of the K clips, each
    crop the transform makes."""
    clips = frames.reshape(*positions.shape, *frames.shape[1:])  # (K*T, ...) -> (K, T, ...)
    views = [transform(clip) for clip in clips]  # each (T, 3, S, S) or (C, T, 3, S, S)
    return torch.cat([v if v.dim() == 5 else v[None] for v in views])


def collate_skipping(batch: list[Sample]) -> tuple[Any, Any, list[str]]:
    """Collate the readable samples; return the paths of the unreadable ones as a third element."""
    good = [sample for sample in batch if sample[0] is not None]
    failed = [str(sample[1]) for sample in batch if sample[0] is None]
    if not good:
        return None, None, failed
    inputs, labels = default_collate(good)
    return inputs, labels, failed


class _SampledClips(Dataset):
    """Items, the sampling settings, and the failure handling both datasets share."""

    def __init__(
        self,
        items: Sequence[VideoItem],
        sampling: ClipSampling,
        train: bool,
        seed: int = 0,
        allow_images: bool = False,
        jitter: bool = True,
        copies: int = 0,
    ) -> None:
        self.items = list(items)
        self.sampling = sampling
        self.train = train
        self.seed = seed
        self.allow_images = allow_images
        # training positions drawn at random; off: the evaluation positions, so a full-batch
        # fit (L-BFGS) minimises one fixed objective instead of a new draw every epoch
        self.jitter = jitter
        # training: each video once as evaluation reads it, then ``copies`` augmented draws of
        # it that are the same every epoch (a full-batch fit's fixed objective learns from them)
        self.copies = copies if train else 0
        # videos found unreadable: skipped at once after, not decoded and reported every epoch
        self.unreadable: set[int] = set()

    def __len__(self) -> int:
        return len(self.items) * (1 + self.copies)

    def positions(
        self, num_frames: int, fps: float, rng: np.random.Generator | None, clips: int = 1
    ) -> np.ndarray:
        """(clips, T) frame positions: one random clip from ``rng`` in training."""
        if self.train and self.jitter:
            return self.sampling.indices(num_frames, fps, True, rng)[None]
        return evaluation_positions(self.sampling, num_frames, fps, clips)

    def load(self, item: VideoItem, rng: np.random.Generator | None) -> torch.Tensor:
        raise NotImplementedError

    def __getitem__(self, key: int | ItemKey) -> Sample:
        epoch, index = key if isinstance(key, tuple) else (0, key)
        video = index % len(self.items)  # an augmented copy reads its video
        item = self.items[video]
        if video in self.unreadable:
            return None, str(item.path)
        fixed = not self.jitter  # the same clip every epoch
        try:
            if not self.train or (fixed and index < len(self.items)):
                return self.load(item, None), item.label
            seed = derived_seed(self.seed, 0 if fixed else epoch, index)
            # torch's own transforms draw from the global CPU generator: seed it for this item
            # only, leaving the caller's stream (dropout in the main process) untouched
            with torch.random.fork_rng(devices=[]):
                torch.random.default_generator.manual_seed(seed)
                return self.load(item, np.random.default_rng(seed)), item.label
        except VideoReadError as err:
            if not err.reported:
                log.warning("skipping %s", err)
            self.unreadable.add(video)
            return None, str(item.path)


class ClipDataset(_SampledClips):
    """Transformed pixel clips: (float (T, 3, S, S), label), or (float (V, T, 3, S, S), label)
    with ``clips`` x ``crops`` views per video for evaluation.

    With ``cache``, each video is decoded once (every frame up to ``cached_frames``, evenly
    spread: ``ClipSampling.frames_to_cache``) and later reads come from the cache; clips are
    sampled from the cached frames.
    """

    def __init__(
        self,
        items: Sequence[VideoItem],
        sampling: ClipSampling,
        transform: ClipTransform,
        short_side: int | None,
        train: bool = False,
        clips: int = 1,
        views: bool = False,
        cache: ArrayCache | None = None,
        cached_frames: int = 64,
        seed: int = 0,
        allow_images: bool = False,
        jitter: bool = True,
    ) -> None:
        super().__init__(items, sampling, train, seed, allow_images, jitter)
        if cache is not None and sampling.pairs:
            raise ConfigError(
                "a motion encoder reads frames around each sampled one, which the clip cache does "
                "not hold; train it on cached features (--feature-cache)"
            )
        self.transform = transform
        self.short_side = short_side
        self.clips = clips
        self.views = views
        self.cache = cache
        self.cached_frames = cached_frames

    def cached(self, item: VideoItem, rebuild: bool = False) -> CachedVideo:
        assert self.cache is not None
        entry = None if rebuild else self.cache.load(item.path, mmap=True)
        if entry is None:  # absent, or damaged: (re)built in place
            entry = read_spread_frames(
                item.path, self.cached_frames, self.short_side, self.allow_images
            )
            self.cache.save(item.path, entry)
        return entry

    def load(self, item: VideoItem, rng: np.random.Generator | None) -> torch.Tensor:
        if self.cache is not None:
            entry = self.cached(item)
            positions = self.positions(len(entry.array), entry.fps_of_entry, rng, self.clips)
            try:
                frames = entry.rows(positions.reshape(-1))  # the rows read are checked
            except DamagedEntry as err:
                log.warning("%s: damaged clip cache entry (%s); rebuilding it", item.path, err)
                frames = self.cached(item, rebuild=True).rows(positions.reshape(-1))
        else:
            with VideoReader(item.path, self.allow_images) as reader:
                positions = self.positions(reader.num_frames, reader.fps, rng, self.clips)
                frames, positions = read_clips(reader, positions, self.sampling, self.short_side)
        if not self.views:
            return self.transform(frames)  # one clip: (T, 3, S, S)
        return to_views(frames, positions, self.transform)  # (K*C, T, 3, S, S)


class FeatureClipDataset(_SampledClips):
    """Clips of cached frame features: (float (T, F), label).

    ``caches`` holds one entry source per view of the videos: view 0 the evaluation transform
    (validation reads only it), the others augmented; each training draw picks a view. An entry
    that is missing or damaged (a cache cleared or corrupted during training) is rebuilt in place
    by that view's ``rebuild``; only a video that cannot be decoded is unreadable.
    """

    def __init__(
        self,
        items: Sequence[VideoItem],
        caches: Sequence[EntrySource],
        sampling: ClipSampling,
        train: bool = False,
        rebuild: Sequence[Callable[[VideoItem], CachedVideo]] | None = None,
        seed: int = 0,
        augment: FeatureAugment | None = None,
        jitter: bool = True,
        copies: int = 0,
    ) -> None:
        # a cached row is one frame's features, its pair already encoded: T rows per clip
        super().__init__(
            items, replace(sampling, span=1), train, seed, jitter=jitter, copies=copies
        )
        self.caches = list(caches)
        self.rebuild = list(rebuild) if rebuild is not None else None
        self.augment = augment

    def load(self, item: VideoItem, rng: np.random.Generator | None) -> torch.Tensor:
        view = int(rng.integers(len(self.caches))) if rng is not None else 0
        entry = self.caches[view].load(item.path)  # (N, F) float16, N evenly spread frames
        if entry is None and self.rebuild is not None:
            entry = self.rebuild[view](item)
        if entry is None:
            raise VideoReadError(item.path, "no cached features (its extraction failed)")
        positions = self.positions(len(entry.array), entry.fps_of_entry, rng)[0]
        clip = entry.rows(positions).astype(np.float32)  # (T, F)
        if self.augment is not None and rng is not None:
            clip = self.augment(clip, rng)
        return torch.from_numpy(clip)
