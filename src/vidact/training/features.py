"""The frozen-backbone fast path: encode every video's frames once, train heads on the cache.

With a frozen backbone the frame features never change, so computing them again each epoch (and
again for each head compared) is waste. Features of up to ``most`` evenly spread frames per video
are stored as float16 (N, F) arrays; clips are then sampled from them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from vidact.data.cache import ArrayCache, CachedVideo
from vidact.data.datasets import read_spread_frames
from vidact.data.index import VideoItem
from vidact.data.transforms import InputSpec, eval_transform
from vidact.io.reader import VideoReadError
from vidact.models.backbones import FrameEncoder
from vidact.progress import progress

log = logging.getLogger(__name__)


def feature_cache_for(
    root: str | Path, encoder_name: str, weight_source: str, spec: InputSpec, most: int
) -> ArrayCache:
    """The cache namespace of one encoder and input setting."""
    settings = {
        "backbone": encoder_name,
        "weights": weight_source,
        "size": spec.size,
        "short_side": spec.short_side,
        "mean": list(spec.mean),
        "std": list(spec.std),
        "max_frames": most,
    }
    return ArrayCache(root, "features", settings)


class _SpreadFrames(Dataset):
    """Evaluation-transformed spread frames of each video, or (None, path) when unreadable."""

    def __init__(
        self, items: Sequence[VideoItem], spec: InputSpec, most: int, allow_images: bool
    ) -> None:
        self.items, self.spec, self.most = list(items), spec, most
        self.allow_images = allow_images
        self.transform = eval_transform(spec)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[tuple[int, float] | None, torch.Tensor | str]:
        """((video frames, fps), frames (N, 3, S, S)), or (None, path) when unreadable."""
        item = self.items[index]
        try:
            entry = read_spread_frames(
                item.path, self.most, self.spec.short_side, self.allow_images
            )
        except VideoReadError as err:
            log.warning("skipping %s", err)
            return None, str(item.path)
        return (entry.num_frames, entry.fps), self.transform(entry.array)


class FeatureExtractor:
    """A frozen encoder filling the feature cache: all videos up front (``extract``), or one
    whose entry went missing or was damaged during training (``rebuild``, in place)."""

    def __init__(
        self,
        encoder: FrameEncoder,
        cache: ArrayCache,
        spec: InputSpec,
        most: int,
        allow_images: bool = False,
        chunk: int = 64,
    ) -> None:
        self.encoder = encoder
        self.cache = cache
        self.spec = spec
        self.most = most
        self.allow_images = allow_images
        self.chunk = chunk

    @torch.inference_mode()
    def _store(
        self, item: VideoItem, facts: tuple[int, float], frames: torch.Tensor
    ) -> CachedVideo:
        """Encode (N, 3, S, S) frames in chunks and cache them as float16 (N, F)."""
        was_training = self.encoder.training
        self.encoder.eval()
        device = next(self.encoder.parameters(), torch.empty(0)).device
        parts = [self.encoder(p.to(device)).float().cpu() for p in frames.split(self.chunk)]
        self.encoder.train(was_training)
        entry = CachedVideo(
            torch.cat(parts).numpy().astype(np.float16), int(facts[0]), float(facts[1])
        )
        self.cache.save(item.path, entry)
        return entry

    def rebuild(self, item: VideoItem) -> CachedVideo:
        """Decode and encode one video now; raises VideoReadError when it cannot be decoded."""
        log.info("%s: rebuilding its cached features", item.path)
        dataset = _SpreadFrames([item], self.spec, self.most, self.allow_images)
        facts, frames = dataset[0]
        if facts is None:
            raise VideoReadError(item.path, "cannot be decoded to rebuild its cached features")
        return self._store(item, facts, frames)  # type: ignore[arg-type]

    def extract(
        self, items: Sequence[VideoItem], workers: int = 0, device: torch.device | str = "cpu"
    ) -> list[str]:
        """Encode the videos not yet cached; returns the paths of those that were unreadable."""
        todo = [item for item in items if not self.cache.contains(item.path)]
        if not todo:
            return []
        log.info("encoding the frames of %d video(s) (cached features are reused later)", len(todo))
        # a private generator: whether a cache was already full must not shift the seeded RNG
        loader = DataLoader(
            _SpreadFrames(todo, self.spec, self.most, self.allow_images),
            batch_size=None,
            num_workers=workers,
            generator=torch.Generator(),
        )
        self.encoder.to(device)
        failed = []
        for item, (facts, frames) in zip(todo, progress(loader, "encoding"), strict=True):
            if facts is None:
                failed.append(frames)
                continue
            self._store(item, facts, frames)
        return failed
