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
    """A model loaded once onto ``device`` (default: cuda when available, else cpu), what
    ``vidact.load`` is: ``model.predict("v.mp4")`` gives the contract-4 dict (top-k and
    timeline), ``model.timeline("long.mp4", TimelineSettings("2s", "1s"))`` the segments of a
    long video, ``model.annotate("v.mp4", "out.mp4")`` the annotated video. ``path``: a vidact
    checkpoint, an ensemble file from ``vidact ensemble --save`` (an ``EnsemblePredictor``,
    answering with its members' fusion), or with ``runtime`` onnx (automatic for ``.onnx``) a
    file from ``vidact export``, run in onnxruntime. ``reject`` (off, auto or P): when the
    answer is ``unknown`` (auto: beyond the open-set distance calibrated in training, when the
    model has one, else never; P: a top probability below P).
    ``encoder_runtime`` (auto, torch or onnx): where a frozen frame encoder runs (auto:
    onnxruntime when the `onnx` extra is installed, on a CPU)."""
    target = resolve_device(device)
    resolve_reject(reject)  # bad values are refused before the model loads
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
