"""The frozen-backbone fast path: encode every video's frames once, train heads on the cache.

With a frozen backbone the frame features never change, so computing them again each epoch (and
again for each head compared) is waste. Features of the ``cached_frames`` evenly spread frames
a video's clips can read are stored as float16 (N, F) arrays; clips are then sampled from them.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from vidact.data.cache import ArrayCache, CachedVideo
from vidact.data.datasets import FeatureAugment, read_spread_frames
from vidact.data.index import VideoItem
from vidact.data.sampler import derived_seed
from vidact.data.transforms import (
    Augment,
    InputSpec,
    eval_transform,
    fit_rule,
    train_transform,
    worker_start,
)
from vidact.io.reader import VideoReader, VideoReadError
from vidact.models.backbones import FRAME_ENCODERS, frame_span
from vidact.models.encoder_runtime import int8_names
from vidact.models.view_cache import ViewFeatureCache
from vidact.progress import progress
from vidact.sampling import READINGS, ClipSampling, spread_indices

log = logging.getLogger(__name__)


class FeatureStore:
    """Cached frame features of a frozen encoder: one cache namespace per member encoder (so
    ``lite0+pose`` reuses what ``lite0`` and ``pose`` runs cached), joined along the feature
    axis when read. An entry is whole only when every member has it."""

    def __init__(
        self,
        root: str | Path,
        encoder: nn.Module,
        sources: Sequence[str],
        spec: InputSpec,
        cached_frames: int,
        view: FeatureView | None = None,
    ) -> None:
        self.caches = []
        for member, source in zip(encoder.members, sources, strict=True):
            own = member.input_spec()
            settings = {
                "backbone": member.name,
                "weights": source,
                "size": spec.size,
                "short_side": spec.short_side,
                "mean": list(own.mean),
                "std": list(own.std),
                "cached_frames": cached_frames,
            }
            if spec.fit != own.fit:  # the whole frame where the encoder crops, or the reverse
                settings["fit"] = spec.fit
            if (rule := fit_rule(spec)) is not None:  # where the person square lies
                settings["fit_rule"] = rule
            if getattr(member, "pool", None) is not None:  # other pooling, other features
                settings["pool"] = member.pool
            if hasattr(member, "tracking"):  # how a pose tracker follows a body frame to frame
                settings["tracking"] = member.tracking
            if (span := frame_span(member.name)) > 1:  # which frames are read around each
                settings["pairing"] = READINGS[span]
            if view is not None:
                settings["view"] = view.settings()
            if quantised := int8_names(member):  # an int8 copy: other features
                settings["precision"] = quantised
            self.caches.append(ArrayCache(root, "features", settings))

    @property
    def description(self) -> str:
        return " + ".join(str(cache.dir) for cache in self.caches)

    def missing(self, video: Path) -> list[int]:
        """The members whose features of ``video`` are not cached."""
        return [i for i, cache in enumerate(self.caches) if not cache.contains(video)]

    def load(self, video: Path) -> CachedVideo | None:
        entries = [cache.load(video) for cache in self.caches]
        if any(entry is None for entry in entries):
            return None
        if len({len(entry.array) for entry in entries}) != 1:  # type: ignore[union-attr]
            return None  # members cached from different reads: rebuild them together
        first = entries[0]
        assert first is not None
        joined = np.concatenate([entry.array for entry in entries], axis=1)  # type: ignore[union-attr]
        return CachedVideo(joined, first.num_frames, first.fps)


@dataclass(frozen=True)
class FeatureView:
    """Augmented view ``index`` (1, 2, ...) of every video: the training augmentation drawn once
    per video and view from (seed, index, video), so the cache holds fixed views to draw from."""

    index: int
    augment: Augment
    seed: int = 0

    def settings(self) -> dict[str, object]:
        return {"index": self.index, "augment": asdict(self.augment), "seed": self.seed}


@dataclass(frozen=True)
class SharedViews:
    """The evaluation views of a full-batch fit's videos (``models.view_cache``): a full-batch
    fit's cache holds the frames evaluation reads, so one encoding serves both, and a
    cross-validation, which trains on each video in some folds and tests it in another, encodes
    it once. A video of at least T frames is cached at its T evaluation frames; a shorter one
    whole, evaluation reading some frames twice, which shares when each frame's picture is its
    own (``ViewFeatureCache.per_frame``) or placed on the frames read without their repeats
    (``by_distinct_frames``: the person's square) and evaluation reads every cached frame."""

    cache: ViewFeatureCache
    sampling: ClipSampling
    cached_frames: int

    def rows(self, num_frames: int, fps: float) -> np.ndarray | None:
        """The training entry's rows that evaluation reads, in its order; None when they are
        not all there, or not alone (a short video's frames where pictures depend on others
        read with them, and those others differ)."""
        spread = spread_indices(num_frames, self.cached_frames)
        wanted = self.sampling.indices(num_frames, fps)
        if np.array_equal(spread, wanted):
            return np.arange(len(spread))
        found = np.minimum(np.searchsorted(spread, wanted), len(spread) - 1)
        if not np.array_equal(spread[found], wanted):
            return None
        alike = self.cache.per_frame or (
            self.cache.by_distinct_frames and np.array_equal(np.unique(wanted), spread)
        )
        return found if alike else None

    def training_entry(self, item: VideoItem, allow_images: bool) -> CachedVideo | None:
        """The video's training entry (float16 rows, the video's facts) made from its cached
        evaluation view; None when there is none or it lacks one of the entry's frames."""
        view = self.cache.load(item)
        if view is None or len(view) != 1:
            return None
        try:
            with VideoReader(item.path, allow_images) as reader:
                facts = reader.num_frames, reader.fps
        except VideoReadError:
            return None  # the extraction decodes it and reports it
        rows = self.rows(*facts)
        size = len(spread_indices(facts[0], self.cached_frames))
        if rows is None or len(np.unique(rows)) != size:
            return None
        first = np.unique(rows, return_index=True)[1]  # the view's first read of each row
        return CachedVideo(view[0, torch.from_numpy(first)].numpy().astype(np.float16), *facts)


class _SpreadFrames(Dataset):
    """Transformed spread frames of each video (evaluation transform, or one augmented view),
    or (None, path) when unreadable."""

    def __init__(
        self,
        items: Sequence[VideoItem],
        spec: InputSpec,
        cached_frames: int,
        allow_images: bool,
        view: FeatureView | None = None,
        span: int = 1,
    ) -> None:
        self.items, self.spec, self.cached_frames = list(items), spec, cached_frames
        self.allow_images = allow_images
        self.view = view
        self.span = span  # a motion encoder's frames around each: (span N, 3, S, S)
        self.transform = (
            eval_transform(spec) if view is None else train_transform(spec, view.augment)
        )

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[tuple[int, float] | None, torch.Tensor | str]:
        """((video frames, fps), frames (N, 3, S, S)), or (None, path) when unreadable."""
        item = self.items[index]
        try:
            entry = read_spread_frames(
                item.path, self.cached_frames, self.spec.short_side, self.allow_images, self.span
            )
        except VideoReadError as err:
            log.warning("skipping %s", err)
            return None, str(item.path)
        with torch.random.fork_rng(devices=[]):
            if self.view is not None:  # an augmented view: a fixed draw per video and view
                key = zlib.crc32(item.relpath.encode())
                seed = derived_seed(self.view.seed, self.view.index, key)
                torch.random.default_generator.manual_seed(seed)
            return (entry.num_frames, entry.fps), self.transform(entry.array)


def calibration_frames(
    items: Sequence[VideoItem],
    spec: InputSpec,
    span: int,
    allow_images: bool = False,
    videos: int = 16,
    frames: int = 8,
) -> torch.Tensor:
    """The encoder's input for int8 calibration: ``frames`` evenly spread frames (each with the
    frames a motion encoder reads around it, ``span``) of the first ``videos`` readable training
    videos by path, prepared as the cache prepares them; the same videos every time, so a run
    quantises the same way again."""
    chosen = sorted(items, key=lambda item: item.relpath)
    found = []
    for item in chosen:
        facts, prepared = _SpreadFrames([item], spec, frames, allow_images, None, span)[0]
        if facts is not None:
            found.append(prepared)
        if len(found) == videos:
            break
    if not found:
        raise VideoReadError(
            chosen[0].path if chosen else Path("."), "no readable video to calibrate on"
        )
    return torch.cat(found)  # type: ignore[arg-type]


class FeatureExtractor:
    """A frozen encoder filling the feature store: all videos up front (``extract``), or one
    whose entry went missing or was damaged during training (``rebuild``, in place). Only the
    members whose features are missing are computed."""

    def __init__(
        self,
        encoder: nn.Module,
        store: FeatureStore,
        spec: InputSpec,
        cached_frames: int,
        allow_images: bool = False,
        view: FeatureView | None = None,
        shared: SharedViews | None = None,
    ) -> None:
        self.encoder = encoder
        self.store = store
        self.view = view
        self.shared = shared  # a single encoder's full-batch fit: its evaluation views
        self.spec = spec
        self.cached_frames = cached_frames
        self.allow_images = allow_images
        self.span = frame_span(encoder.name)
        self.undecodable: set[str] = set()  # reported once: never decoded again

    def _member_input(self, index: int, frames: torch.Tensor) -> torch.Tensor:
        if hasattr(self.encoder, "member_input"):  # a fusion: frames in [0, 1], each its own way
            return self.encoder.member_input(index, frames)
        return frames

    @torch.inference_mode()
    def _store(
        self,
        item: VideoItem,
        facts: tuple[int, float],
        frames: torch.Tensor,
        members: Sequence[int] | None = None,
    ) -> list[np.ndarray]:
        """Encode (N, 3, S, S) frames (span N for a motion encoder) with ``members``
        (default: those that lack them); cache float16 (N, F) per member and return them."""
        was_training = self.encoder.training
        self.encoder.eval()
        device = next(self.encoder.parameters(), torch.empty(0)).device
        computed = []
        for index in self.store.missing(item.path) if members is None else members:
            member = self.encoder.members[index]
            member_frames = self._member_input(index, frames)
            # (a frame encoder bounds its own runs: backbones.RUN_PIXELS; a pose clip is tracked
            # from its first frame to its last)
            exact = member(member_frames.to(device)).float().cpu()
            features = exact.numpy().astype(np.float16)
            self.store.caches[index].save(
                item.path, CachedVideo(features, int(facts[0]), float(facts[1]))
            )
            rows = None if self.shared is None else self.shared.rows(*facts)
            if rows is not None:  # what evaluation reads, as it is
                self.shared.cache.save(item, exact[torch.from_numpy(rows)][None])  # type: ignore[union-attr]
            computed.append(features)
        self.encoder.train(was_training)
        return computed

    def rebuild(self, item: VideoItem) -> CachedVideo:
        """Decode and encode one video now; raises VideoReadError when it cannot be decoded
        (at once, without decoding, for a video that could not be before)."""
        if str(item.path) in self.undecodable:
            raise VideoReadError(item.path, "cannot be decoded", reported=True)
        log.info("%s: rebuilding its cached features", item.path)
        dataset = _SpreadFrames(
            [item], self.spec, self.cached_frames, self.allow_images, self.view, self.span
        )
        facts, frames = dataset[0]
        if facts is None:
            self.undecodable.add(str(item.path))
            raise VideoReadError(item.path, "cannot be decoded to rebuild its cached features")
        # every member from this one read, so their entries hold the same frames; the result
        # comes from memory: a `cache clear` right after the save must not lose it
        members = range(len(self.store.caches))
        features = self._store(item, facts, frames, members)  # type: ignore[arg-type]
        return CachedVideo(np.concatenate(features, axis=1), int(facts[0]), float(facts[1]))

    def _from_view(self, item: VideoItem) -> bool:
        """Store the video's training entry from its evaluation view; whether there was one."""
        assert self.shared is not None
        entry = self.shared.training_entry(item, self.allow_images)
        if entry is not None:
            self.store.caches[0].save(item.path, entry)
        return entry is not None

    def extract(
        self, items: Sequence[VideoItem], workers: int = 0, device: torch.device | str = "cpu"
    ) -> list[str]:
        """Encode the videos not yet cached; returns the paths of those that were unreadable."""
        todo = [item for item in items if self.store.missing(item.path)]
        if self.shared is not None:  # tested in an earlier fold: encoded then
            todo = [item for item in todo if not self._from_view(item)]
        if not todo:
            return []
        what = (
            "the frames" if self.view is None else f"augmented view {self.view.index} of the frames"
        )
        log.info("encoding %s of %d video(s) (cached features are reused later)", what, len(todo))
        # a private generator: whether a cache was already full must not shift the seeded RNG
        loader = DataLoader(
            _SpreadFrames(
                todo, self.spec, self.cached_frames, self.allow_images, self.view, self.span
            ),
            batch_size=None,
            num_workers=workers,
            multiprocessing_context=worker_start(self.spec, workers),
            generator=torch.Generator(),
        )
        self.encoder.to(device)
        failed = []
        for item, (facts, frames) in zip(todo, progress(loader, "encoding"), strict=True):
            if facts is None:
                failed.append(frames)
                continue
            self._store(item, facts, frames)
        self.undecodable.update(failed)
        return failed


def feature_augmenter(
    encoder: nn.Module,
) -> FeatureAugment | None:
    """Training augmentation in feature space for the members that have one (pose: mirroring
    and small scale, rotation and shift jitter), at their offset in the joined features."""
    offset = 0
    for member in encoder.members:
        augment = (
            member.name in FRAME_ENCODERS and FRAME_ENCODERS.traits(member.name).feature_augment
        )
        if augment:
            return augment(offset)
        offset += int(member.num_features)
    return None
