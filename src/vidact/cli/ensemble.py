"""vidact ensemble: several models fused, scored on a split, and saved as one file if asked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import (
    Categories,
    DataRoot,
    Device,
    EncoderRuntime,
    Overwrite,
    Workers,
    data_config,
    dataset_options,
    parse_topk,
)
from vidact.errors import ConfigError
from vidact.io.outputs import check_folder, check_output


@friendly_errors
@dataset_options("skip_missing", "test_fraction", "extensions")
def ensemble(
    ctx: typer.Context,
    checkpoints: list[Path] = typer.Argument(..., help="Two or more checkpoints (same classes)."),
    data: DataRoot = ...,  # type: ignore[assignment]
    categories: Categories = None,
    split: str | None = typer.Option(
        None,
        help="train, val or test (default test); a plain folder takes the members' runs' split "
        "when they share one (RUN/split.csv) and it lists the folder's videos.",
    ),
    weights: str | None = typer.Option(None, help="One weight per model, e.g. 2,1 (equal)."),
    fuse: str = typer.Option("probs", help="Average probabilities (probs) or logits."),
    save: Path | None = typer.Option(
        None, help="Also write the ensemble as one file predict, watch and serve take."
    ),
    overwrite: Overwrite = False,
    topk: str = typer.Option("1,5", help="Top-k accuracies to report, e.g. 1,2,5."),
    seed: int = typer.Option(0, help="Seed of the validation carve-out (use the runs')."),
    out: Path = typer.Option(Path("ensemble"), help="Report folder to write."),
    batch_size: int = typer.Option(8, help="Videos per batch."),
    workers: Workers = None,
    device: Device = None,
    encoder_runtime: EncoderRuntime = None,
) -> None:
    """Score each model and their fusion on the same videos: OUT/metrics.json (the ensemble),
    OUT/members/<name>/ (each model), OUT/ensemble.json (every headline figure)."""
    from vidact.data.datasets import default_workers
    from vidact.evaluation.ensemble import evaluate_ensemble
    from vidact.evaluation.metrics import difference_note, warn_few_groups
    from vidact.evaluation.report import run_split_file, split_items, warn_refit_on_validation
    from vidact.inference.ensemble import EnsemblePredictor, check_fusion, save_ensemble
    from vidact.inference.predictor import Predictor

    parsed = None
    if weights is not None:
        try:
            parsed = [float(w) for w in weights.split(",")]
        except ValueError:
            raise ConfigError(f"--weights {weights!r}: give numbers separated by commas") from None
    normalised = check_fusion(len(checkpoints), parsed, fuse)
    ks = parse_topk(topk)
    check_folder(out, overwrite)
    if save is not None:  # before any scoring: never a member, never a file without --overwrite
        check_output(save, checkpoints, overwrite, "--save")
    config = data_config(ctx.params)
    members = [
        Predictor.from_checkpoint(
            c, device, allow_images=config.allow_images, encoder_runtime=encoder_runtime
        )
        for c in checkpoints
    ]
    ensemble = EnsemblePredictor(members, normalised, fuse)
    items = split_items(config, ensemble.classes, split, seed, run_split_file(checkpoints))
    warn_refit_on_validation(checkpoints, split)
    workers = default_workers() if workers is None else workers
    summary = evaluate_ensemble(ensemble, items, out, batch_size, workers, categories, ks)
    for member in summary["members"]:
        typer.echo(f"{member['name']:<24} {_figures(member)}")
    fused = summary["ensemble"]
    typer.echo(f"{'ensemble (' + fuse + ')':<24} {_figures(fused)}")
    for against in fused["versus_members"]:  # the same test sets drawn again for both
        shown = difference_note(against["difference"], against["interval"], fused["interval_over"])
        typer.echo(f"  against {against['member']}: {shown}")
    warn_few_groups(fused["interval_groups"], fused["interval_over"])
    typer.echo(f"report: {out}")
    if save is not None:
        saved = save_ensemble(checkpoints, save, normalised, fuse, overwrite)
        typer.echo(f"ensemble file: {saved}")


def _figures(headline: dict[str, Any]) -> str:
    from vidact.evaluation.metrics import interval_note

    spread = interval_note(headline["top1_interval"], headline["interval_over"])
    return f"top1 {headline['top1']:.4f}{spread}  loss {headline['loss']:.4f}"
