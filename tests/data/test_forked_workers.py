"""Forked loader workers never finalise what they inherited from the parent."""

from __future__ import annotations

import gc
import os
from pathlib import Path

from torch.utils.data import DataLoader, Dataset

import vidact  # noqa: F401  (the package sets what a forked child does)


class _Finalised:
    """Garbage only the cycle collector frees; its finaliser notes the process it ran in."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.me = self

    def __del__(self) -> None:
        with self.log.open("a") as out:
            out.write(f"{os.getpid()}\n")


class _Collects(Dataset):
    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: int) -> int:
        gc.collect()
        return os.getpid()


def test_a_forked_worker_leaves_the_parents_garbage_to_the_parent(tmp_path: Path) -> None:
    """An onnxruntime session collected in a worker waited forever on threads that the fork
    did not copy (a frozen encoder's session, garbage of an earlier fold): crossval hung."""
    log = tmp_path / "finalised"
    gc.collect()
    gc.disable()  # the garbage is still there when the worker starts
    try:
        _Finalised(log)
        loader = DataLoader(
            _Collects(), batch_size=None, num_workers=1, multiprocessing_context="fork"
        )
        worker = next(iter(loader))
    finally:
        gc.enable()
    gc.collect()
    assert worker != os.getpid()
    assert log.read_text().split() == [str(os.getpid())]  # finalised once, in the parent
