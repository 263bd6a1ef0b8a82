"""vidact serve: the upload page and JSON API over one or more checkpoints."""

from __future__ import annotations

from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import Device
from vidact.errors import ConfigError

_INSTALL = "the web app needs the optional packages: pip install -e '.[web]'"


@friendly_errors
def serve(
    checkpoints: list[Path] = typer.Argument(
        ..., help="Checkpoints (or .onnx files) to serve; the first is the default."
    ),
    host: str = typer.Option("127.0.0.1", help="Address to listen on (0.0.0.0: every network)."),
    port: int = typer.Option(8000, help="Port."),
    max_upload_mb: int = typer.Option(200, help="Largest upload accepted, MB."),
    max_seconds: float = typer.Option(600, help="Longest video accepted, seconds."),
    max_pixels: int = typer.Option(3840 * 2160, help="Largest frame accepted, pixels."),
    concurrency: int = typer.Option(1, help="Predictions running at once."),
    queue: int = typer.Option(4, help="Requests waiting beyond those; more get 503."),
    ttl: float = typer.Option(3600, help="Seconds an annotated video stays available."),
    cors_origin: list[str] = typer.Option(
        [], help="Allow pages from this origin to call the API (repeatable; default: none)."
    ),
    device: Device = None,
) -> None:
    """Load each model once, then serve http://HOST:PORT/ (the page), /api/predict, /api/model,
    /api/health and the OpenAPI docs at /docs until Ctrl-C."""
    try:
        import uvicorn

        from vidact.web.app import ServeSettings, create_app
    except ImportError:
        raise ConfigError(_INSTALL) from None
    from vidact.inference.predictor import Predictor
    from vidact.models.checkpoint import checkpoint_names

    for name, value in (("--concurrency", concurrency), ("--max-upload-mb", max_upload_mb)):
        if value < 1:
            raise ConfigError(f"{name} must be at least 1, got {value}")
    if queue < 0 or max_seconds <= 0 or max_pixels < 1 or ttl <= 0:
        raise ConfigError("--queue must be 0 or more; --max-seconds, --max-pixels, --ttl above 0")
    models = {
        name: Predictor.from_checkpoint(checkpoint, device)
        for name, checkpoint in zip(checkpoint_names(checkpoints), checkpoints, strict=True)
    }
    settings = ServeSettings(
        max_upload_mb, max_seconds, max_pixels, concurrency, queue, ttl, tuple(cors_origin)
    )
    app = create_app(models, settings)
    typer.echo(f"serving {', '.join(models)} on http://{host}:{port}/ (API docs: /docs)", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
