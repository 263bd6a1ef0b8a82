"""vidact report: one self-contained HTML page over runs, evaluations and comparisons."""

from __future__ import annotations

from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import Overwrite


@friendly_errors
def report(
    dirs: list[Path] = typer.Argument(
        ..., help="Run directories, evaluation folders and compare folders, in page order."
    ),
    out: Path = typer.Option(Path("report.html"), help="The HTML file to write."),
    title: str = typer.Option("vidact report", help="The page title."),
    overwrite: Overwrite = False,
) -> None:
    """Each run's settings and curves, each evaluation's figures, confusion matrix, per-class and
    per-category bars and misclassified videos (the frames the model saw), each comparison's
    table and charts; images inlined, no external assets."""
    from vidact.evaluation.html import build_report

    path = build_report(dirs, out, title, overwrite)
    typer.echo(f"report: {path} ({path.stat().st_size / 1e6:.1f} MB)")
