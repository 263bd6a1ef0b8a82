"""Where a frozen frame encoder runs: PyTorch, or onnxruntime on an exported copy kept on disk.

onnxruntime runs EfficientNet-Lite0 faster than PyTorch on a CPU with the same features (within
1e-4; ``python benchmarks/encode.py`` measures both), and frame encoding is nearly all the time
of the frozen path. Only a frozen encoder switches (a fine-tuned one must run in PyTorch to
learn), and only on the CPU. The exported file is named by a digest of the encoder's name,
pooling, input size, weights and the exporter's version, so changed weights never reuse a stale
file; it is sealed with a SHA-256 of its bytes, and a damaged one is exported again. An int8 copy
(``quantise_encoder``) is calibrated on a run's training frames and travels in its checkpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vidact.config import ENCODER_RUNTIMES, ModelConfig, default_cache_dir
from vidact.errors import CheckpointError, ConfigError
from vidact.io.outputs import replacing
from vidact.models.backbones import FrameEncoder, frame_span
from vidact.models.classifier import ClipClassifier, frozen_throughout, uses_pretrained
from vidact.models.onnx_files import (
    OPSET,
    export_graph,
    open_session,
    require,
    sealed,
    verified_bytes,
)

log = logging.getLogger(__name__)


class OnnxFrames:
    """A frozen FrameEncoder's forward, (N, 3, S, S) -> (N, F), run by onnxruntime from the
    exported file at ``path``. Pickles as its path (a process it is sent to opens its own)."""

    def __init__(self, path: Path, data: bytes | None = None) -> None:
        """``data``: the file's bytes, already verified (else read and checked here)."""
        self.path = path
        self.session = open_session(path, torch.device("cpu"), torch.get_num_threads(), data)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(images.detach().cpu().numpy(), dtype=np.float32)
        (features,) = self.session.run(None, {"frames": array})
        return torch.from_numpy(features).to(images.device)

    def __getstate__(self) -> dict[str, Path]:
        return {"path": self.path}

    def __setstate__(self, state: dict[str, Path]) -> None:
        self.__init__(state["path"])  # type: ignore[misc]


def check_runtime(runtime: str | None) -> str:
    """``runtime`` if it is one of ENCODER_RUNTIMES (None: auto), else a ConfigError."""
    runtime = runtime or "auto"
    if runtime not in ENCODER_RUNTIMES:
        choices = ", ".join(ENCODER_RUNTIMES)
        raise ConfigError(f"--encoder-runtime must be one of {choices}, got {runtime!r}")
    return runtime


def use_encoder_runtime(
    model: ClipClassifier,
    runtime: str | None,
    size: int,
    device: torch.device | str = "cpu",
) -> str:
    """Run the frame encoders inside ``model``'s encoder (a backbone, or the members of a
    motion or fused encoder) in ``runtime`` at ``size`` px. Auto exports only a frozen encoder
    with trained weights (offline ImageNet weights or a user's file). The files go to
    ~/.cache/vidact/encoders, shared like downloaded weights. Returns the runtime now in use
    ("torch" or "onnx")."""
    runtime = check_runtime(runtime)
    device = torch.device(device)
    parts = frame_parts(model)
    if model.config.encoder_precision == "int8":
        return _use_int8(parts, runtime)
    for part in parts:
        part.runtime = None
    if runtime == "torch" or not parts:
        return "torch"
    why_not = _why_torch(model, device)
    if why_not is None and runtime == "auto" and not _trained(model.config):
        return "torch"  # random frozen features: a test or a toy, not worth an export
    if why_not is not None:
        if runtime == "onnx":
            raise ConfigError(f"--encoder-runtime onnx: {why_not}; use torch or auto")
        return "torch"
    folder = default_cache_dir() / "encoders"
    try:
        opened: dict[Path, OnnxFrames] = {}  # members with the same weights share one session
        sessions = []
        for part in parts:
            path, data = _exported(part, size, folder)
            if path not in opened:
                opened[path] = OnnxFrames(path, data)
            sessions.append(opened[path])
    except Exception as err:  # an exporter failure is as varied as the models it meets
        if runtime == "onnx":
            raise ConfigError(f"--encoder-runtime onnx: cannot export the encoder ({err})") from err
        log.warning("frame encoder stays in PyTorch: exporting it failed (%s)", err)
        return "torch"
    for part, session in zip(parts, sessions, strict=True):
        part.runtime = session
    return "onnx"


def frame_parts(model: ClipClassifier) -> list[FrameEncoder]:
    """The CNN frame encoders inside ``model``'s encoder, in order (a motion or fused encoder
    holds one per CNN member; pose holds none)."""
    return [m for m in model.encoder.modules() if isinstance(m, FrameEncoder)]


def int8_names(module: nn.Module) -> list[str]:
    """The int8 copies of the frame encoders inside ``module``, each named by the digest of its
    bytes (each run calibrates its own): part of a feature cache's key."""
    return [
        part.quantised.path.stem  # type: ignore[union-attr]
        for part in module.modules()
        if isinstance(part, FrameEncoder) and part.quantised is not None
    ]


def runtime_in_use(model: ClipClassifier) -> str:
    """Where ``model``'s frame encoders run now: onnx (or onnx-int8) when in onnxruntime."""
    parts = frame_parts(model)
    if any(part.quantised is not None for part in parts):
        return "onnx-int8"
    return "onnx" if any(part.runtime is not None for part in parts) else "torch"


def _use_int8(parts: list[FrameEncoder], runtime: str) -> str:
    if runtime == "torch":
        raise ConfigError(
            "this model's frame encoder is quantised to int8, which runs in onnxruntime only; "
            "use --encoder-runtime auto or onnx"
        )
    for part in parts:
        if part.quantised is None:
            raise ConfigError("an int8 model without its quantised encoder (quantise_encoder)")
        part.runtime = part.quantised
    return "onnx-int8"


