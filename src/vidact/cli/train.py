"""vidact train: train a clip classifier and write a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from vidact.cli.common import friendly_errors, setup_logging
from vidact.config import DataConfig, ModelConfig, TrainConfig
from vidact.training.trainer import train as run_training


def parse_head_args(pairs: list[str]) -> dict[str, Any]:
    """``["hidden_size=512", "num_layers=2"]`` -> {"hidden_size": 512, "num_layers": 2}."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--head-arg {pair!r}: expected KEY=VALUE, e.g. hidden_size=512")
        parsed[key.strip()] = yaml.safe_load(value)
    return parsed


def parse_widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"--mlp {text!r}: expected comma-separated widths, e.g. 512,128") from None


@friendly_errors
def train(
    data: Path = typer.Option(..., help="Dataset root: ROOT/<class>/<video>."),
    split_file: Path | None = typer.Option(None, help="CSV 'path,split' (train/val/test)."),
    val_fraction: float = typer.Option(0.15, help="Validation share, group-aware."),
    test_fraction: float = typer.Option(0.15, help="Test share when there is no split file."),
    group_regex: str | None = typer.Option(
        None, help="Regex with one capture group giving a video's group (default: UCF _gNN_)."
    ),
    extensions: str = typer.Option(
        ",".join(DataConfig().extensions), help="Video file suffixes to index, comma-separated."
    ),
    backbone: str = typer.Option("tf_efficientnet_lite0", help="Any timm model name."),
    pretrained: bool | None = typer.Option(
        None,
        "--pretrained/--no-pretrained",
        help="Offline ImageNet weights (default: when the backbone has them).",
    ),
    weights: Path | None = typer.Option(None, help="Local backbone state dict to start from."),
    head: str = typer.Option("lstm", help="Temporal head: lstm, gru, mean."),
    head_arg: list[str] = typer.Option([], help="Head argument KEY=VALUE, repeatable."),
    mlp: str = typer.Option("256", help="Classifier hidden widths, comma-separated ('' for none)."),
    dropout: float = typer.Option(0.3),
    freeze_backbone: bool | None = typer.Option(
        None,
        "--freeze-backbone/--train-backbone",
        help="Freeze the frame CNN (default: frozen when it starts from trained weights).",
    ),
    frames: int = typer.Option(8, help="Frames per clip (T)."),
    size: int | None = typer.Option(None, help="Input size in pixels (default: the backbone's)."),
    epochs: int = typer.Option(30),
    batch_size: int = typer.Option(8),
    lr: float = typer.Option(1e-3),
    optimizer: str = typer.Option("adam", help="adam or sgd (momentum 0.9)."),
    weight_decay: float = typer.Option(0.0),
    patience: int = typer.Option(8, help="Early stopping patience on val_loss, in epochs."),
    seed: int = typer.Option(0),
    workers: int | None = typer.Option(None, help="DataLoader workers (default: CPU cores)."),
    augment: bool = typer.Option(True, help="Random resized crop + flip per clip."),
    feature_cache: bool = typer.Option(
        True, help="With a frozen backbone, encode frames once and train the head on the cache."
    ),
    cache_dir: Path | None = typer.Option(None, help="Cache folder (default ~/.cache/vidact)."),
    accelerator: str = typer.Option("auto", help="cpu, gpu or auto."),
    devices: str = typer.Option("auto", help="Number of devices or 'auto'."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    out: Path = typer.Option(Path("runs/run"), help="Run directory to write."),
    overwrite: bool = typer.Option(False, help="Replace a run already in --out."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Train a per-frame CNN + temporal head on a folder of videos."""
    setup_logging(verbose)
    config = TrainConfig(
        data=DataConfig(
            root=str(data),
            split_file=str(split_file) if split_file else None,
            val_fraction=val_fraction,
            test_fraction=test_fraction,
            group_regex=group_regex,
            extensions=tuple(e.strip() for e in extensions.split(",") if e.strip()),
            frames=frames,
            size=size,
            batch_size=batch_size,
            workers=workers,
            augment=augment,
        ),
        model=ModelConfig(
            backbone=backbone,
            pretrained=pretrained,
            weights=str(weights) if weights else None,
            head=head,
            head_args=parse_head_args(head_arg),
            mlp=parse_widths(mlp),
            dropout=dropout,
            freeze_backbone=freeze_backbone,
        ),
        out=str(out),
        epochs=epochs,
        lr=lr,
        optimizer=optimizer,
        weight_decay=weight_decay,
        patience=patience,
        seed=seed,
        accelerator=accelerator,
        devices=devices,
        feature_cache=feature_cache,
        cache_dir=str(cache_dir) if cache_dir else None,
        progress=progress,
        overwrite=overwrite,
    )
    result = run_training(config)
    summary = result.summary
    typer.echo(
        f"best epoch {summary['best_epoch']}: val_loss {summary['best_val_loss']:.4f}, "
        f"val_acc {summary['best_val_acc']:.4f} ({summary['epochs_run']} epochs, "
        f"{summary['wall_seconds']:.0f} s)"
    )
    typer.echo(f"run directory: {result.run_dir}  (best checkpoint: {result.best_checkpoint})")
