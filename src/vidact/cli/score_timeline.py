"""vidact score-timeline: event-level scores of predicted timelines against the truth."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.errors import ConfigError
from vidact.evaluation.timelines import read_segments, score_timelines


@friendly_errors
def score_timeline(
    pred: Path = typer.Option(
        ..., help="Predicted segments: the CSV of vidact predict --segments."
    ),
    truth: Path = typer.Option(..., help="True segments: video,start_s,end_s,label (truth.csv)."),
    iou: float = typer.Option(0.5, help="Temporal IoU a predicted segment needs to count."),
) -> None:
    """Print segment precision, recall and F1 at the IoU, frame accuracy, onset latency and
    false alerts per hour, as JSON (videos matched by file name)."""
    if not 0 < iou <= 1:
        raise ConfigError(f"--iou must be in (0, 1], got {iou}")
    typer.echo(json.dumps(score_timelines(read_segments(pred), read_segments(truth), iou)))
