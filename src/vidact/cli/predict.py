"""vidact predict: the activity in a video, from a checkpoint alone."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vidact.cli.common import friendly_errors, setup_logging
from vidact.inference.predictor import Predictor


@friendly_errors
def predict(
    checkpoint: Path = typer.Argument(..., help="A vidact checkpoint."),
    videos: list[Path] = typer.Argument(..., help="One or more video files."),
    topk: int = typer.Option(5, help="How many labels to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per video)."),
    clips: int = typer.Option(1, help="Clips per video; their scores are averaged."),
    crops: int = typer.Option(1, help="Spatial crops per clip: 1 (centre) or 3."),
    device: str | None = typer.Option(None, help="cpu or cuda (default: cuda when available)."),
) -> None:
    """Print the top-k activities of each video with their probabilities."""
    setup_logging()
    predictor = Predictor.from_checkpoint(checkpoint, device, clips, crops)
    for video in videos:
        result = predictor.predict(video, topk)
        if as_json:
            typer.echo(json.dumps(result))
            continue
        typer.echo(f"{video}:")
        for rank, entry in enumerate(result["top_k"], start=1):
            typer.echo(f"  {rank}. {entry['label']:<24} {entry['probability']:.4f}")
