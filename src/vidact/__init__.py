"""vidact: human activity recognition in video with a per-frame CNN and a temporal model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from vidact.version import __version__

if TYPE_CHECKING:  # the model stack is imported only when a model is loaded
    from vidact.inference.predictor import VideoPredictor

__all__ = ["__version__", "load"]


def load(
    checkpoint: str,
    device: str | None = None,
    clips: int = 1,
    crops: int = 1,
    allow_images: bool = False,
    runtime: str | None = None,
    reject: str = "auto",
    encoder_runtime: str | None = None,
) -> VideoPredictor:
    """A model from a checkpoint, loaded once: ``model.predict("v.mp4")`` gives the contract-4
    dict (top-k and timeline), ``model.timeline("long.mp4", TimelineSettings("2s", "1s"))`` the
    segments of a long video, ``model.annotate("v.mp4", "out.mp4")`` the annotated video. A
    ``.onnx`` file from ``vidact export`` runs in onnxruntime; an ensemble file from ``vidact
    ensemble --save`` answers with its members' fusion. ``reject`` (off, auto or P): below
    which top probability the answer is ``unknown`` (auto: the threshold calibrated in
    training). ``encoder_runtime`` (auto, torch or onnx): where a frozen frame encoder runs
    (auto: onnxruntime when the `onnx` extra is installed, on a CPU)."""
    from vidact.inference.load import load_predictor

    return load_predictor(
        checkpoint, device, clips, crops, allow_images, runtime, reject, encoder_runtime
    )
