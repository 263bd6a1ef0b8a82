"""The self-describing checkpoint (ARCHITECTURE.md, contract 1).

Lightning writes the file; ``vidact`` metadata inside it holds everything needed to rebuild and use
the model: class names in label order, model settings, where the backbone's weights came from,
the clip sampling (frames per clip, strategy, interval), input size and normalisation, and the
vidact version.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from vidact.config import ModelConfig, from_mapping
from vidact.data.transforms import InputSpec
from vidact.errors import CheckpointError, VidactError
from vidact.models.classifier import ClipClassifier
from vidact.models.encoder_runtime import install_int8
from vidact.models.heads import resolve_model
from vidact.models.open_set import OPEN_SET_KEY, OpenSet
from vidact.sampling import ClipSampling
from vidact.version import __version__

METADATA_KEY = "vidact"
INT8_KEY = "vidact_int8_encoders"  # ONNX bytes of an int8 model's quantised frame encoders
ENSEMBLE_KEY = "vidact_ensemble"  # a file holding several checkpoints and how to fuse them
# what loading a model reads (the rest of a checkpoint is training state): an ensemble file keeps
# these of each member, so a member rejects and encodes as its own checkpoint does
MODEL_KEYS = (METADATA_KEY, "state_dict", OPEN_SET_KEY, INT8_KEY)


@dataclass(frozen=True)
class CheckpointInfo:
    classes: tuple[str, ...]
    model: ModelConfig
    weight_source: str
    sampling: ClipSampling
    input: InputSpec
    version: str = __version__
    jumps: float | None = None  # share of training videos with a jump as at a cut (io.shots)

    def __post_init__(self) -> None:
        # a checkpoint says what the model was: every default made explicit
        object.__setattr__(self, "model", resolve_model(self.model))

    def to_dict(self) -> dict[str, Any]:
        raw = asdict(self)
        raw["classes"] = list(self.classes)
        raw["model"]["mlp"] = list(self.model.mlp)
        raw["input"]["mean"], raw["input"]["std"] = list(self.input.mean), list(self.input.std)
        return raw

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> CheckpointInfo:
        spec = raw["input"]
        return cls(
            classes=tuple(raw["classes"]),
            # settings added after a checkpoint was written take the value it was trained with
            model=from_mapping(
                ModelConfig, {"temporal_input": "raw", "appearance_dropout": 0.0, **raw["model"]}
            ),
            weight_source=raw["weight_source"],
            sampling=from_mapping(ClipSampling, raw["sampling"]),
            input=InputSpec(
                spec["size"],
                tuple(spec["mean"]),
                tuple(spec["std"]),
                spec["crop_pct"],
                spec.get("fit", "crop"),
            ),
            version=raw.get("version", "unknown"),
            jumps=raw.get("jumps"),
        )


def checkpoint_names(paths: Sequence[str | Path]) -> list[str]:
    """Short names for checkpoints: RUN for RUN/checkpoints/best.ckpt, else the file's stem;
    made unique with -2, -3... (served models, ensemble members)."""
    names: list[str] = []
    for path in map(Path, paths):
        base = path.parent.parent.name if path.parent.name == "checkpoints" else ""
        base = base or path.stem
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}-{n}"
        names.append(name)
    return names


def read_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw contents of a checkpoint file, or a CheckpointError saying why it is unusable."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"{path}: is a folder; pass a checkpoint file (RUN/checkpoints/best.ckpt)"
        )
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        # weights only: tensors and plain values, nothing that runs code when unpickled
        # (vidact and Lightning store nothing else: optimiser, callback and RNG states included)
        checkpoint = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights_only" not in str(err).lower() and "weights only" not in str(err).lower():
            raise CheckpointError(
                f"{path}: cannot read the checkpoint (damaged: {_first(err)})"
            ) from None
        raise CheckpointError(
            f"{path}: refused: it holds Python objects other than tensors and plain values, and "
            "loading those can run code; vidact checkpoints hold none (written by another tool?)"
        ) from None
    except Exception as err:  # torch raises many types for a file that is not a checkpoint
        raise CheckpointError(
            f"{path}: cannot read the checkpoint (truncated or not a checkpoint: {_first(err)})"
        ) from None
    if not isinstance(checkpoint, dict) or not {METADATA_KEY, ENSEMBLE_KEY} & set(checkpoint):
        raise CheckpointError(f"{path}: not a vidact checkpoint (no {METADATA_KEY!r} metadata)")
    return checkpoint


def _first(err: Exception) -> str:
    return (str(err).splitlines() or [type(err).__name__])[0][:200]


def load_classifier(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[ClipClassifier, CheckpointInfo]:
    """Rebuild the model of a checkpoint in eval mode; needs no weights package and no data."""
    checkpoint = read_checkpoint(path, device)
    if ENSEMBLE_KEY in checkpoint:
        raise CheckpointError(
            f"{path}: an ensemble of {len(checkpoint[ENSEMBLE_KEY]['members'])} models; "
            "predict and serve take it, this step needs one model's checkpoint"
        )
    return classifier_from(checkpoint, path, device)


def classifier_from(
    checkpoint: dict[str, Any], path: str | Path, device: str | torch.device = "cpu"
) -> tuple[ClipClassifier, CheckpointInfo]:
    """The model of checkpoint contents already read (``path`` names it in messages)."""
    try:
        info = CheckpointInfo.from_dict(checkpoint[METADATA_KEY])
        model = ClipClassifier(
            info.model, len(info.classes), load_weights=False, input_size=info.input.size
        )
    except (KeyError, TypeError, ValueError, VidactError) as err:
        raise CheckpointError(
            f"{path}: its model description is incomplete or invalid ({err}); was it written by "
            "another vidact version?"
        ) from None
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: holds no model weights (state_dict)")
    try:
        model.load_state_dict({k.removeprefix("model."): v for k, v in state.items()})
    except RuntimeError as err:
        first = str(err).splitlines()[0]
        raise CheckpointError(
            f"{path}: its weights do not match the model its metadata describes ({first})"
        ) from None
    if info.model.encoder_precision == "int8":
        stored = checkpoint.get(INT8_KEY)
        if not isinstance(stored, dict) or not stored:
            raise CheckpointError(f"{path}: an int8 model without its quantised encoder")
        install_int8(model, {k: v.numpy().tobytes() for k, v in stored.items()})
    if checkpoint.get(OPEN_SET_KEY) is not None:
        try:
            stored = OpenSet.from_dict(checkpoint[OPEN_SET_KEY], len(info.classes))
            model.open_set = stored.to(device)
        except ValueError as err:
            raise CheckpointError(f"{path}: {err}; retrain or restore the file") from None
    return model.to(device).eval(), info


def int8_entry(quantised: dict[str, bytes]) -> dict[str, torch.Tensor]:
    """The quantised encoders as a checkpoint holds them: bytes in uint8 tensors (loadable
    with weights_only)."""
    return {k: torch.frombuffer(bytearray(v), dtype=torch.uint8) for k, v in quantised.items()}
