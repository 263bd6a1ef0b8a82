"""vidact synth: write the synthetic temporal dataset, or long videos with known timelines."""

from __future__ import annotations

from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import Overwrite
from vidact.data.synthetic import PAIRS, write_long_videos, write_synthetic_dataset
from vidact.errors import ConfigError


@friendly_errors
def synth(
    out: Path = typer.Argument(..., help="Folder to write OUT/<class>/<video> and OUT/split.csv."),
    videos_per_class: int = typer.Option(24, help="Videos per class."),
    frames: int = typer.Option(24, help="Frames per video."),
    size: int = typer.Option(112, help="Width and height in pixels."),
    seed: int = typer.Option(0, help="Random seed (scenes, jitter, split)."),
    extension: str = typer.Option(".mp4", help="Container: .mp4 (H.264), .avi (MPEG-4), .mkv."),
    long: bool = typer.Option(
        False,
        "--long",
        help="Write long videos whose activity changes at known times (OUT/long_NN and "
        "OUT/truth.csv: video,start_s,end_s,label), for vidact score-timeline.",
    ),
    continuous: bool = typer.Option(
        False,
        "--continuous",
        help="Each clip is a window into an activity repeated back to back (starting "
        "anywhere), as windows of a --long video are: training data for timelines.",
    ),
    sweep: int | None = typer.Option(
        None,
        help="With --continuous or --long: frames per repetition of an activity [--frames].",
    ),
    videos: int = typer.Option(4, help="With --long: how many long videos."),
    seconds: float = typer.Option(60.0, help="With --long: the length of each, in seconds."),
    overwrite: Overwrite = False,
) -> None:
    """Write videos whose classes differ only in temporal order (each class reversed is another);
    with --long, long videos of those activities and their true timelines."""
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"{out}: not empty; pass --overwrite to write into it anyway")
    if long:
        repetition = sweep or frames
        truth = write_long_videos(out, videos, seconds, repetition, size, seed, extension=extension)
        typer.echo(f"wrote {videos} videos of {seconds:g} s to {out}; true segments -> {truth}")
        return
    index = write_synthetic_dataset(
        out,
        videos_per_class=videos_per_class,
        frames=frames,
        size=size,
        seed=seed,
        extension=extension,
        sweep=(sweep or frames) if continuous else None,
    )
    counts = {split: sum(c.values()) for split, c in index.counts().items()}
    pairs = ", ".join(f"{a}/{b}" for a, b, _ in PAIRS)
    typer.echo(
        f"wrote {len(index.items)} videos of {len(index.classes)} classes ({pairs}) to {out}"
    )
    typer.echo(f"split: {counts} -> {out / 'split.csv'}")
    if not (counts.get("val") and counts.get("test")):  # groups of 3 clips: 8 a class give both
        typer.echo(
            f"note: {videos_per_class} videos per class make too few groups for a validation "
            "and a test split (training needs validation): --videos-per-class 8 or more",
            err=True,
        )
