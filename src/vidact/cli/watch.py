"""vidact watch: the activity of a live stream (or a file played at its rate), as it happens."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import (
    Device,
    EncoderRuntime,
    Overwrite,
    Reject,
    decoding_options,
)
from vidact.inference.live import watch as watch_source
from vidact.inference.load import load_predictor
from vidact.inference.timeline import TimelineSettings
from vidact.io.outputs import check_output


@friendly_errors
@decoding_options
def watch(
    checkpoint: Path = typer.Argument(..., help="A vidact checkpoint, or an exported .onnx."),
    source: str = typer.Argument(..., help="A video file, an RTSP/HTTP URL, or /dev/videoN."),
    window: str = typer.Option(
        TimelineSettings.window, help="Window of newest frames scored, seconds (2s) or frames."
    ),
    stride: str = typer.Option(TimelineSettings.stride, help="Score every stride (0.5s)."),
    jsonl: bool = typer.Option(
        False, "--jsonl", help="Print one JSON object per window: {time_s, label, probability}."
    ),
    output: Path | None = typer.Option(
        None, help="Also record the stream with the activity drawn on (.mp4)."
    ),
    events_out: Path | None = typer.Option(
        None,
        "--events",
        help="Append each activity segment to this JSON-lines file when it closes: "
        "{source, start_s, end_s, label, mean_p, peak_p}.",
    ),
    realtime: bool | None = typer.Option(
        None,
        "--realtime/--no-realtime",
        help="Play a file at its own rate, as a live source (files: yes; streams: as they come).",
    ),
    overwrite: Overwrite = False,
    runtime: str | None = typer.Option(None, help="torch or onnx. [.onnx files: onnx]"),
    reject: Reject = "auto",
    encoder_runtime: EncoderRuntime = None,
    device: Device = None,
    *,
    decoding: dict[str, Any],  # smoothing, hold, minimum, raw: decoding_options
) -> None:
    """Score the newest window every stride until the stream ends or Ctrl-C; when the model is
    slower than the source, windows are skipped (frames dropped) so the answers keep up; the
    summary on stderr says how many."""
    if output is not None:  # never the source, never an existing file without --overwrite
        check_output(output, [checkpoint, source], overwrite, suffixes=(".mp4",))
    if events_out is not None:  # appended to, never replaced; never an input
        check_output(events_out, [checkpoint, source], True, "--events", (".jsonl",))
    settings = TimelineSettings(window, stride, **decoding)
    predictor = load_predictor(
        checkpoint, device, runtime=runtime, reject=reject, encoder_runtime=encoder_runtime
    )

    def emit(entry: dict[str, Any]) -> None:
        if jsonl:
            typer.echo(json.dumps(entry))
        else:
            typer.echo(f"{entry['time_s']:9.2f} s  {entry['label']:<24} {entry['probability']:.4f}")

    with ExitStack() as stack:
        log = stack.enter_context(events_out.open("a", encoding="utf-8")) if events_out else None

        def closed(event: dict[str, Any]) -> None:
            if log is not None:
                log.write(json.dumps({"source": source, **event}) + "\n")
                log.flush()  # each event is there as soon as it closes

        report = watch_source(
            predictor, source, settings, emit, output, realtime, closed if log else None
        )
    typer.echo(report.summary(), err=True)
    if output is not None and report.frames:
        typer.echo(f"recording: {output}", err=True)
