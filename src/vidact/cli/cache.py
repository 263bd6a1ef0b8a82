"""vidact cache info | clear: what the clip and feature caches hold, and emptying them."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.config import default_cache_dir
from vidact.data.cache import cache_summary, clear_cache

app = typer.Typer(help="Inspect or clear the clip and feature caches.", no_args_is_help=True)

CacheDir = typer.Option(None, "--cache-dir", help="Cache folder (default ~/.cache/vidact).")


@app.command("info")
@friendly_errors
def info(cache_dir: Path | None = CacheDir) -> None:
    """Print JSON: entries and bytes per kind (clips, features) and settings namespace."""
    typer.echo(json.dumps(cache_summary(cache_dir or default_cache_dir()), indent=2))


@app.command("clear")
@friendly_errors
def clear(
    cache_dir: Path | None = CacheDir,
    kind: str | None = typer.Option(None, help="clips or features (default: both)."),
) -> None:
    """Delete cached clips and/or features; they are rebuilt when next needed."""
    root = cache_dir or default_cache_dir()
    freed, kept = clear_cache(root, kind)
    typer.echo(f"freed {freed / 2**20:.1f} MiB in {root}")
    if kept:
        shown = ", ".join(str(path) for path in kept[:5])
        typer.echo(f"left {len(kept)} file(s) vidact did not write: {shown}")
