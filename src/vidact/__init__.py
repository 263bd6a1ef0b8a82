"""vidact: human activity recognition in video with a per-frame CNN and a temporal model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vidact.version import __version__

if TYPE_CHECKING:  # the model stack is imported only when a model is loaded
    from vidact.inference.load import load_predictor as load

__all__ = ["__version__", "load"]


def __getattr__(name: str) -> Any:
    """``vidact.load`` is ``inference.load.load_predictor``, imported on first use so that
    ``import vidact`` stays light."""
    if name == "load":
        from vidact.inference.load import load_predictor

        return load_predictor
    raise AttributeError(f"module 'vidact' has no attribute {name!r}")
