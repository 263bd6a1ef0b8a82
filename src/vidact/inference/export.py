"""ONNX: export a checkpoint's whole network; run an exported file in place of the PyTorch model.

The exported graph maps ``clips`` float32 (batch, T, 3, S, S) to ``logits`` and ``probabilities``
(batch, K), with a dynamic batch; T and S come from the checkpoint. The file's metadata holds the
class names, the frame sampling, and the input's preparation in words and in numbers (resize, crop,
mean and std), plus the checkpoint's full vidact description, so ``vidact predict model.onnx``
needs nothing else. onnxruntime runs it (``pip install -e '.[onnx]'``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidact.errors import CheckpointError, ConfigError
from vidact.io.outputs import check_output, replacing
from vidact.models.checkpoint import CheckpointInfo, load_classifier

METADATA_KEY = "vidact"
CHECKSUM_KEY = "vidact_sha256"
OPSET = 18
_BLANK = b"0" * 64
# the checksum entry as protobuf writes it: key string, then the value's tag and length (64)
_CHECKSUM_FIELD = b"\n" + bytes([len(CHECKSUM_KEY)]) + CHECKSUM_KEY.encode() + b"\x12\x40"
_MISSING = (
    "ONNX needs the optional packages: pip install -e '.[onnx]' (onnx, onnxruntime, onnxscript)"
)


class _Probabilities(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.model(clips)
        return logits, logits.softmax(dim=-1)


def describe_input(info: CheckpointInfo) -> str:
    spec, sampling = info.input, info.sampling
    fit = (
        f"resize the short side to {spec.short_side} px and centre-crop {spec.size}x{spec.size}"
        if spec.fit == "crop"
        else f"resize the long side to {spec.size} px and pad to {spec.size}x{spec.size} with black"
    )
    frames = f"{sampling.frames} RGB frames sampled {sampling.strategy} over the video"
    if sampling.pairs:
        frames += ", each followed by the video's next frame (the last by itself)"
    return (
        f"clips: float32 (batch, {sampling.frames_read}, 3, {spec.size}, {spec.size}); "
        f"{frames}; each frame: {fit}, scale to [0, 1], subtract mean {list(spec.mean)}, "
        f"divide by std {list(spec.std)}"
    )


def export_onnx(checkpoint: str | Path, out: str | Path, overwrite: bool = False) -> CheckpointInfo:
    """Write the checkpoint's network as ONNX to ``out`` (written whole or not at all, with a
    SHA-256 of its bytes in its metadata); return the checkpoint's description."""
    _require("onnx")
    _require("onnxscript")
    out = check_output(out, [checkpoint], overwrite, "--out", suffixes=(".onnx",))
    model, info = load_classifier(checkpoint, "cpu")
    if "pose" in info.model.backbone.split("+"):
        raise ConfigError(
            f"{checkpoint}: its frame encoder includes MediaPipe pose, which is not a PyTorch "
            "network and cannot be exported; predict with the checkpoint itself"
        )
    size = info.input.size
    example = torch.zeros(2, info.sampling.frames_read, 3, size, size)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with _quiet():
        program = torch.onnx.export(
            _Probabilities(model).eval(),
            (example,),
            input_names=["clips"],
            output_names=["logits", "probabilities"],
            dynamic_shapes=({0: batch},),
            opset_version=OPSET,
            dynamo=True,
        )
    proto = program.model_proto
    metadata = {
        METADATA_KEY: json.dumps(info.to_dict()),
        "classes": json.dumps(list(info.classes)),
        "input": describe_input(info),
        "outputs": "logits and probabilities (softmax), float32 (batch, classes)",
        CHECKSUM_KEY: _BLANK.decode(),  # last: filled in with the digest of the whole file
    }
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    data = proto.SerializeToString()
    digest = hashlib.sha256(data).hexdigest().encode()
    with replacing(out) as partial:
        partial.write_bytes(data.replace(_CHECKSUM_FIELD + _BLANK, _CHECKSUM_FIELD + digest, 1))
    return info


def verified_bytes(path: Path) -> bytes:
    """The bytes of an exported file whose SHA-256 (taken with its own checksum blanked)
    matches the one it carries: a changed byte anywhere is refused, not run."""
    data = path.read_bytes()
    at = data.find(_CHECKSUM_FIELD)
    if at < 0:
        raise CheckpointError(
            f"{path}: carries no vidact checksum (not exported by vidact, or by an older "
            "version: export it again)"
        )
    start = at + len(_CHECKSUM_FIELD)
    stored = data[start : start + len(_BLANK)]
    blanked = data[:start] + _BLANK + data[start + len(_BLANK) :]
    if hashlib.sha256(blanked).hexdigest().encode() != stored:
        raise CheckpointError(
            f"{path}: its bytes do not match the checksum it carries (damaged or altered); "
            "export it again"
        )
    return data


class OnnxClassifier:
    """An exported model behind the same calls the Predictor makes of a ``ClipClassifier``.

    For timelines, the per-frame "features" are the prepared frames themselves and each window
    runs the whole graph on its clip (the graph cannot start half-way)."""

    def __init__(self, path: str | Path, device: torch.device) -> None:
        ort = _require("onnxruntime")
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: ONNX model not found")
        providers = ["CPUExecutionProvider"]
        if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        options = ort.SessionOptions()
        options.log_severity_level = 3
        data = verified_bytes(path)
        try:
            self.session = ort.InferenceSession(data, options, providers=providers)
        except Exception as err:  # onnxruntime's errors are untyped
            raise CheckpointError(
                f"{path}: not an ONNX model onnxruntime can load ({str(err).splitlines()[0]}); "
                "vidact export makes one"
            ) from None
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if raw is None:
            raise CheckpointError(f"{path}: not exported by vidact (no {METADATA_KEY!r} metadata)")
        self.info = CheckpointInfo.from_dict(json.loads(raw))

    def eval(self) -> OnnxClassifier:
        return self

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, S, S) -> (B, K) logits."""
        array = np.ascontiguousarray(clips.detach().cpu().numpy(), dtype=np.float32)
        logits, _ = self.session.run(None, {"clips": array})
        return torch.from_numpy(logits)

    def encoder(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.flatten(1)  # (N, 3, S, S) -> (N, 3*S*S)

    def classify_features(self, features: torch.Tensor) -> torch.Tensor:
        size = self.info.input.size
        return self(features.view(*features.shape[:2], 3, size, size))


def _require(name: str) -> Any:
    try:
        return __import__(name)
    except ImportError:
        raise ConfigError(_MISSING) from None


@contextlib.contextmanager
def _quiet() -> Any:
    """The exporter prints and logs its steps and warns about internals a user can do nothing
    about; its errors still raise."""
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)
