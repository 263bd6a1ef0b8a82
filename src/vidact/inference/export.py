"""ONNX: export a checkpoint's whole network; run an exported file in place of the PyTorch model.

The exported graph maps ``clips`` float32 (batch, T, 3, S, S) to ``logits`` and ``probabilities``
(batch, K), and for a model with an open-set distance (``models.open_set``) to ``distance``
(batch,), with a dynamic batch; T and S come from the checkpoint. The file's metadata holds the
class names, the frame sampling, and the input's preparation in words and in numbers (resize, crop,
mean and std), plus the checkpoint's full vidact description, so ``vidact predict model.onnx``
needs nothing else. onnxruntime runs it (``pip install -e '.[onnx]'``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidact.data.bodies import STEADY
from vidact.data.transforms import PersonSquare
from vidact.errors import CheckpointError, ConfigError
from vidact.io.outputs import check_output, replacing
from vidact.models.backbones import encoder_traits
from vidact.models.checkpoint import CheckpointInfo, load_classifier
from vidact.models.classifier import ClipClassifier
from vidact.models.onnx_files import export_graph, open_session
from vidact.sampling import READINGS

METADATA_KEY = "vidact"
THRESHOLD_KEY = "open_set_threshold"  # metadata: the distance beyond which a clip is unknown


class _Outputs(nn.Module):
    def __init__(self, model: ClipClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, clips: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if self.model.open_set is None:
            logits = self.model(clips)
            return logits, logits.softmax(dim=-1)
        logits, distances = self.model.classify_with_distance(self.model.encode(clips))
        return logits, logits.softmax(dim=-1), distances


def describe_input(info: CheckpointInfo) -> str:
    spec, sampling = info.input, info.sampling
    fit = {
        "crop": f"resize the short side to {spec.short_side} px and centre-crop {spec.size}x"
        f"{spec.size}",
        "pad": f"resize the long side to {spec.size} px and pad to {spec.size}x{spec.size} with "
        "black",
        "person": f"the square of {PersonSquare.TORSOS:g} torso lengths centred on the person "
        f"MediaPipe Pose finds in the clip (median over {PersonSquare.LOOKS} of its frames; black "
        f"beyond the frame), resized to {spec.size}x{spec.size}; instead the whole frame, its "
        f"long side resized and padded with black, unless a torso is seen in {STEADY:.0%} of "
        "those frames (vidact.data.transforms.PersonSquare)",
    }[spec.fit]
    frames = f"{sampling.frames} RGB frames sampled {sampling.strategy} over the video"
    if sampling.pairs:
        frames += f", read {READINGS[sampling.span]} (the video's last frame by itself)"
    return (
        f"clips: float32 (batch, {sampling.frames_read}, 3, {spec.size}, {spec.size}); "
        f"{frames}; each frame: {fit}, scale to [0, 1], subtract mean {list(spec.mean)}, "
        f"divide by std {list(spec.std)}"
    )


def export_onnx(checkpoint: str | Path, out: str | Path, overwrite: bool = False) -> CheckpointInfo:
    """Write the checkpoint's network as ONNX to ``out`` (written whole or not at all, with a
    SHA-256 of its bytes in its metadata); return the checkpoint's description."""
    out = check_output(out, [checkpoint], overwrite, "--out", suffixes=(".onnx",))
    model, info = load_classifier(checkpoint, "cpu")
    if info.model.encoder_precision == "int8":
        raise ConfigError(
            f"{checkpoint}: its frame encoder is quantised to int8, which the exported graph "
            "(PyTorch's, float) would not be; predict, watch and serve take the checkpoint itself"
        )
    fixed = [n for n, t in encoder_traits(info.model.backbone).items() if not t.exportable]
    if fixed:
        raise ConfigError(
            f"{checkpoint}: its frame encoder includes {fixed[0]}, which is not a PyTorch "
            "network and cannot be exported; predict with the checkpoint itself"
        )
    size = info.input.size
    example = torch.zeros(2, info.sampling.frames_read, 3, size, size)
    metadata = {
        METADATA_KEY: json.dumps(info.to_dict()),
        "classes": json.dumps(list(info.classes)),
        "input": describe_input(info),
        "outputs": "logits and probabilities (softmax), float32 (batch, classes)",
    }
    outputs = ["logits", "probabilities"]
    if model.open_set_threshold is not None:
        outputs.append("distance")
        metadata[THRESHOLD_KEY] = repr(model.open_set_threshold)
        metadata["outputs"] += (
            "; distance, float32 (batch,): the clip's squared Mahalanobis distance to the nearest "
            f"class in the model's clip embedding, none of the classes beyond {THRESHOLD_KEY}"
        )
    data = export_graph(_Outputs(model), example, "clips", outputs, metadata)
    with replacing(out) as partial:
        partial.write_bytes(data)
    return info


class OnnxClassifier:
    """An exported model behind the same calls the Predictor makes of a ``ClipClassifier``.

    For timelines, the per-frame "features" are the prepared frames themselves and each window
    runs the whole graph on its clip (the graph cannot start half-way)."""

    def __init__(self, path: str | Path, device: torch.device) -> None:
        path = Path(path)
        if not path.is_file():
            raise CheckpointError(f"{path}: ONNX model not found")
        self.session = open_session(path, device)
        raw = self.session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
        if raw is None:
            raise CheckpointError(f"{path}: not exported by vidact (no {METADATA_KEY!r} metadata)")
        self.info = CheckpointInfo.from_dict(json.loads(raw))
        threshold = self.session.get_modelmeta().custom_metadata_map.get(THRESHOLD_KEY)
        self.open_set_threshold = None if threshold is None else float(threshold)

    def eval(self) -> OnnxClassifier:
        return self

    def _run(self, clips: torch.Tensor) -> list[np.ndarray]:
        array = np.ascontiguousarray(clips.detach().cpu().numpy(), dtype=np.float32)
        return self.session.run(None, {"clips": array})

    def __call__(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, S, S) -> (B, K) logits."""
        return torch.from_numpy(self._run(clips)[0])

    def encoder(self, frames: torch.Tensor) -> torch.Tensor:
        return frames.flatten(1)  # (N, 3, S, S) -> (N, 3*S*S)

    def encode(self, clips: torch.Tensor) -> torch.Tensor:
        return clips.flatten(2)  # (B, T, 3, S, S) -> (B, T, 3*S*S)

    def _clips(self, features: torch.Tensor) -> torch.Tensor:
        size = self.info.input.size
        return features.view(*features.shape[:2], 3, size, size)

    def classify_features(self, features: torch.Tensor) -> torch.Tensor:
        return self(self._clips(features))

    def classify_with_distance(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """As ``ClipClassifier.classify_with_distance``, from the graph's distance output."""
        if self.open_set_threshold is None:
            raise ValueError("this export has no open-set distance")
        logits, _, distances = self._run(self._clips(features))
        return torch.from_numpy(logits), torch.from_numpy(distances)
