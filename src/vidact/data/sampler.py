"""The order of training videos, and the key each item's random draws come from.

A resumed run must see exactly the batches and augmentations the uninterrupted run would have
seen. Nothing stateful can promise that (the global RNG, persistent workers' own RNGs, DDP's
sampler all depend on when the process started), so the order of epoch ``e`` is a pure function
of (seed, e), and every item is fetched under the key ``(e, index)`` from which the dataset draws
its frames and augmentation. Lightning calls ``set_epoch`` before each epoch, also after resuming.
Under DDP each process takes every ``world``-th video of the shared order (padded to equal
lengths, as torch's DistributedSampler does).
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Sampler

ItemKey = tuple[int, int]  # (epoch, index)


def derived_seed(*keys: int) -> int:
    """A 63-bit seed from non-negative keys, e.g. (seed, epoch) or (seed, epoch, index)."""
    return int(np.random.SeedSequence(list(keys)).generate_state(1, np.uint64)[0] >> 1)


def _world() -> tuple[int, int]:
    """(rank, processes) of the current DDP group, (0, 1) without one."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class EpochSampler(Sampler[ItemKey]):
    """Yields ``(epoch, index)`` keys: shuffled per epoch from (seed, epoch), or in order."""

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True) -> None:
        self.size = size
        self.seed = seed
        self.shuffle = shuffle
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return math.ceil(self.size / _world()[1])

    def __iter__(self) -> Iterator[ItemKey]:
        if self.shuffle:
            generator = torch.Generator().manual_seed(derived_seed(self.seed, self.epoch))
            order = torch.randperm(self.size, generator=generator).tolist()
        else:
            order = list(range(self.size))
        rank, world = _world()
        if world > 1 and order:
            order += order[: len(self) * world - len(order)]  # equal shares for every process
            order = order[rank::world]
        return iter([(self.epoch, index) for index in order])
