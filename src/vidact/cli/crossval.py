"""vidact crossval: a recipe's accuracy on groups (sources, people) it never saw, and how many
clips it needs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from vidact.cli.common import friendly_errors
from vidact.cli.options import (
    AllowImages,
    Categories,
    EncoderPrecision,
    EncoderRuntime,
    Extensions,
    FrameFit,
    GroupRegex,
    Groups,
    MaxBadFraction,
    Overwrite,
    RunProgress,
    ValFraction,
    Workers,
    config_values,
)
from vidact.config import resolve_config
from vidact.errors import ConfigError
from vidact.io.outputs import check_folder


@friendly_errors
def crossval(
    config: list[Path] | None = typer.Option(
        None,
        help="A recipe (YAML), as train --config takes; give two or more to compare them on "
        "the same folds and score their ensemble (OUT/<recipe>/, OUT/ensemble/).",
    ),
    data: Path | None = typer.Option(None, "--data", help="Dataset root: ROOT/<class>/<video>."),
    groups: Groups = None,
    group_regex: GroupRegex = None,
    extensions: Extensions = None,
    allow_images: AllowImages = None,
    folds: int = typer.Option(5, help="Folds: each tests on its groups, trains on the others."),
    train_sizes: str | None = typer.Option(
        None,
        help="Also train each fold on these shares of its groups, e.g. 0.25,0.5,1: the "
        "learning curve.",
    ),
    head: str | None = typer.Option(None, help="Temporal head (overrides the recipe)."),
    backbone: str | None = typer.Option(None, help="Frame encoder (overrides the recipe)."),
    epochs: int | None = typer.Option(None, help="Epochs per run (overrides the recipe)."),
    frames: int | None = typer.Option(None, help="Frames per clip (overrides the recipe)."),
    size: int | None = typer.Option(None, help="Input size (overrides the recipe)."),
    batch_size: int | None = typer.Option(None, help="Clips per batch (overrides the recipe)."),
    val_fraction: ValFraction = None,
    frame_fit: FrameFit = None,
    seed: int | None = typer.Option(None, help="Seed of the folds and of training. [0]"),
    repeats: int = typer.Option(
        1,
        help="Partitions of the groups to cross-validate on, seeds --seed, --seed + 1, ... "
        "(OUT/seed-S/ each, one feature cache): with few groups the figure depends on which "
        "groups share a fold; the mean and spread over partitions say how much.",
    ),
    cache_dir: Path | None = typer.Option(
        None, help="Feature cache shared by the runs. [OUT/cache]"
    ),
    encoder_runtime: EncoderRuntime = None,
    encoder_precision: EncoderPrecision = None,
    categories: Categories = None,
    workers: Workers = None,
    max_bad_fraction: MaxBadFraction = None,
    progress: RunProgress = True,
    out: Path = typer.Option(Path("crossval"), help="Folder for the folds, runs and reports."),
    overwrite: Overwrite = False,
) -> None:
    """Deal the groups into K folds (whole groups, stratified by class), train on K-1 and test on
    the one left out, each fold in turn, with validation carved from the training groups; report
    the pooled figures over every video and each fold's. Finished runs are kept. Two or more
    --config: each recipe on the same folds, and their ensemble (probabilities averaged)."""
    from vidact.evaluation.crossval import parse_sizes

    check_folder(out, overwrite)
    sizes = parse_sizes(train_sizes)
    options = {
        "data": data, "groups": groups, "group_regex": group_regex, "extensions": extensions,
        "head": head, "backbone": backbone, "epochs": epochs, "frames": frames, "size": size,
        "frame_fit": frame_fit, "seed": seed, "workers": workers, "cache_dir": cache_dir,
        "progress": progress, "encoder_runtime": encoder_runtime,
        "encoder_precision": encoder_precision, "max_bad_fraction": max_bad_fraction,
        "allow_images": allow_images, "batch_size": batch_size, "val_fraction": val_fraction,
    }  # fmt: skip
    recipes = config or []
    if len(recipes) > 1 and train_sizes:
        raise ConfigError("--train-sizes draws one recipe's learning curve; give one --config")
    if repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, got {repeats}")

    def partition(values: dict[str, Any], folder: Path) -> dict[str, dict[str, Any]]:
        return _partition(recipes, values, folds, folder, sizes, categories, workers)

    if repeats == 1:
        partition(config_values(options), out)
        return
    recipe = recipes[0] if recipes else None
    _repeated(partition, recipe, options, folds, sizes, out, repeats)


def _partition(
    recipes: list[Path],
    options: dict[str, Any],
    folds: int,
    out: Path,
    sizes: tuple[float, ...],
    categories: Path | None,
    workers: int | None,
) -> dict[str, dict[str, Any]]:
    """One partition's crossval, of one recipe or several and their ensemble, printed; recipe
    name (``defaults`` without one) -> its summary."""
    from vidact.evaluation.crossval import run_crossval

    if len(recipes) > 1:
        return _compare(recipes, options, folds, out, categories, workers)
    base = resolve_config(recipes[0] if recipes else None, options)
    summary = run_crossval(base, folds, out, sizes, categories, workers)
    _echo_summary(summary, folds, sizes)
    typer.echo(f"report: {out} (crossval.json, crossval.csv, metrics.json, plots)")
    return {recipes[0].stem if recipes else "defaults": summary}


def _repeated(
    partition: Callable[[dict[str, Any], Path], dict[str, dict[str, Any]]],
    recipe: Path | None,
    options: dict[str, Any],
    folds: int,
    sizes: tuple[float, ...],
    out: Path,
    repeats: int,
) -> None:
    """``repeats`` partitions (``partition`` of each one's config values into OUT/seed-S/), one
    feature cache, then each recipe's figures over them (OUT/repeats.json)."""
    from vidact.evaluation.crossval import plan_crossval, repeat_summary
    from vidact.io.outputs import report_folder

    options = {**options, "cache_dir": options["cache_dir"] or out / "cache"}
    first = resolve_config(recipe, config_values(options)).seed
    plans = {
        seed: config_values({**options, "seed": seed}) for seed in range(first, first + repeats)
    }
    # every partition dealt and checked before any run trains: a seed may leave a fold empty
    for seed, values in plans.items():
        plan_crossval(resolve_config(recipe, values), folds, sizes, out / f"seed-{seed}")
    report_folder(out)
    partitions = {}
    for number, (seed, values) in enumerate(plans.items(), start=1):
        typer.echo(f"partition {number}/{repeats}: --seed {seed}, in {out / f'seed-{seed}'}")
        partitions[seed] = partition(values, out / f"seed-{seed}")
    summary = repeat_summary(partitions, folds, out)
    _echo_repeats(summary)
    typer.echo(f"report: {out} (repeats.json; each partition in {out}/seed-S)")


def _echo_repeats(summary: dict[str, Any]) -> None:
    seeds = summary["seeds"]
    typer.echo(
        f"{len(seeds)} partitions of the groups (--seed {seeds[0]} to {seeds[-1]}), "
        f"{summary['folds']} folds each, pooled top-1:"
    )
    for name, entry in summary["recipes"].items():
        each = " / ".join(f"{value:.4f}" for value in entry["pooled_top1"])
        typer.echo(f"  {name}: {each}, mean {entry['mean']:.4f} ± {entry['sd']:.4f}")
        for point in entry.get("learning_curve", []):
            each = " / ".join(f"{value:.4f}" for value in point["pooled_top1"])
            typer.echo(
                f"    {point['train_clips_per_class']:6.1f} clips/class: {each}, mean "
                f"{point['mean']:.4f} ± {point['sd']:.4f}"
            )
        if against := entry.get("versus_first"):
            typer.echo(
                f"    against {against['recipe']}: {against['mean']:+.4f} on average, higher "
                f"on {against['higher_in']} and lower on {against['lower_in']} of "
                f"{len(seeds)} partitions"
            )


def _echo_summary(summary: dict[str, Any], folds: int, sizes: tuple[float, ...]) -> None:
    from vidact.evaluation.crossval import counted_groups
    from vidact.evaluation.metrics import interval_note, warn_few_groups, weakest_groups

    spread = interval_note(summary.get("pooled_top1_interval"))
    warn_few_groups(summary["num_groups"])
    typer.echo(
        f"{summary['num_videos']} videos in {summary['num_groups']} groups, {folds} folds: "
        f"pooled top-1 {summary['pooled_top1']:.4f}{spread}, mean class accuracy "
        f"{summary['pooled_mean_class_accuracy']:.4f}; per fold "
        f"{summary['fold_top1_mean']:.4f} ± {summary['fold_top1_sd']:.4f}"
    )
    if summary["pooled_known_rejected"] is not None:
        typer.echo(
            f"answered unknown (--reject auto): {summary['pooled_known_rejected']:.1%} of the "
            "test videos (each of a trained class)"
        )
    if summary.get("unreadable"):  # each fold reported them as it met them
        typer.echo(
            f"{len(summary['unreadable'])} video(s) could not be read and are left out: "
            + ", ".join(summary["unreadable"])
        )
    for row in summary["per_fold"]:
        refused = row["test_known_rejected"]
        typer.echo(
            f"  fold {row['fold']}: top-1 {row['test_top1']:.4f} on {row['test_videos']} videos "
            f"({counted_groups(row['test_groups'])}), trained on {row['train_videos']}"
            + (f", {refused:.1%} answered unknown" if refused is not None else "")
        )
    if weakest := weakest_groups(summary.get("per_group") or {}):
        typer.echo(f"  lowest top-1 by group: {weakest}")
    for point in summary["learning_curve"] if len(sizes) > 1 else []:
        typer.echo(
            f"  {point['train_clips_per_class']:6.1f} clips/class: pooled top-1 "
            f"{point['pooled_top1']:.4f}{interval_note(point.get('pooled_top1_interval'))} (folds "
            f"{point['fold_top1_mean']:.4f} ± {point['fold_top1_sd']:.4f})"
        )


def _compare(
    recipes: list[Path],
    options: dict[str, Any],
    folds: int,
    out: Path,
    categories: Path | None,
    workers: int | None,
) -> dict[str, dict[str, Any]]:
    """Each recipe on the same folds, then their ensemble: one summary each, then the table."""
    from vidact.evaluation.crossval import run_recipes
    from vidact.evaluation.metrics import difference_note

    names = [recipe.stem for recipe in recipes]
    if len(set(names)) < len(names):
        raise ConfigError(f"recipes need file names of their own (they name OUT/<name>/): {names}")
    configs = {recipe.stem: resolve_config(recipe, options) for recipe in recipes}
    summaries = run_recipes(configs, folds, out, categories, workers)
    for name, summary in summaries.items():
        typer.echo(f"{name}:")
        _echo_summary(summary, folds, (1.0,))
    typer.echo(
        "pooled top-1 on the same folds: "
        + ", ".join(f"{name} {s['pooled_top1']:.4f}" for name, s in summaries.items())
        + " (ensemble: probabilities averaged, as vidact ensemble of each fold's models)"
    )
    for name, summary in list(summaries.items())[1:]:
        against = summary["versus_first"]
        shown = difference_note(against["difference"], against["interval"], "groups", judged=True)
        typer.echo(f"  {name} against {against['recipe']}: {shown}")
    typer.echo(f"report: {out}/<recipe> and {out}/ensemble (crossval.json, metrics.json, plots)")
    return summaries
