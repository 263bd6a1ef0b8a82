"""vidact predict: the activity in videos, from a checkpoint alone (one video, or a corpus)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import (
    AllowImages,
    Cuts,
    Device,
    EncoderRuntime,
    Overwrite,
    Reject,
    Workers,
    decoding_options,
)
from vidact.inference.corpus import Corpus
from vidact.inference.events import UNKNOWN
from vidact.inference.load import load_predictor
from vidact.inference.timeline import TimelineSettings


@friendly_errors
@decoding_options
def predict(
    checkpoint: Path = typer.Argument(..., help="A vidact checkpoint, or an exported .onnx."),
    videos: list[str] = typer.Argument(
        ..., help="Video files, folders (searched recursively) or quoted glob patterns."
    ),
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
    cuts: Cuts = TimelineSettings.cuts,
    output: Path | None = typer.Option(
        None,
        help="Write the video annotated with its activity (.mp4, H.264, no audio) or its "
        "timeline as a plot (.png); one video only.",
    ),
    csv_out: Path | None = typer.Option(
        None, "--csv", help="Batch: one row per video (label, probability, top-k, timeline, error)."
    ),
    jsonl_out: Path | None = typer.Option(
        None, "--jsonl", help="Batch: one JSON object per video (as --json prints)."
    ),
    segments_out: Path | None = typer.Option(
        None,
        "--segments",
        help="Write every video's timeline segments to a CSV: video,start_s,end_s,label,"
        "mean_p,peak_p (what vidact score-timeline reads).",
    ),
    resume: bool = typer.Option(
        False,
        help="Batch: skip the videos already in the --csv/--jsonl/--segments file and append.",
    ),
    shard: str | None = typer.Option(
        None, help="Batch: only shard i of n (i/n), to split a corpus across machines."
    ),
    overwrite: Overwrite = False,
    batch_size: int = typer.Option(8, help="Videos per model call."),
    workers: Workers = None,
    runtime: str | None = typer.Option(
        None, help="torch or onnx (a file from vidact export). [.onnx files: onnx]"
    ),
    allow_images: AllowImages = None,
    reject: Reject = "auto",
    encoder_runtime: EncoderRuntime = None,
    device: Device = None,
    *,
    decoding: dict[str, Any],  # smoothing, hold, minimum, raw: decoding_options
) -> None:
    """Print the top-k activities of each video with their probabilities, and the activities
    over time of a video longer than two windows; or tag a whole corpus into --csv / --jsonl.

    A video that cannot be read is reported (on stderr, and as a row with its error) and the
    others go on; the exit status is 2 when any failed.
    """
    timeline = TimelineSettings(window, stride, cuts=cuts, **decoding)
    rows = [path for path in (csv_out, jsonl_out) if path is not None]
    corpus = Corpus.find(
        videos, rows, segments_out, output, resume, overwrite, shard, protect=[checkpoint]
    )
    predictor = load_predictor(
        checkpoint, device, clips, crops, bool(allow_images), runtime, reject, encoder_runtime
    )
    tagged = failed = 0
    for result in corpus.tag(predictor, topk, timeline, workers, batch_size):
        tagged += 1
        if "error" in result:
            typer.secho(f"error: {result['error']}", err=True, fg=typer.colors.RED)
            failed += 1
        elif not rows:
            show(result, as_json, predictor.rejection)
    logs = [*rows, *([segments_out] if segments_out else [])]
    if logs:
        typer.echo(
            f"{tagged - failed} of {tagged} video(s) tagged"
            + (f", {failed} unreadable (rows with their error)" if failed else "")
            + f" -> {', '.join(map(str, logs))}",
            err=True,
        )
    if failed:
        raise typer.Exit(2)


def show(result: dict[str, Any], as_json: bool, rejection: dict[str, Any]) -> None:
    """One video's answer, its top-k and timeline; ``rejection`` (``VideoPredictor.rejection``)
    says why an answer is unknown."""
    if as_json:
        typer.echo(json.dumps(result))
        return
    typer.echo(f"{result['video']}:")
    if result.get("label") == UNKNOWN:  # the top label below is not the answer
        why = (
            "unlike the clips of every class it was trained on"
            if rejection["score"] == "distance"
            else f"no class reaches probability {rejection['threshold']:g}"
        )
        typer.echo(f"  answer: {UNKNOWN} ({why}; --reject off always names one)")
    for rank, entry in enumerate(result["top_k"], start=1):
        typer.echo(f"  {rank}. {entry['label']:<24} {entry['probability']:.4f}")
    if len(result["timeline"]) > 1:
        typer.echo("  timeline:")
        for part in result["timeline"]:
            typer.echo(
                f"    {part['start_s']:8.2f}-{part['end_s']:8.2f} s  {part['label']:<24} "
                f"{part['probability']:.4f}"
            )
