"""vidact compare: train and evaluate a grid of models, or tabulate runs made by hand."""

from __future__ import annotations

from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import Overwrite, RunProgress
from vidact.errors import ConfigError
from vidact.io.outputs import check_folder


@friendly_errors
def compare(
    dirs: list[Path] = typer.Argument(
        None, help="Run directories and evaluation folders to tabulate (instead of --config)."
    ),
    config: Path | None = typer.Option(None, help="A grid file: settings, grid, evaluate."),
    out: Path = typer.Option(Path("comparison"), help="Folder for runs, reports and tables."),
    overwrite: Overwrite = False,
    progress: RunProgress = True,
) -> None:
    """With --config: train every combination of the grid (sharing the feature cache), evaluate
    each on the test split, and write comparison.csv / .md and bar charts; runs already
    finished are kept. With folders: the same tables for runs made by hand."""
    from vidact.evaluation.compare import load_grid, run_grid, tabulate_dirs, write_comparison

    if (config is None) == (not dirs):
        raise ConfigError("give a grid (--config grid.yaml) or run/evaluation folders, not both")
    check_folder(out, overwrite)
    if config is not None:
        spec = load_grid(config)
        rows = run_grid(spec, out, progress)
    else:
        rows = tabulate_dirs(list(dirs))
        write_comparison(rows, out, ["run"])  # each run a row of its own
    typer.echo((out / "comparison.md").read_text())
    typer.echo(f"{len(rows)} run(s); tables and charts in {out}")
