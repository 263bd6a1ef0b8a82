"""vidact evaluate: score a checkpoint on a split and write the report."""

from __future__ import annotations

from pathlib import Path

import typer

from vidact.cli.common import friendly_errors, setup_logging
from vidact.evaluation.report import evaluate as run_evaluation
from vidact.evaluation.report import split_items
from vidact.inference.predictor import Predictor


@friendly_errors
def evaluate(
    checkpoint: Path = typer.Argument(..., help="A checkpoint (RUN/checkpoints/best.ckpt)."),
    data: Path = typer.Option(..., help="Dataset root: ROOT/<class>/<video>."),
    split_file: Path | None = typer.Option(
        None, help="CSV 'path,split'; without it every video under ROOT is scored."
    ),
    split: str = typer.Option("test", help="Which split of the split file to score."),
    out: Path = typer.Option(Path("eval"), help="Report folder to write."),
    batch_size: int = typer.Option(8),
    workers: int | None = typer.Option(None, help="DataLoader workers (default: CPU cores)."),
    device: str | None = typer.Option(None, help="cpu or cuda (default: cuda when available)."),
) -> None:
    """Write metrics.json, predictions.csv and confusion_matrix.png for one split."""
    setup_logging()
    predictor = Predictor.from_checkpoint(checkpoint, device)
    items = split_items(data, predictor.classes, split_file, split)
    metrics = run_evaluation(predictor, items, out, batch_size, workers)
    typer.echo(
        f"{metrics['num_videos']} videos: top1 {metrics['top1']:.4f}  top5 {metrics['top5']:.4f}  "
        f"mean class accuracy {metrics['mean_class_accuracy']:.4f}  loss {metrics['loss']:.4f}"
    )
    width = max(len(name) for name in metrics["per_class"])
    for name, row in metrics["per_class"].items():
        typer.echo(f"  {name:<{width}}  acc {row['accuracy']:.3f}  support {row['support']}")
    typer.echo(f"report: {out}")
