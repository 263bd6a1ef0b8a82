"""vidact dataset info | check: what a dataset holds, and which of its videos are unreadable."""

from __future__ import annotations

import json

import typer
from tqdm import tqdm

from vidact.cli.common import friendly_errors, setup_logging
from vidact.cli.options import (
    DEFAULT_EXTENSIONS,
    Annotations,
    DataRoot,
    DatasetKind,
    Extensions,
    Fold,
    GroupRegex,
    SkipMissing,
    SplitFile,
    TestFraction,
    ValFraction,
    Workers,
    data_config,
)
from vidact.data.check import verify_videos
from vidact.data.datamodule import default_workers
from vidact.data.sources import build_index

app = typer.Typer(
    help="Inspect a dataset: its split, and whether every video decodes.", no_args_is_help=True
)


@app.command("info")
@friendly_errors
def info(
    data: DataRoot,
    dataset: DatasetKind = "folder",
    annotations: Annotations = None,
    fold: Fold = 1,
    skip_missing: SkipMissing = False,
    split_file: SplitFile = None,
    val_fraction: ValFraction = 0.15,
    test_fraction: TestFraction = 0.15,
    group_regex: GroupRegex = None,
    extensions: Extensions = DEFAULT_EXTENSIONS,
    seed: int = typer.Option(0, help="Seed of the automatic split (as in train)."),
) -> None:
    """Print JSON: classes, videos per split and class, groups per split, leaking groups."""
    setup_logging()
    config = data_config(
        data,
        dataset,
        annotations,
        fold,
        skip_missing,
        split_file,
        val_fraction,
        test_fraction,
        group_regex,
        extensions,
    )
    typer.echo(json.dumps(build_index(config, seed).summary(), indent=2))


@app.command("check")
@friendly_errors
def check(
    data: DataRoot,
    dataset: DatasetKind = "folder",
    annotations: Annotations = None,
    fold: Fold = 1,
    skip_missing: SkipMissing = False,
    split_file: SplitFile = None,
    group_regex: GroupRegex = None,
    extensions: Extensions = DEFAULT_EXTENSIONS,
    workers: Workers = None,
) -> None:
    """Decode every video; list the unreadable ones (exit status 1 when there are any)."""
    setup_logging()
    config = data_config(
        data,
        dataset,
        annotations,
        fold,
        skip_missing,
        split_file,
        0.0,
        0.0,
        group_regex,
        extensions,
    )
    items = build_index(config, seed=0).items
    bad = []
    results = verify_videos(items, default_workers() if workers is None else workers)
    for path, problem in tqdm(results, total=len(items), desc="decoding", unit="video"):
        if problem is not None:
            bad.append((path, problem))
    typer.echo(f"{len(items) - len(bad)} of {len(items)} videos decode")
    for path, problem in bad:
        typer.echo(f"unreadable: {path}: {problem}")
    if bad:
        raise typer.Exit(1)
