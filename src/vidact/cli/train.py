"""vidact train: train a clip classifier and write a run directory."""

from __future__ import annotations

from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import (
    EncoderPrecision,
    EncoderRuntime,
    FrameFit,
    MaxBadFraction,
    Workers,
    config_values,
    dataset_options,
)
from vidact.config import DataConfig, ModelConfig, TrainConfig, resolve_config
from vidact.data.transforms import AUGMENT_PRESETS
from vidact.errors import ConfigError
from vidact.models.backbones import POOLS
from vidact.models.heads import heads_with_input, list_heads
from vidact.sampling import list_samplers
from vidact.training.optim import OPTIMIZERS, SCHEDULERS
from vidact.training.trainer import TrainResult, is_main_process
from vidact.training.trainer import resume as resume_training
from vidact.training.trainer import train as run_training

# the defaults quoted in help texts: the config dataclasses hold them, not this file
_DATA, _MODEL, _TRAIN = DataConfig(), ModelConfig(), TrainConfig()


@friendly_errors
@dataset_options()
def train(
    ctx: typer.Context,
    data: Path | None = typer.Option(None, "--data", help="Dataset root: ROOT/<class>/<video>."),
    config: Path | None = typer.Option(
        None, help="Recipe YAML (configs/); flags given on the command line override it."
    ),
    resume: Path | None = typer.Option(
        None,
        help="Continue the run in this directory from its last.ckpt (--epochs may raise "
        "the total; --workers and device flags may change).",
    ),
    backbone: str | None = typer.Option(None, help=f"Any timm model name. [{_MODEL.backbone}]"),
    pretrained: bool | None = typer.Option(
        None,
        "--pretrained/--no-pretrained",
        help="Offline ImageNet weights (default: when the backbone has them).",
    ),
    weights: Path | None = typer.Option(None, help="Local backbone state dict to start from."),
    pool: str | None = typer.Option(
        None,
        help=f"Backbone pooling: {', '.join(POOLS)} (flatten: the whole feature map, seeds "
        "003/004; halves: the left and right half apart). [the backbone's own]",
    ),
    head: str | None = typer.Option(
        None, help=f"Temporal head: {', '.join(list_heads())}. [{_MODEL.head}]"
    ),
    head_arg: list[str] | None = typer.Option(None, help="Head argument KEY=VALUE, repeatable."),
    temporal_input: str | None = typer.Option(
        None,
        help="Head input: raw features; diff (joined with their change since the last frame); "
        "drift (joined with their change since the clip's first frame); centre (departure from "
        "the clip's mean, joined with the mean); norm (layer-normalised). "
        f"Default: raw for {', '.join(heads_with_input('raw'))}; drift otherwise.",
    ),
    appearance_dropout: float | None = typer.Option(
        None,
        help="Training only: drop the appearance half of a diff, drift or centre input for a "
        "whole clip with this probability, so the head learns from change. "
        "Default: 0.5 with those inputs.",
    ),
    mlp: str | None = typer.Option(
        None, help="Classifier hidden widths, comma-separated ('' for none). [256; none: linear]"
    ),
    dropout: float | None = typer.Option(None, help=f"[{_MODEL.dropout}]"),
    freeze: str | None = typer.Option(
        None,
        help="Backbone: all (frozen) or none (trained); default: all when it starts "
        "from trained weights.",
    ),
    freeze_backbone: bool | None = typer.Option(
        None, "--freeze-backbone/--train-backbone", help="Shorthand for --freeze all / none."
    ),
    trainable_layers: int | None = typer.Option(
        None, help="With --freeze all: train the backbone's last N parameterised layers."
    ),
    unfreeze_epoch: int | None = typer.Option(
        None, help="Unfreeze the whole backbone from this epoch on (1-based)."
    ),
    backbone_lr_mult: float | None = typer.Option(
        None, help=f"Backbone learning rate / head's. [{_MODEL.backbone_lr_mult}]"
    ),
    frames: int | None = typer.Option(None, help=f"Frames per clip (T). [{_DATA.frames}]"),
    sampling: str | None = typer.Option(
        None, help=f"{', '.join(list_samplers())}. [{_DATA.strategy}]"
    ),
    interval: int | None = typer.Option(
        None, help=f"Frames between picks (stride, dense, window). [{_DATA.interval}]"
    ),
    window_stride: str | None = typer.Option(
        None, help="Window starts, frames (16) or seconds (0.5s); default back to back."
    ),
    size: int | None = typer.Option(None, help="Input size in pixels (default: the backbone's)."),
    frame_fit: FrameFit = None,
    augment: str | None = typer.Option(
        None, help=f"Preset: {', '.join(AUGMENT_PRESETS.names())}. [{_DATA.augment}]"
    ),
    flip: bool | None = typer.Option(None, "--flip/--no-flip", help="Horizontal flips."),
    rotation: float | None = typer.Option(None, help="Rotation, degrees."),
    translate: float | None = typer.Option(None, help="Shift, fraction of the size."),
    zoom: float | None = typer.Option(None, help="Zoom, +- fraction."),
    color_jitter: float | None = typer.Option(None, help="Brightness/contrast/saturation."),
    crop_scale: float | None = typer.Option(None, help="Random resized crop: smallest area."),
    epochs: int | None = typer.Option(None, help=f"[{_TRAIN.epochs}]"),
    batch_size: int | None = typer.Option(None, help=f"[{_DATA.batch_size}]"),
    lr: float | None = typer.Option(None, help=f"[{_TRAIN.lr}]"),
    optimizer: str | None = typer.Option(
        None, help=f"{', '.join(OPTIMIZERS.names())}. [{_TRAIN.optimizer}]"
    ),
    momentum: float | None = typer.Option(None, help=f"SGD momentum. [{_TRAIN.momentum}]"),
    nesterov: bool | None = typer.Option(
        None, "--nesterov/--no-nesterov", help="SGD with Nesterov momentum."
    ),
    weight_decay_scope: str | None = typer.Option(
        None,
        help=f"Decay all weights, or the classifier's only (Keras L2 on Dense layers). "
        f"[{_TRAIN.weight_decay_scope}]",
    ),
    lr_decay: float | None = typer.Option(
        None, help=f"--scheduler decay: lr / (1 + lr_decay x step), seed 002. [{_TRAIN.lr_decay}]"
    ),
    weight_decay: float | None = typer.Option(
        None, help=f"L2 / decoupled weight decay. [{_TRAIN.weight_decay}]"
    ),
    label_smoothing: float | None = typer.Option(None, help=f"[{_TRAIN.label_smoothing}]"),
    class_weight: str | None = typer.Option(
        None,
        help="balanced: each class weighs alike in the loss, whatever its share of the "
        f"training clips. [{_TRAIN.class_weight}]",
    ),
    scheduler: str | None = typer.Option(
        None, help=f"{', '.join(SCHEDULERS.names())} (plateau: on val_loss). [{_TRAIN.scheduler}]"
    ),
    warmup_epochs: int | None = typer.Option(
        None, help=f"Linear warm-up before the cosine decay. [{_TRAIN.warmup_epochs}]"
    ),
    grad_clip: float | None = typer.Option(None, help="Clip the gradient norm to this."),
    accumulate: int | None = typer.Option(
        None, help=f"Batches per optimiser step. [{_TRAIN.accumulate}]"
    ),
    precision: str | None = typer.Option(
        None, help=f"32-true, 16-mixed or bf16-mixed (GPU). [{_TRAIN.precision}]"
    ),
    patience: int | None = typer.Option(
        None, help=f"Early stopping patience on val_loss, in epochs. [{_TRAIN.patience}]"
    ),
    refit: bool | None = typer.Option(
        None,
        "--refit/--no-refit",
        help="After a full-batch fit (lbfgs), fit again on training + validation videos "
        "(best.ckpt; the held-out model stays as held_out.ckpt).",
    ),
    augmented_copies: int | None = typer.Option(
        None,
        help="A full-batch fit (lbfgs) of a pose encoder's features also learns from this many "
        f"augmented copies of each training video. [{_TRAIN.augmented_copies}]",
    ),
    seed: int | None = typer.Option(None, help=f"[{_TRAIN.seed}]"),
    workers: Workers = None,
    max_bad_fraction: MaxBadFraction = None,
    feature_cache: bool | None = typer.Option(
        None,
        "--feature-cache/--no-feature-cache",
        help="With a frozen backbone, encode frames once and train the head on the cache.",
    ),
    feature_views: int | None = typer.Option(
        None,
        help="Frozen backbone: cache K views per video (the plain one and K-1 augmented with "
        f"--augment), one drawn per epoch. [{_TRAIN.feature_views}]",
    ),
    encoder_runtime: EncoderRuntime = None,
    encoder_precision: EncoderPrecision = None,
    cache_dir: Path | None = typer.Option(
        None, help="Cache folder: frame features (default ~/.cache/vidact) and decoded clips."
    ),
    accelerator: str | None = typer.Option(None, help=f"cpu, gpu or auto. [{_TRAIN.accelerator}]"),
    devices: str | None = typer.Option(
        None, help=f"Number of devices, ids (0,1), -1 (all), or 'auto' (one). [{_TRAIN.devices}]"
    ),
    num_nodes: int | None = typer.Option(None, help="Machines (torchrun / SLURM)."),
    strategy: str | None = typer.Option(None, help="Lightning strategy: ddp, ddp_spawn, ..."),
    tensorboard: bool | None = typer.Option(
        None, "--tensorboard/--no-tensorboard", help="TensorBoard logs in RUN/tensorboard."
    ),
    progress: bool | None = typer.Option(
        None, "--progress/--no-progress", help="Show a progress bar."
    ),
    out: Path | None = typer.Option(None, help=f"Run directory to write. [{_TRAIN.out}]"),
    overwrite: bool | None = typer.Option(
        None,
        "--overwrite/--no-overwrite",
        help="Replace a run already in --out (deleted once the new run saves a checkpoint).",
    ),
) -> None:
    """Train a per-frame CNN + temporal head on a folder of videos."""
    options = config_values(
        {k: v for k, v in ctx.params.items() if k not in ("config", "resume", "verbose")}
    )
    if resume is not None:
        if config is not None:
            raise ConfigError("--resume continues a run as configured; it takes no --config")
        _report(resume_training(resume, options))
    else:
        _report(run_training(resolve_config(config, options)))


def _report(result: TrainResult) -> None:
    if not is_main_process():  # under DDP every process gets here; one report is enough
        return
    summary = result.summary
    typer.echo(
        f"best epoch {summary['best_epoch']}: val_loss {summary['best_val_loss']:.4f}, "
        f"val_acc {summary['best_val_acc']:.4f} ({summary['epochs_run']} epochs, "
        f"{summary['wall_seconds']:.0f} s)"
    )
    if summary.get("refit"):
        typer.echo(
            f"refitted on {summary['refit']['videos']} training + validation videos: "
            "best.ckpt (the figures above are held_out.ckpt's)"
        )
    if summary["unreadable_videos"]:
        typer.echo(
            f"skipped {len(summary['unreadable_videos'])} unreadable video(s): "
            + ", ".join(summary["unreadable_videos"])
        )
    typer.echo(f"run directory: {result.run_dir}  (best checkpoint: {result.best_checkpoint})")
