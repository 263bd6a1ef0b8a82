"""vidact dataset info | check: what a dataset holds, and which of its videos are unreadable."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import (
    DataRoot,
    Overwrite,
    Workers,
    data_config,
    dataset_options,
)
from vidact.data.check import verify_videos
from vidact.data.datasets import default_workers
from vidact.data.overview import frames_grid as draw_frames_grid
from vidact.data.overview import media_summary
from vidact.data.sources import build_index
from vidact.errors import ConfigError
from vidact.io.outputs import check_output
from vidact.progress import progress

app = typer.Typer(
    help="Inspect a dataset: its split, and whether every video decodes.", no_args_is_help=True
)


@app.command("info")
@friendly_errors
@dataset_options("allow_images")
def info(
    ctx: typer.Context,
    data: DataRoot,
    seed: int = typer.Option(0, help="Seed of the automatic split (as in train)."),
    media: bool = typer.Option(
        True, help="Open every video for durations, frame rates and sizes per class."
    ),
    frames_grid: Path | None = typer.Option(
        None, help="Also draw sample frames per class into this image (.png)."
    ),
    grid_videos: int = typer.Option(4, help="Videos per class in the frames grid."),
    overwrite: Overwrite = False,
    workers: Workers = None,
) -> None:
    """Print JSON: classes, videos per split and class, groups per split, leaking groups, and
    per class the videos' durations, frame rates and sizes."""
    config = data_config(ctx.params)
    if frames_grid is not None:  # checked before the dataset is read
        check_output(frames_grid, [], overwrite, "--frames-grid", (".png", ".jpg"))
    index = build_index(config, seed)
    summary = index.summary()
    if media:
        summary["media"] = media_summary(index, default_workers() if workers is None else workers)
    if frames_grid is not None:
        if grid_videos < 1:
            raise ConfigError(f"--grid-videos must be at least 1, got {grid_videos}")
        summary["frames_grid"] = str(draw_frames_grid(index, frames_grid, grid_videos))
    typer.echo(json.dumps(summary, indent=2))


@app.command("check")
@friendly_errors
@dataset_options("val_fraction", "test_fraction")
def check(
    ctx: typer.Context,
    data: DataRoot,
    workers: Workers = None,
) -> None:
    """Decode every video; list the unreadable and truncated ones (exit status 1 if any)."""
    config = data_config(ctx.params, val_fraction=0.0, test_fraction=0.0)
    items = build_index(config, seed=0).items
    bad = []
    results = verify_videos(
        items, default_workers() if workers is None else workers, config.allow_images
    )
    for path, problem in progress(results, "decoding", total=len(items)):
        if problem is not None:
            bad.append((path, problem))
    typer.echo(f"{len(items) - len(bad)} of {len(items)} videos decode")
    for path, problem in bad:
        typer.echo(f"unreadable: {path}: {problem}")
    if bad:
        raise typer.Exit(1)
