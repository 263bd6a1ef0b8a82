"""vidact train: train a clip classifier and write a run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml

from vidact.cli.common import friendly_errors, setup_logging
from vidact.cli.options import (
    DEFAULT_EXTENSIONS,
    Annotations,
    DatasetKind,
    Extensions,
    Fold,
    GroupRegex,
    SkipMissing,
    SplitFile,
    TestFraction,
    ValFraction,
    Workers,
    data_config,
)
from vidact.config import ModelConfig, TrainConfig, load_recipe, merge_recipe
from vidact.training.trainer import TrainResult, is_main_process
from vidact.training.trainer import resume as resume_training
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
    ctx: typer.Context,
    data: Path | None = typer.Option(None, "--data", help="Dataset root: ROOT/<class>/<video>."),
    config: Path | None = typer.Option(
        None, help="Recipe YAML (configs/); flags given on the command line override it."
    ),
    resume: Path | None = typer.Option(
        None,
        help="Continue the run in this directory from its last.ckpt (--epochs may raise "
        "the total).",
    ),
    dataset: DatasetKind = "folder",
    annotations: Annotations = None,
    fold: Fold = 1,
    skip_missing: SkipMissing = False,
    split_file: SplitFile = None,
    val_fraction: ValFraction = 0.15,
    test_fraction: TestFraction = 0.15,
    group_regex: GroupRegex = None,
    extensions: Extensions = DEFAULT_EXTENSIONS,
    backbone: str = typer.Option("tf_efficientnet_lite0", help="Any timm model name."),
    pretrained: bool | None = typer.Option(
        None,
        "--pretrained/--no-pretrained",
        help="Offline ImageNet weights (default: when the backbone has them).",
    ),
    weights: Path | None = typer.Option(None, help="Local backbone state dict to start from."),
    pool: str | None = typer.Option(None, help="Backbone global pooling: avg or max."),
    head: str = typer.Option(
        "lstm", help="Temporal head: lstm, gru, rnn, bilstm, bigru, transformer, mean, max."
    ),
    head_arg: list[str] = typer.Option([], help="Head argument KEY=VALUE, repeatable."),
    mlp: str = typer.Option("256", help="Classifier hidden widths, comma-separated ('' for none)."),
    dropout: float = typer.Option(0.3),
    freeze: str | None = typer.Option(
        None,
        help="Backbone: all (frozen) or none (trained); default: all when it starts "
        "from trained weights.",
    ),
    freeze_backbone: bool | None = typer.Option(
        None, "--freeze-backbone/--train-backbone", help="Shorthand for --freeze all / none."
    ),
    trainable_layers: int = typer.Option(
        0, help="With --freeze all: train the backbone's last N parameterised layers."
    ),
    unfreeze_epoch: int | None = typer.Option(
        None, help="Unfreeze the whole backbone from this epoch on (1-based)."
    ),
    backbone_lr_mult: float = typer.Option(1.0, help="Backbone learning rate / head's."),
    frames: int = typer.Option(8, help="Frames per clip (T)."),
    sampling: str = typer.Option("segment", help="segment, uniform, stride, dense or window."),
    interval: int = typer.Option(1, help="Frames between picks (stride, dense, window)."),
    window_stride: str | None = typer.Option(
        None, help="Window starts, frames (16) or seconds (0.5s); default back to back."
    ),
    size: int | None = typer.Option(None, help="Input size in pixels (default: the backbone's)."),
    augment: str = typer.Option("light", help="Preset: none, light, seeds or strong."),
    flip: bool | None = typer.Option(None, "--flip/--no-flip", help="Horizontal flips."),
    rotation: float | None = typer.Option(None, help="Rotation, degrees."),
    translate: float | None = typer.Option(None, help="Shift, fraction of the size."),
    zoom: float | None = typer.Option(None, help="Zoom, +- fraction."),
    color_jitter: float | None = typer.Option(None, help="Brightness/contrast/saturation."),
    crop_scale: float | None = typer.Option(None, help="Random resized crop: smallest area."),
    epochs: int = typer.Option(30),
    batch_size: int = typer.Option(8),
    lr: float = typer.Option(1e-3),
    optimizer: str = typer.Option("adam", help="adam, adamw or sgd."),
    momentum: float = typer.Option(0.9, help="SGD momentum."),
    nesterov: bool = typer.Option(False, help="SGD with Nesterov momentum."),
    weight_decay: float = typer.Option(0.0, help="L2 / decoupled weight decay."),
    label_smoothing: float = typer.Option(0.0),
    scheduler: str = typer.Option("plateau", help="plateau (on val_loss), cosine or none."),
    warmup_epochs: int = typer.Option(0, help="Linear warm-up before the cosine decay."),
    grad_clip: float | None = typer.Option(None, help="Clip the gradient norm to this."),
    accumulate: int = typer.Option(1, help="Batches per optimiser step."),
    precision: str = typer.Option("32-true", help="32-true, 16-mixed or bf16-mixed (GPU)."),
    patience: int = typer.Option(8, help="Early stopping patience on val_loss, in epochs."),
    seed: int = typer.Option(0),
    workers: Workers = None,
    max_bad_fraction: float = typer.Option(
        0.05, help="Stop when more than this share of videos is unreadable."
    ),
    feature_cache: bool = typer.Option(
        True, help="With a frozen backbone, encode frames once and train the head on the cache."
    ),
    cache_dir: Path | None = typer.Option(
        None, help="Cache folder: frame features (default ~/.cache/vidact) and decoded clips."
    ),
    accelerator: str = typer.Option("auto", help="cpu, gpu or auto."),
    devices: str = typer.Option("auto", help="Number of devices or 'auto'."),
    num_nodes: int = typer.Option(1, help="Machines (torchrun / SLURM)."),
    strategy: str = typer.Option("auto", help="Lightning strategy: ddp, ddp_spawn, ..."),
    tensorboard: bool = typer.Option(True, help="TensorBoard logs in RUN/tensorboard."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
    out: Path = typer.Option(Path("runs/run"), help="Run directory to write."),
    overwrite: bool = typer.Option(False, help="Replace a run already in --out."),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
) -> None:
    """Train a per-frame CNN + temporal head on a folder of videos."""
    setup_logging(verbose)
    if resume is not None:
        result = resume_training(resume, epochs if _given(ctx, "epochs") else None)
        _report(result)
        return
    if freeze_backbone is not None:
        freeze = "all" if freeze_backbone else "none"
    if data is None and config is None:
        raise ValueError("say where the videos are: --data ROOT (or a --config that sets it)")
    options = TrainConfig(
        data=data_config(
            data or Path(),
            dataset,
            annotations,
            fold,
            skip_missing,
            split_file,
            val_fraction,
            test_fraction,
            group_regex,
            extensions,
            frames=frames,
            strategy=sampling,
            interval=interval,
            window_stride=window_stride,
            size=size,
            batch_size=batch_size,
            workers=workers,
            augment=augment,
            flip=flip,
            rotation=rotation,
            translate=translate,
            zoom=zoom,
            color_jitter=color_jitter,
            crop_scale=crop_scale,
            max_bad_fraction=max_bad_fraction,
        ),
        model=ModelConfig(
            backbone=backbone,
            pretrained=pretrained,
            weights=str(weights) if weights else None,
            pool=pool,
            head=head,
            head_args=parse_head_args(head_arg),
            mlp=parse_widths(mlp),
            dropout=dropout,
            freeze=freeze,
            trainable_layers=trainable_layers,
            unfreeze_epoch=unfreeze_epoch,
            backbone_lr_mult=backbone_lr_mult,
        ),
        out=str(out),
        epochs=epochs,
        lr=lr,
        optimizer=optimizer,
        momentum=momentum,
        nesterov=nesterov,
        weight_decay=weight_decay,
        label_smoothing=label_smoothing,
        scheduler=scheduler,
        warmup_epochs=warmup_epochs,
        patience=patience,
        grad_clip=grad_clip,
        accumulate=accumulate,
        precision=precision,
        seed=seed,
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        tensorboard=tensorboard,
        feature_cache=feature_cache,
        cache_dir=str(cache_dir) if cache_dir else None,
        progress=progress,
        overwrite=overwrite,
    )
    if config is not None:
        explicit = {name for name in ctx.params if _given(ctx, name)}
        if freeze_backbone is not None:
            explicit.add("freeze")
        options = merge_recipe(load_recipe(config), options, explicit)
    _report(run_training(options))


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user typed this option (rather than getting its default)."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name not in ("DEFAULT", "DEFAULT_MAP")


def _report(result: TrainResult) -> None:
    if not is_main_process():  # under DDP every process gets here; one report is enough
        return
    summary = result.summary
    typer.echo(
        f"best epoch {summary['best_epoch']}: val_loss {summary['best_val_loss']:.4f}, "
        f"val_acc {summary['best_val_acc']:.4f} ({summary['epochs_run']} epochs, "
        f"{summary['wall_seconds']:.0f} s)"
    )
    if summary["unreadable_videos"]:
        typer.echo(
            f"skipped {len(summary['unreadable_videos'])} unreadable video(s): "
            + ", ".join(summary["unreadable_videos"])
        )
    typer.echo(f"run directory: {result.run_dir}  (best checkpoint: {result.best_checkpoint})")