def quantise_encoder(
    model: ClipClassifier, size: int, frames: torch.Tensor, batch: int = 8
) -> dict[str, bytes]:
    """int8 copies (ONNX, sealed) of ``model``'s CNN frame encoders at ``size`` px: onnxruntime
    static quantisation (QDQ, int8 weights per channel, uint8 activations) calibrated on what
    each encoder sees of ``frames`` (the encoder's input: frames, or pairs for motion)."""
    require("onnx")
    require("onnxruntime")
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    parts = frame_parts(model)
    if not parts:
        raise ConfigError("--encoder-precision int8 quantises a CNN frame encoder; pose has none")
    seen: dict[int, list[np.ndarray]] = {i: [] for i in range(len(parts))}
    hooks = [
        part.register_forward_pre_hook(
            lambda _, args, i=i: seen[i].append(args[0].detach().float().cpu().numpy())
        )
        for i, part in enumerate(parts)
    ]
    was_training = model.encoder.training
    model.encoder.eval()  # batch norm must read its statistics, not update them
    try:
        with torch.inference_mode():
            span = frame_span(model.encoder.name)  # a motion encoder's frames stay whole
            for start in range(0, len(frames), span * batch):
                model.encoder(frames[start : start + span * batch])
    finally:
        model.encoder.train(was_training)
        for hook in hooks:
            hook.remove()

    class _Calibration(CalibrationDataReader):
        def __init__(self, arrays: list[np.ndarray]) -> None:
            self.arrays = iter(arrays)

        def get_next(self) -> dict[str, np.ndarray] | None:
            array = next(self.arrays, None)
            return None if array is None else {"frames": array}

    import onnx

    folder = default_cache_dir() / "encoders"
    quantised = {}
    for index, part in enumerate(parts):
        log.info("quantising the frame encoder %s to int8 (%d calibration frames)", part.name,
                 sum(len(a) for a in seen[index]))  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            prepared, result = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
            quant_pre_process(str(_exported(part, size, folder)[0]), str(prepared),
                              skip_symbolic_shape=True)  # fmt: skip
            quantize_static(
                str(prepared), str(result), _Calibration(seen[index]),
                quant_format=QuantFormat.QDQ, per_channel=True,
                weight_type=QuantType.QInt8, activation_type=QuantType.QUInt8,
            )  # fmt: skip
            proto = onnx.load(str(result))
        del proto.metadata_props[:]  # the fp32 file's seal no longer holds
        quantised[str(index)] = sealed(proto, {"vidact_encoder": part.name, "precision": "int8"})
    return quantised


def install_int8(model: ClipClassifier, quantised: dict[str, bytes]) -> None:
    """Run ``model``'s CNN frame encoders as the int8 copies ``quantise_encoder`` made (kept
    in ~/.cache/vidact/encoders under the digest of their bytes, which are checked)."""
    parts = frame_parts(model)
    if sorted(quantised) != [str(i) for i in range(len(parts))]:
        raise CheckpointError(
            f"the int8 encoders ({len(quantised)}) do not match the model's ({len(parts)})"
        )
    folder = default_cache_dir() / "encoders"
    for index, part in enumerate(parts):
        data = quantised[str(index)]
        path = folder / f"{part.name}-int8-{hashlib.sha256(data).hexdigest()[:16]}.onnx"
        if path.is_file():
            try:  # opening verifies the seal: a damaged file is written again below
                part.quantised = part.runtime = OnnxFrames(path)
                continue
            except CheckpointError as err:
                log.warning("%s; writing it again from the checkpoint", err)
        with replacing(path) as partial:
            partial.write_bytes(data)
        part.quantised = part.runtime = OnnxFrames(path)


def _trained(config: ModelConfig) -> bool:
    return uses_pretrained(config) or config.weights is not None


def _why_torch(model: ClipClassifier, device: torch.device) -> str | None:
    if not frozen_throughout(model.config) or not model.fully_frozen:
        return "the backbone is trained (fine-tuned), so it runs in PyTorch"
    if device.type != "cpu":
        return f"the encoder runs on {device.type}, where PyTorch is used"
    try:
        for name in ("onnx", "onnxscript", "onnxruntime"):
            require(name)
    except ConfigError as err:
        return str(err)
    return None


def weights_digest(module: nn.Module, *context: object) -> str:
    """SHA-256 of ``module``'s state (names and bytes) and ``context``: what names a copy of it."""
    digest = hashlib.sha256(json.dumps([str(c) for c in context]).encode())
    for key, tensor in module.state_dict().items():
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _exported(part: FrameEncoder, size: int, folder: Path) -> tuple[Path, bytes]:
    """The file holding ``part`` at ``size`` px and its verified bytes, exported now unless a
    sound one exists."""
    digest = weights_digest(part, part.name, part.pool, size, torch.__version__, OPSET)
    path = folder / f"{part.name}-{size}px-{digest[:16]}.onnx"
    if path.is_file():
        try:
            return path, verified_bytes(path)
        except CheckpointError as err:
            log.warning("%s; exporting it again", err)
    log.info("exporting the frame encoder %s at %d px to %s (once)", part.name, size, path)
    example = torch.zeros(2, 3, size, size)
    data = export_graph(
        _Frames(part), example, "frames", ["features"], {"vidact_encoder": part.name}
    )
    with replacing(path) as partial:
        partial.write_bytes(data)
    return path, data


class _Frames(nn.Module):
    """The encoder's PyTorch forward, whatever runtime it is set to (what is exported)."""

    def __init__(self, part: FrameEncoder) -> None:
        super().__init__()
        self.part = part

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.part.torch_forward(images)
