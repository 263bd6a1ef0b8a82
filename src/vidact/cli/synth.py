"""vidact synth: write the synthetic temporal dataset."""

from __future__ import annotations

from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.data.synthetic import PAIRS, write_synthetic_dataset


@friendly_errors
def synth(
    out: Path = typer.Argument(..., help="Folder to write OUT/<class>/<video> and OUT/split.csv."),
    videos_per_class: int = typer.Option(24, help="Videos per class."),
    frames: int = typer.Option(24, help="Frames per video."),
    size: int = typer.Option(112, help="Width and height in pixels."),
    seed: int = typer.Option(0, help="Random seed (scenes, jitter, split)."),
    extension: str = typer.Option(".mp4", help="Container: .mp4 (H.264), .avi (MPEG-4), .mkv."),
) -> None:
    """Write videos whose classes differ only in temporal order (each class reversed is another)."""
    index = write_synthetic_dataset(
        out,
        videos_per_class=videos_per_class,
        frames=frames,
        size=size,
        seed=seed,
        extension=extension,
    )
    counts = {split: sum(c.values()) for split, c in index.counts().items()}
    pairs = ", ".join(f"{a}/{b}" for a, b, _ in PAIRS)
    typer.echo(
        f"wrote {len(index.items)} videos of {len(index.classes)} classes ({pairs}) to {out}"
    )
    typer.echo(f"split: {counts} -> {out / 'split.csv'}")
