"""vidact predict: the activity in a video, from a checkpoint alone."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import AllowImages, Device
from vidact.errors import ConfigError
from vidact.inference.annotate import check_output
from vidact.inference.predictor import Predictor
from vidact.inference.timeline import TimelineSettings
from vidact.io.reader import VideoReadError


@friendly_errors
def predict(
    checkpoint: Path = typer.Argument(..., help="A vidact checkpoint."),
    videos: list[Path] = typer.Argument(..., help="One or more video files."),
    topk: int = typer.Option(5, help="How many labels to show."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (one object per video)."),
    clips: int = typer.Option(1, help="Clips per video; their scores are averaged."),
    crops: int = typer.Option(1, help="Spatial crops per clip: 1 (centre) or 3."),
    window: str = typer.Option(
        TimelineSettings.window, help="Timeline window, seconds (2s) or frames (48)."
    ),
    stride: str = typer.Option(
        TimelineSettings.stride, help="Timeline stride between windows, seconds or frames."
    ),
    smooth: int = typer.Option(
        TimelineSettings.smooth, help="Smooth window probabilities over N windows."
    ),
    smooth_mode: str = typer.Option(TimelineSettings.smooth_mode, help="median or mean."),
    output: Path | None = typer.Option(
        None,
        help="Write the video annotated with its activity (.mp4, H.264, no audio) or its "
        "timeline as a plot (.png); one video only.",
    ),
    allow_images: AllowImages = None,
    device: Device = None,
) -> None:
    """Print the top-k activities of each video with their probabilities, and the activities
    over time of a video longer than two windows.

    A video that cannot be read is reported on stderr and the others go on; the exit status is
    2 when any failed.
    """
    timeline = TimelineSettings(window, stride, smooth, smooth_mode)
    timeline.check()
    if output is not None:
        check_output(output)
        if len(videos) != 1:
            raise ConfigError(f"--output {output}: give one video, not {len(videos)}")
    predictor = Predictor.from_checkpoint(checkpoint, device, clips, crops, bool(allow_images))
    failed = 0
    for video in videos:
        try:
            result = predictor.predict(video, topk, timeline, output)
        except VideoReadError as err:  # the next video may be fine; a bad setting stops
            typer.secho(f"error: {err}", err=True, fg=typer.colors.RED)
            failed += 1
            continue
        if as_json:
            typer.echo(json.dumps(result))
            continue
        typer.echo(f"{video}:")
        for rank, entry in enumerate(result["top_k"], start=1):
            typer.echo(f"  {rank}. {entry['label']:<24} {entry['probability']:.4f}")
        if len(result["timeline"]) > 1:
            typer.echo("  timeline:")
            for part in result["timeline"]:
                typer.echo(
                    f"    {part['start_s']:8.2f}-{part['end_s']:8.2f} s  {part['label']:<24} "
                    f"{part['probability']:.4f}"
                )
    if failed:
        raise typer.Exit(2)
