"""vidact demo: the main job on synthetic data, end to end, in a few minutes on a CPU."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.demo import DEMO_HEADS, DemoSettings, run_demo
from vidact.models.heads import TemporalInput, list_heads

_DEMO = DemoSettings()  # the demo's defaults, quoted in help texts


@friendly_errors
def demo(
    out: Path = typer.Option(Path("vidact-demo"), help="Folder for data, runs and reports."),
    progress: bool = typer.Option(False, help="Show training progress bars."),
    heads: str = typer.Option(
        ",".join(DEMO_HEADS), help="Heads to compare, comma-separated, or 'all'."
    ),
    videos_per_class: int | None = typer.Option(
        None, help=f"Synthetic videos per class. [{_DEMO.videos_per_class}]"
    ),
    seed: int | None = typer.Option(None, help=f"Seed of the data and the runs. [{_DEMO.seed}]"),
    temporal_input: str | None = typer.Option(
        None,
        help=f"What the heads read: {', '.join(TemporalInput.MODES)} "
        "(default: each head's own, README).",
    ),
) -> None:
    """Train an LSTM and the frame-averaging baseline on a temporal task; compare them on test."""
    given = {"videos_per_class": videos_per_class, "seed": seed, "temporal_input": temporal_input}
    settings = replace(_DEMO, **{k: v for k, v in given.items() if v is not None})
    started = time.perf_counter()
    chosen = tuple(list_heads()) if heads == "all" else tuple(h.strip() for h in heads.split(","))
    rows = run_demo(out, settings, progress=progress, heads=chosen)
    typer.echo("")
    typer.echo(
        f"{'head':<11} {'test top1':>9} {'mean class acc':>14} {'val acc':>8} "
        f"{'best epoch':>10} {'train s':>8}"
    )
    for row in rows:
        typer.echo(
            f"{row.head:<11} {row.test_top1:>9.3f} {row.test_mean_class_accuracy:>14.3f} "
            f"{row.best_val_acc:>8.3f} {row.best_epoch:>10d} {row.train_seconds:>8.1f}"
        )
    typer.echo("")
    for row in rows:
        typer.echo(f"{row.head}: run {row.run_dir}  report {row.report_dir}")
    typer.echo(f"total {time.perf_counter() - started:.0f} s")
