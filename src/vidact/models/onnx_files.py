"""ONNX files vidact writes and reads back: sealed with a SHA-256 of their bytes, so a file
changed anywhere is refused (or rebuilt), never run; exported quietly; loaded into onnxruntime.

Shared by ``vidact export`` (a whole classifier) and the encoder runtime (a frozen frame encoder
cached on disk), which is why it sits below both."""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from vidact.errors import CheckpointError, ConfigError

CHECKSUM_KEY = "vidact_sha256"
OPSET = 18
_BLANK = b"0" * 64
# the checksum entry as protobuf writes it: key string, then the value's tag and length (64)
_CHECKSUM_FIELD = b"\n" + bytes([len(CHECKSUM_KEY)]) + CHECKSUM_KEY.encode() + b"\x12\x40"
_MISSING = (
    "ONNX needs the optional packages: pip install -e '.[onnx]' (onnx, onnxruntime, onnxscript)"
)


def require(name: str) -> Any:
    """The optional module ``name`` (onnx, onnxruntime, onnxscript), or a ConfigError saying
    how to install it."""
    try:
        return __import__(name)
    except ImportError:
        raise ConfigError(_MISSING) from None


def export_graph(
    model: torch.nn.Module,
    example: torch.Tensor,
    input_name: str,
    output_names: list[str],
    metadata: dict[str, str],
) -> bytes:
    """``model`` as ONNX bytes with a dynamic batch (dimension 0), ``metadata`` in the file and
    last of all the SHA-256 of the whole file (taken with that digest blanked)."""
    require("onnx")
    require("onnxscript")
    batch = torch.export.Dim("batch", min=1, max=4096)
    with _quiet():
        program = torch.onnx.export(
            model.eval(),
            (example,),
            input_names=[input_name],
            output_names=output_names,
            dynamic_shapes=({0: batch},),
            opset_version=OPSET,
            dynamo=True,
        )
    return sealed(program.model_proto, metadata)


def sealed(proto: Any, metadata: dict[str, str]) -> bytes:
    """An ONNX ModelProto's bytes with ``metadata`` and, last, the SHA-256 of the whole file
    (taken with that digest blanked), which ``verified_bytes`` checks."""
    for key, value in {**metadata, CHECKSUM_KEY: _BLANK.decode()}.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    data = proto.SerializeToString()
    digest = hashlib.sha256(data).hexdigest().encode()
    return data.replace(_CHECKSUM_FIELD + _BLANK, _CHECKSUM_FIELD + digest, 1)


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


def open_session(
    path: Path, device: torch.device, threads: int | None = None, data: bytes | None = None
) -> Any:
    """An onnxruntime session on the verified bytes of ``path`` (CUDA when ``device`` is and
    onnxruntime has it); ``threads``: intra-op threads (default: onnxruntime's); ``data``: the
    file's bytes when the caller has just verified them (read once, not twice)."""
    ort = require("onnxruntime")
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    data = verified_bytes(path) if data is None else data
    try:
        return ort.InferenceSession(data, options, providers=providers)
    except Exception as err:  # onnxruntime's errors are untyped
        raise CheckpointError(
            f"{path}: not an ONNX model onnxruntime can load ({str(err).splitlines()[0]}); "
            "vidact export makes one"
        ) from None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """The exporter prints and logs its steps and warns about internals a user can do nothing
    about; its errors still raise."""
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging.NOTSET)
