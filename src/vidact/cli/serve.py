"""vidact serve: the upload page and JSON API over one or more checkpoints."""

from __future__ import annotations

import socket
from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import Device, EncoderRuntime, Reject
from vidact.errors import ConfigError
from vidact.inference.load import load_predictor
from vidact.models.checkpoint import checkpoint_names
from vidact.web.settings import ServeSettings

_INSTALL = "the web app needs the optional packages: pip install -e '.[web]'"
_SERVE = ServeSettings()


@friendly_errors
def serve(
    checkpoints: list[Path] = typer.Argument(
        ..., help="Checkpoints (or .onnx files) to serve; the first is the default."
    ),
    host: str = typer.Option(_SERVE.host, help="Address to listen on (0.0.0.0: every network)."),
    port: int = typer.Option(8000, help="Port (1-65535)."),
    max_upload_mb: int = typer.Option(_SERVE.max_upload_mb, help="Largest upload accepted, MB."),
    max_seconds: float = typer.Option(_SERVE.max_seconds, help="Longest video accepted, seconds."),
    max_pixels: int = typer.Option(_SERVE.max_pixels, help="Largest frame accepted, pixels."),
    concurrency: int = typer.Option(_SERVE.concurrency, help="Predictions running at once."),
    queue: int = typer.Option(_SERVE.queue, help="Requests waiting beyond those; more get 503."),
    ttl: float = typer.Option(_SERVE.ttl_s, help="Seconds an annotated video stays available."),
    body_timeout: float = typer.Option(
        _SERVE.body_timeout_s, help="Seconds an upload may take in all; slower ones get 408."
    ),
    min_upload_kb_s: float = typer.Option(
        _SERVE.min_upload_kb_s, help="Slowest upload kept after its first 5 s, kB/s (408 below)."
    ),
    allowed_host: list[str] = typer.Option(
        [],
        help="Also answer to this Host name (repeatable; * for any). [the bind address, localhost]",
    ),
    cors_origin: list[str] = typer.Option(
        [], help="Allow pages from this origin to call the API (repeatable; default: none)."
    ),
    api_docs: bool = typer.Option(
        False, help="Serve Swagger UI at /docs (the browser loads it from a CDN)."
    ),
    reject: Reject = "auto",
    encoder_runtime: EncoderRuntime = None,
    device: Device = None,
) -> None:
    """Load each model once, then serve http://HOST:PORT/ (the page), /api/predict, /api/model,
    /api/health and /openapi.json until Ctrl-C."""
    if not 1 <= port <= 65535:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}")
    settings = ServeSettings(
        max_upload_mb, max_seconds, max_pixels, concurrency, queue, ttl, tuple(cors_origin),
        body_timeout, min_upload_kb_s, host, tuple(allowed_host), api_docs,
    )  # fmt: skip
    try:
        import uvicorn

        from vidact.web.app import create_app
    except ImportError:
        raise ConfigError(_INSTALL) from None
    _check_can_listen(host, port)  # before the models load, and before "serving" is said
    models = {
        name: load_predictor(checkpoint, device, reject=reject, encoder_runtime=encoder_runtime)
        for name, checkpoint in zip(checkpoint_names(checkpoints), checkpoints, strict=True)
    }
    app = create_app(models, settings)
    typer.echo(f"serving {', '.join(models)} on http://{host}:{port}/", err=True)
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning")
    except (OSError, SystemExit):  # taken since the check: uvicorn has logged why
        raise ConfigError(f"cannot listen on {host}:{port} (the reason is above)") from None


def _check_can_listen(host: str, port: int) -> None:
    """Bind the address once, as uvicorn will: taken, not this machine's, or not an address is
    said in one line."""
    try:
        family, kind, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        with socket.socket(family, kind) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as err:
        reason = err.strerror or str(err)
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}") from None
