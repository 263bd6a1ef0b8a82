"""vidact evaluate: score a checkpoint on a split and write the report."""

from __future__ import annotations

from pathlib import Path

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import (
    Categories,
    DataRoot,
    Device,
    EncoderRuntime,
    Overwrite,
    Reject,
    Workers,
    data_config,
    dataset_options,
    parse_topk,
)
from vidact.evaluation.metrics import interval_note, warn_few_groups, weakest_groups
from vidact.evaluation.report import evaluate as run_evaluation
from vidact.evaluation.report import run_split_file, split_items, warn_refit_on_validation
from vidact.inference.corpus import find_videos
from vidact.inference.load import load_predictor
from vidact.io.outputs import check_folder


@friendly_errors
@dataset_options("test_fraction")
def evaluate(
    ctx: typer.Context,
    checkpoint: Path = typer.Argument(..., help="A checkpoint (RUN/checkpoints/best.ckpt)."),
    data: DataRoot = ...,  # type: ignore[assignment]
    categories: Categories = None,
    split: str | None = typer.Option(
        None,
        help="Which split to score: train, val or test (default test). A plain folder takes "
        "the split the checkpoint's run was trained with (RUN/split.csv) when that lists its "
        "videos; any other plain folder has no split: every video is scored.",
    ),
    clips: int = typer.Option(1, help="Clips per video; their scores are averaged."),
    crops: int = typer.Option(1, help="Spatial crops per clip: 1 (centre) or 3."),
    seed: int = typer.Option(0, help="Seed of the validation carve-out (use the run's)."),
    unknown_dir: Path | None = typer.Option(
        None,
        help="Videos of activities the model was not trained on (searched recursively): "
        "reports the open-set AUROC and how many the --reject threshold holds out.",
    ),
    out: Path = typer.Option(Path("eval"), help="Report folder to write."),
    overwrite: Overwrite = False,
    topk: str = typer.Option("1,5", help="Top-k accuracies to report, e.g. 1,2,5."),
    batch_size: int = typer.Option(8, help="Videos per batch."),
    workers: Workers = None,
    reject: Reject = "auto",
    encoder_runtime: EncoderRuntime = None,
    device: Device = None,
) -> None:
    """Write metrics.json, predictions.csv and plots for one split."""
    check_folder(out, overwrite)
    config = data_config(ctx.params)
    predictor = load_predictor(
        checkpoint, device, clips, crops, config.allow_images, None, reject, encoder_runtime
    )
    items = split_items(config, predictor.classes, split, seed, run_split_file([checkpoint]))
    warn_refit_on_validation([checkpoint], split)
    ks = parse_topk(topk)
    outside = find_videos([unknown_dir]) if unknown_dir is not None else []
    metrics = run_evaluation(predictor, items, out, batch_size, workers, categories, ks, outside)
    spread = interval_note(metrics["top1_interval"], metrics["interval_over"])
    warn_few_groups(metrics["interval_groups"], metrics["interval_over"])
    accuracies = "  ".join(
        f"top{k} {metrics[f'top{k}']:.4f}" + (spread if k == 1 else "") for k in sorted({1, 5, *ks})
    )
    typer.echo(
        f"{metrics['num_videos']} videos x {clips * crops} views: {accuracies}  "
        f"mean class accuracy {metrics['mean_class_accuracy']:.4f}  loss {metrics['loss']:.4f}"
    )
    width = max(len(name) for name in metrics["per_class"])
    for name, row in metrics["per_class"].items():
        typer.echo(f"  {name:<{width}}  acc {row['accuracy']:.3f}  support {row['support']}")
    for name, row in metrics.get("per_category", {}).items():
        typer.echo(f"  [{name}]  acc {row['accuracy']:.3f}  videos {row['num_videos']}")
    if weakest := weakest_groups(metrics.get("per_group") or {}):
        typer.echo(f"  lowest top-1 by group: {weakest}")
    rejection = metrics["rejection"]
    threshold = rejection["threshold"]
    distance = rejection.get("score") == "distance"
    rule = "beyond open-set distance" if distance else "below top probability"
    line = (
        "rejection: off (--reject P; auto rejects by open-set distance, which a model has "
        "when trained with 8+ validation clips)"
        if threshold is None
        else f"rejection {rule} {threshold:.4g}: {rejection['known_rejected']:.1%} of these "
        "videos answered unknown"
    )
    if "unknown_videos" in rejection:
        line += (
            f"; {rejection['unknown_videos']} unknown-class videos: open-set AUROC "
            f"{rejection['open_set_auroc']:.3f} (top probability "
            f"{rejection['open_set_auroc_top_probability']:.3f}), "
            f"{rejection['unknown_rejected']:.1%} held out, open-set accuracy "
            f"{rejection['open_set_accuracy']:.3f}"
        )
    typer.echo(line)
    if "operating_points" in rejection:
        choices = "; ".join(
            f"{point['false_accept_target']:.0%} of unknown videos let through: --reject "
            f"{point['threshold']:.6g} (rejects {point['known_rejected']:.1%} of the known)"
            for point in rejection["operating_points"]
        )
        typer.echo(f"thresholds: {choices}")
    if metrics["unreadable"]:
        typer.echo(f"unreadable, left out: {', '.join(metrics['unreadable'])}")
    typer.echo(f"report: {out}")
