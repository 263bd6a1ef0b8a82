"""Loading whatever file a user points at: a checkpoint, an ensemble file or an ONNX export."""

from __future__ import annotations

from pathlib import Path

from vidact.inference.ensemble import EnsemblePredictor
from vidact.inference.events import resolve_reject
from vidact.inference.predictor import Predictor, VideoPredictor, resolve_device, runtime_of
from vidact.models.checkpoint import ENSEMBLE_KEY, read_checkpoint
from vidact.models.encoder_runtime import check_runtime


def load_predictor(
    path: str | Path,
    device: str | None = None,
    clips: int = 1,
    crops: int = 1,
    allow_images: bool = False,
    runtime: str | None = None,
    reject: str = "auto",
    encoder_runtime: str | None = None,
) -> VideoPredictor:
    """Load ``path`` once onto ``device`` (default: cuda when available, else cpu): a vidact
    checkpoint, an ensemble file from ``vidact ensemble --save`` (an ``EnsemblePredictor``),
    or with ``runtime`` onnx (automatic for ``.onnx``) a file from ``vidact export``.
    ``reject``: off, auto or P (``VideoPredictor.use_reject``); ``encoder_runtime``: auto,
    torch or onnx (``VideoPredictor.use_encoder_runtime``)."""
    target = resolve_device(device)
    resolve_reject(reject, None)  # bad values are refused before the model loads
    check_runtime(encoder_runtime)
    predictor: VideoPredictor
    if runtime_of(path, runtime) == "onnx":
        predictor = Predictor.from_onnx(path, target, clips, crops, allow_images)
    else:
        raw = read_checkpoint(path, target)
        if ENSEMBLE_KEY in raw:
            predictor = EnsemblePredictor.from_contents(
                raw[ENSEMBLE_KEY], path, target, clips, crops, allow_images, encoder_runtime
            )
        else:
            predictor = Predictor.from_contents(
                raw, path, target, clips, crops, allow_images, encoder_runtime
            )
    predictor.use_reject(reject)
    return predictor
