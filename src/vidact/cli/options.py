"""Options several commands share (where the videos are and how they split), declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidact.config import DataConfig

DataRoot = Annotated[Path, typer.Option("--data", help="Dataset root: ROOT/<class>/<video>.")]
DatasetKind = Annotated[
    str, typer.Option("--dataset", help="folder, ucf101 or hmdb51 (official splits).")
]
Annotations = Annotated[
    Path | None,
    typer.Option(help="Official split files: ucfTrainTestlist/ or testTrainMulti_7030_splits/."),
]
Fold = Annotated[int, typer.Option(help="Official split 1, 2 or 3.")]
SkipMissing = Annotated[
    bool, typer.Option("--skip-missing", help="Go on when listed videos are missing.")
]
SplitFile = Annotated[Path | None, typer.Option(help="CSV 'path,split' (train/val/test).")]
ValFraction = Annotated[float, typer.Option(help="Validation share carved from train, by group.")]
TestFraction = Annotated[float, typer.Option(help="Test share when nothing else gives one.")]
GroupRegex = Annotated[
    str | None,
    typer.Option(help="Regex with one capture group: a video's group (default: UCF _gNN_)."),
]
Extensions = Annotated[str, typer.Option(help="Video file suffixes to index, comma-separated.")]
Categories = Annotated[
    Path | None, typer.Option(help="CSV/TSV 'class,category' for per-category accuracy.")
]
Workers = Annotated[int | None, typer.Option(help="DataLoader workers (default: CPU cores).")]

DEFAULT_EXTENSIONS = ",".join(DataConfig().extensions)


def data_config(
    data: Path,
    dataset: str = "folder",
    annotations: Path | None = None,
    fold: int = 1,
    skip_missing: bool = False,
    split_file: Path | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    group_regex: str | None = None,
    extensions: str = DEFAULT_EXTENSIONS,
    **rest: object,
) -> DataConfig:
    """A DataConfig from the shared options plus any command-specific fields in ``rest``."""
    return DataConfig(
        root=str(data),
        dataset=dataset,
        annotations=str(annotations) if annotations else None,
        fold=fold,
        skip_missing=skip_missing,
        split_file=str(split_file) if split_file else None,
        val_fraction=val_fraction,
        test_fraction=test_fraction,
        group_regex=group_regex,
        extensions=tuple(e.strip() for e in extensions.split(",") if e.strip()),
        **rest,  # type: ignore[arg-type]
    )
