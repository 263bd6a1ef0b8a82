"""vidact export: a checkpoint as an ONNX file that onnxruntime (or any ONNX runtime) runs."""

from __future__ import annotations

from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import Overwrite
from vidact.errors import ConfigError


@friendly_errors
def export(
    checkpoint: Path = typer.Argument(..., help="A vidact checkpoint."),
    out: Path = typer.Option(..., help="The file to write (model.onnx)."),
    format: str = typer.Option("onnx", help="onnx (the only format)."),
    overwrite: Overwrite = False,
) -> None:
    """Write the whole network (frame encoder, temporal head, classifier) with a dynamic batch;
    frames per clip, input size, preparation and class names are in the file's metadata."""
    if format != "onnx":
        raise ConfigError(f"--format must be onnx, got {format!r}")
    from vidact.inference.export import describe_input, export_onnx

    info = export_onnx(checkpoint, out, overwrite)
    typer.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)\n  input {describe_input(info)}")
