"""vidact: human activity recognition in video with a per-frame CNN and a temporal model."""

from __future__ import annotations

import gc
import os
from typing import TYPE_CHECKING, Any

from vidact.version import __version__

if TYPE_CHECKING:  # the model stack is imported only when a model is loaded
    from vidact.inference.load import load_predictor as load

__all__ = ["__version__", "load"]

# A forked process (a data loader's worker) leaves what it inherited to its parent: collected in
# the child, the parent's garbage ran its finalisers there, and an onnxruntime session's waits on
# threads that a fork does not copy (a two-recipe crossval hung in a worker's garbage collection)
os.register_at_fork(after_in_child=gc.freeze)


def __getattr__(name: str) -> Any:
    """``vidact.load`` is ``inference.load.load_predictor``, imported on first use so that
    ``import vidact`` stays light."""
    if name == "load":
        from vidact.inference.load import load_predictor

        return load_predictor
    raise AttributeError(f"module 'vidact' has no attribute {name!r}")
