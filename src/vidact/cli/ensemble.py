"""vidact ensemble: several models fused, scored on a split, and saved as one file if asked."""

from __future__ import annotations

from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.evaluate import parse_topk
from vidact.cli.options import (
    AllowImages,
    Annotations,
    Categories,
    Classes,
    ClassesFile,
    DataRoot,
    DatasetKind,
    Device,
    Fold,
    GroupRegex,
    SplitFile,
    ValFraction,
    Workers,
    data_config,
)
from vidact.errors import ConfigError


@friendly_errors
def ensemble(
    ctx: typer.Context,
    checkpoints: list[Path] = typer.Argument(..., help="Two or more checkpoints (same classes)."),
    data: DataRoot = ...,  # type: ignore[assignment]
    dataset: DatasetKind = None,
    annotations: Annotations = None,
    fold: Fold = None,
    split_file: SplitFile = None,
    val_fraction: ValFraction = None,
    group_regex: GroupRegex = None,
    classes: Classes = None,
    classes_file: ClassesFile = None,
    allow_images: AllowImages = None,
    categories: Categories = None,
    split: str | None = typer.Option(None, help="train, val or test (default test)."),
    weights: str | None = typer.Option(None, help="One weight per model, e.g. 2,1 (equal)."),
    fuse: str = typer.Option("probs", help="Average probabilities (probs) or logits."),
    save: Path | None = typer.Option(
        None, help="Also write the ensemble as one file predict, watch and serve take."
    ),
    topk: str = typer.Option("1,5", help="Top-k accuracies to report, e.g. 1,2,5."),
    seed: int = typer.Option(0, help="Seed of the validation carve-out (use the runs')."),
    out: Path = typer.Option(Path("ensemble"), help="Report folder to write."),
    batch_size: int = typer.Option(8, help="Videos per batch."),
    workers: Workers = None,
    device: Device = None,
) -> None:
    """Score each model and their fusion on the same videos: OUT/metrics.json (the ensemble),
    OUT/members/<name>/ (each model), OUT/ensemble.json (every headline figure)."""
    from vidact.evaluation.ensemble import check_fusion, evaluate_ensemble, save_ensemble
    from vidact.evaluation.report import split_items
    from vidact.inference.predictor import Predictor

    parsed = None
    if weights is not None:
        try:
            parsed = [float(w) for w in weights.split(",")]
        except ValueError:
            raise ConfigError(f"--weights {weights!r}: give numbers separated by commas") from None
    normalised = check_fusion(len(checkpoints), parsed, fuse)
    ks = parse_topk(topk)
    config = data_config(ctx.params)
    predictors = [
        Predictor.from_checkpoint(c, device, allow_images=config.allow_images) for c in checkpoints
    ]
    items = split_items(config, predictors[0].classes, split, seed)
    summary = evaluate_ensemble(
        predictors, items, out, normalised, fuse, batch_size, workers, categories, ks
    )
    for member in summary["members"]:
        typer.echo(f"{member['name']:<24} top1 {member['top1']:.4f}  loss {member['loss']:.4f}")
    fused = summary["ensemble"]
    typer.echo(
        f"{'ensemble (' + fuse + ')':<24} top1 {fused['top1']:.4f}  loss {fused['loss']:.4f}"
    )
    typer.echo(f"report: {out}")
    if save is not None:
        typer.echo(f"ensemble file: {save_ensemble(checkpoints, save, normalised, fuse)}")
