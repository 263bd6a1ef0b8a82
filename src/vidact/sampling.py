"""Frame-index sampling strategies: pure functions of (num_frames, clip_len, train, rng).

The sampler knows nothing of files; the reader knows nothing of sampling. Every strategy returns a
non-decreasing int64 array of ``clip_len`` indices in ``[0, num_frames)``; a video shorter than the
clip repeats frames rather than failing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

SamplerFn = Callable[[int, int, bool, np.random.Generator], np.ndarray]
_SAMPLERS: dict[str, SamplerFn] = {}


def register_sampler(name: str) -> Callable[[SamplerFn], SamplerFn]:
    def decorator(fn: SamplerFn) -> SamplerFn:
        _SAMPLERS[name] = fn
        return fn

    return decorator


def list_samplers() -> list[str]:
    return sorted(_SAMPLERS)


@register_sampler("segment")
def segment_indices(
    num_frames: int, clip_len: int, train: bool, rng: np.random.Generator
) -> np.ndarray:
    """TSN segment sampling (Wang et al., 2016), used by seeds 002 and 004 and most 2D-CNN+RNN work.

    The video is cut into ``clip_len`` equal segments; training takes one random frame from each
    segment (a fresh draw every epoch), evaluation the middle frame of each.
    """
    starts = np.arange(clip_len) * num_frames / clip_len  # segment i covers [starts[i], +width)
    width = num_frames / clip_len
    offsets = rng.random(clip_len) * width if train else np.full(clip_len, width / 2)
    return np.minimum(np.floor(starts + offsets), num_frames - 1).astype(np.int64)


def sample_indices(
    num_frames: int,
    clip_len: int,
    strategy: str = "segment",
    train: bool = False,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Pick ``clip_len`` frame indices of a ``num_frames`` video with the named strategy."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    if clip_len < 1:
        raise ValueError(f"clip_len must be at least 1, got {clip_len}")
    try:
        sampler = _SAMPLERS[strategy]
    except KeyError:
        raise ValueError(
            f"unknown sampling strategy {strategy!r}; known: {', '.join(list_samplers())}"
        ) from None
    if train and rng is None:
        raise ValueError("training sampling is random: pass an rng (np.random.default_rng(seed))")
    return sampler(num_frames, clip_len, train, rng or np.random.default_rng(0))
