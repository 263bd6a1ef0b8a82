"""The frozen-backbone fast path: encode every video's frames once, train heads on the cache.

With a frozen backbone the frame features never change, so computing them again each epoch (and
again for each head compared) is waste. Features of up to ``max_frames`` evenly spread frames per
video are stored as float16 (N, F) arrays; clips are then sampled from them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from vidact.data.cache import FeatureCache
from vidact.data.datasets import ClipDataset
from vidact.data.index import VideoItem
from vidact.data.transforms import InputSpec, eval_transform
from vidact.models.backbones import FrameEncoder

log = logging.getLogger(__name__)


def feature_cache_for(
    root: str | Path, encoder_name: str, weight_source: str, spec: InputSpec, max_frames: int
) -> FeatureCache:
    """The cache namespace of one encoder and input setting."""
    return FeatureCache(
        root,
        {
            "kind": "frame-features",
            "backbone": encoder_name,
            "weights": weight_source,
            "size": spec.size,
            "short_side": spec.short_side,
            "mean": list(spec.mean),
            "std": list(spec.std),
            "max_frames": max_frames,
        },
    )


@torch.inference_mode()
def extract_features(
    encoder: FrameEncoder,
    items: Sequence[VideoItem],
    cache: FeatureCache,
    spec: InputSpec,
    max_frames: int,
    workers: int = 0,
    chunk: int = 64,
    device: torch.device | str = "cpu",
) -> int:
    """Encode the videos not yet in ``cache``; returns how many were encoded."""
    todo = [item for item in items if not cache.contains(item.path)]
    if not todo:
        return 0
    log.info("encoding the frames of %d video(s) (cached features are reused later)", len(todo))
    dataset = ClipDataset(
        todo, max_frames, eval_transform(spec), spec.short_side, "segment", shorter_clips=True
    )
    loader = DataLoader(dataset, batch_size=None, num_workers=workers)
    was_training = encoder.training
    encoder.eval().to(device)
    for item, (frames, _) in zip(todo, loader, strict=True):
        parts = [encoder(part.to(device)).float().cpu() for part in frames.split(chunk)]
        cache.save(item.path, torch.cat(parts).numpy().astype(np.float16))  # (N, F)
    encoder.train(was_training)
    return len(todo)
