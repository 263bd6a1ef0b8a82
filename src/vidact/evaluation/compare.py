"""Comparing models as the seeds do: a grid of runs over one dataset and split, each evaluated on
the test split, tabulated with the mean and spread over seeds, and drawn as grouped bars.

A grid file (YAML) holds the shared settings in recipe form (or ``recipe: FILE``), the ``grid``
(any training option -> the values to try; every combination is one run) and what to report::

    recipe: configs/people_rgb.yaml        # optional
    settings: {data: {root: data/synthetic, split_file: data/synthetic/split.csv}, epochs: 10}
    grid: {backbone: [tf_efficientnet_lite0], head: [lstm, gru, mean], seed: [0, 1]}
    evaluate: {split: test, topk: [1, 2, 5]}

Runs share one feature cache, so heads on one frozen encoder cost seconds each: the training
videos are encoded once, and so are the test videos (``Predictor.cache_views``). A run whose
evaluation is already written is not repeated. ``collect_row`` reads any run directory and
evaluation folder, so runs made by hand are tabulated the same way. Where every run tested the
same videos, each configuration's test top-1 has its interval over the test groups drawn again,
and each later one its difference from the first with that difference's interval.
"""

from __future__ import annotations

import csv
import itertools
import json
import logging
import statistics
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from vidact.config import (
    TrainConfig,
    check_sections,
    check_topk,
    default_cache_dir,
    load_recipe,
    merge,
    nest_options,
    override,
    read_yaml,
)
from vidact.data.index import SPLITS
from vidact.errors import ConfigError, quote
from vidact.evaluation.metrics import (
    LEVEL,
    difference_note,
    group_bootstrap,
    paired_difference,
    top1_interval,
    warn_few_groups,
)
from vidact.evaluation.report import evaluate, run_split_file, split_items
from vidact.inference.load import load_predictor
from vidact.io.outputs import report_folder
from vidact.models.heads import resolve_model
from vidact.plots import plot_grouped_bars
from vidact.training.trainer import train
from vidact.training.validate import check_config, check_in_process

log = logging.getLogger(__name__)

FIGURES = ("best_epoch", "train_acc", "train_loss", "val_acc", "val_loss")
# a configuration's interval columns (``_add_intervals``), shown as ``interval_cells``
INTERVAL_COLUMNS = (
    "test_top1_low",
    "test_top1_high",
    "interval_over",
    "versus_first",
    "versus_first_low",
    "versus_first_high",
)


@dataclass(frozen=True)
class GridSpec:
    settings: dict[str, Any]  # recipe form: the shared settings
    grid: dict[str, list[Any]]  # option -> values
    split: str = "test"
    topk: tuple[int, ...] = (1, 5)

    @property
    def runs(self) -> list[dict[str, Any]]:
        """One option set per run: every combination of the grid's values."""
        keys = list(self.grid)
        combos = itertools.product(*(self.grid[k] for k in keys))
        return [dict(zip(keys, values, strict=True)) for values in combos]


def load_grid(path: str | Path) -> GridSpec:
    """A grid file, every part checked (the runs themselves by ``plan_runs``) before any run."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: grid file not found (--config)")
    raw = read_yaml(path, "a grid file")
    unknown = set(raw) - {"recipe", "settings", "grid", "evaluate"}
    if unknown:
        raise ConfigError(
            f"{path}: a grid file has recipe, settings, grid and evaluate; not {sorted(unknown)}"
        )
    grid = raw.get("grid") or {}
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"{path}: 'grid' must map options to lists of values")
    for name, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{path}: grid {name!r} must be a non-empty list of values")
        shown = [json.dumps(v, sort_keys=True, default=str) for v in values]
        repeated = sorted({text for text in shown if shown.count(text) > 1})
        if repeated:
            raise ConfigError(
                f"{path}: grid {name!r} lists {', '.join(repeated)} more than once; each "
                "combination is one run (use seed: [0, 1] for repeats)"
            )
    if raw.get("recipe") is not None and not isinstance(raw["recipe"], str):
        raise ConfigError(f"{path}: 'recipe' names a recipe file, not {quote(raw['recipe'])}")
    settings = raw.get("settings") or {}
    if not isinstance(settings, dict):
        raise ConfigError(f"{path}: 'settings' must be a mapping in recipe form")
    check_sections(settings, path)
    recipe = load_recipe(raw["recipe"]) if raw.get("recipe") else {}
    return GridSpec(merge(recipe, settings), grid, *_evaluation(raw.get("evaluate"), path))


def _evaluation(section: Any, path: Path) -> tuple[str, tuple[int, ...]]:
    """The grid's ``evaluate:`` section (split, topk), checked with everything else."""
    section = section or {}
    if not isinstance(section, dict) or set(section) - {"split", "topk"}:
        raise ConfigError(f"{path}: 'evaluate' takes split and topk, got {quote(section)}")
    split = section.get("split", "test")
    if split not in SPLITS:
        raise ConfigError(
            f"{path}: evaluate split must be one of {', '.join(SPLITS)}, not {quote(split)}"
        )
    topk = section.get("topk", [1, 5])
    if not isinstance(topk, list):
        raise ConfigError(
            f"{path}: evaluate topk must be a list of whole numbers >= 1, not {quote(topk)}"
        )
    return split, tuple(check_topk(topk, f"{path}: evaluate topk"))


def run_name(options: dict[str, Any]) -> str:
    """``backbone=x_head=y_seed=0``, or the value alone for a grid of one option (``lstm``):
    one folder name per combination."""

    def shown(value: Any) -> str:  # head_args {depth: 1} -> depth-1
        if isinstance(value, dict):
            return "+".join(f"{k}-{shown(v)}" for k, v in value.items()) or "none"
        return str(value)

    if len(options) == 1:
        text = shown(next(iter(options.values())))
    else:
        text = "_".join(f"{k}={shown(v)}" for k, v in options.items())
    return "".join(ch if ch.isalnum() or ch in "=._+-" else "-" for ch in text)


def plan_runs(spec: GridSpec, out: Path) -> list[tuple[str, dict[str, Any], TrainConfig]]:
    """Every run's resolved config, all checked before any is trained."""
    planned = []
    for options in spec.runs:
        name = run_name(options)
        fixed = {"out": str(out / "runs" / name), "overwrite": True}
        if not spec.settings.get("cache_dir"):
            fixed["cache_dir"] = str(out / "cache")
        try:
            config = TrainConfig.from_dict(
                merge(override(spec.settings, nest_options(options)), nest_options(fixed))
            )
        except (ConfigError, KeyError) as err:
            raise ConfigError(f"grid run {name}: {err}") from None
        if not config.data.root:
            raise ConfigError("the grid's settings must say where the videos are (data: root)")
        check_config(config)
        check_in_process(config, "compare")
        planned.append((name, options, config))
    return planned


def run_grid(spec: GridSpec, out: str | Path, progress: bool = False) -> list[dict[str, Any]]:
    """Train and evaluate every run not already finished; write the tables and charts."""
    out = Path(out)
    rows = []
    planned = plan_runs(spec, out)
    report_folder(out)  # every run checked: a grid interrupted from here goes on from its runs
    for number, (name, options, config) in enumerate(planned, start=1):
        run_dir, eval_dir = Path(config.out), out / "eval" / name
        if finished_before(run_dir, eval_dir, config):
            log.info("[%d/%d] %s: finished before, kept", number, len(planned), name)
        else:
            log.info("[%d/%d] %s: training", number, len(planned), name)
            result = train(replace(config, progress=progress))
            predictor = load_predictor(
                result.best_checkpoint, encoder_runtime=config.encoder_runtime
            )
            predictor.cache_views(config.cache_dir or default_cache_dir())  # frozen: read once
            run_split = run_split_file([result.best_checkpoint])  # a plain folder's drawn split
            items = split_items(config.data, predictor.classes, spec.split, config.seed, run_split)
            evaluate(predictor, items, eval_dir, topk=spec.topk)
        rows.append(collect_row(run_dir, eval_dir, options))
    write_comparison(rows, out, list(spec.grid), spec.topk)
    return rows


def finished_before(run_dir: Path, eval_dir: Path, config: TrainConfig) -> bool:
    """Whether this very run (same settings) was trained and evaluated before."""
    files = (run_dir / "summary.json", run_dir / "config.yaml", eval_dir / "metrics.json")
    if not all(f.is_file() for f in files):
        return False
    stored = TrainConfig.from_dict(yaml.safe_load(files[1].read_text()))  # defaults resolved
    stored = replace(stored, progress=False, overwrite=True)
    return any(  # a run with candidates stored the one it kept
        stored
        == replace(
            option,
            model=resolve_model(option.model),
            progress=False,
            overwrite=True,
            candidates=config.candidates,
        )
        for option in config.candidate_configs()
    )


def collect_row(
    run_dir: Path | None, eval_dir: Path | None, options: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One table row from a run directory (training figures at its best epoch) and an
    evaluation folder (test figures); either may be missing."""
    row: dict[str, Any] = {"run": str(run_dir or eval_dir)}
    row.update(options or {})
    if run_dir is not None:
        config = yaml.safe_load((run_dir / "config.yaml").read_text())
        summary = json.loads((run_dir / "summary.json").read_text())
        row.setdefault("backbone", config["model"]["backbone"])
        row.setdefault("head", config["model"]["head"])
        row["parameters"] = summary.get("parameters")
        row["train_seconds"] = summary.get("wall_seconds")
        with (run_dir / "metrics.csv").open() as handle:
            epochs = list(csv.DictReader(handle))
        best = next((e for e in epochs if int(e["epoch"]) == summary["best_epoch"]), epochs[-1])
        row["best_epoch"] = summary["best_epoch"]
        for key in FIGURES[1:]:
            row[key] = float(best[key]) if best.get(key) not in (None, "") else None
        seconds = [float(e["seconds"]) for e in epochs if e.get("seconds")]
        row["seconds_per_epoch"] = round(statistics.mean(seconds), 3) if seconds else None
    if eval_dir is not None and (eval_dir / "metrics.json").is_file():
        metrics = json.loads((eval_dir / "metrics.json").read_text())
        row["evaluation"] = str(eval_dir)
        for key, value in metrics.items():
            if key.startswith("top") and key[3:].isdigit():
                row[f"test_{key}"] = value
        row["test_mean_class_accuracy"] = metrics["mean_class_accuracy"]
        row["test_loss"] = metrics["loss"]
        row["inference_ms_per_video"] = metrics.get("ms_per_video")
    return row


def tabulate_dirs(dirs: list[Path]) -> list[dict[str, Any]]:
    """Rows for run directories and evaluation folders made by hand; an evaluation is joined to
    its run through the checkpoint it names."""
    runs = [d for d in dirs if (d / "summary.json").is_file()]
    evals = [d for d in dirs if (d / "metrics.json").is_file()]
    for d in dirs:
        if d not in runs and d not in evals:
            raise ConfigError(f"{d}: neither a run directory (summary.json) nor an evaluation")
    rows, joined = [], set()
    for run in runs:
        mine = [
            e
            for e in evals
            if (checkpoint := json.loads((e / "metrics.json").read_text()).get("checkpoint"))
            and Path(checkpoint).resolve().parents[1] == run.resolve()
        ]
        joined.update(mine)
        rows += [collect_row(run, e) for e in mine] or [collect_row(run, None)]
    rows += [collect_row(None, e) for e in evals if e not in joined]
    return rows


def write_comparison(
    rows: list[dict[str, Any]], out: Path, keys: list[str], topk: tuple[int, ...] = (1, 5)
) -> None:
    """runs.csv (one row per run), comparison.csv and comparison.md (one row per configuration:
    the mean and spread over seeds), comparison_accuracy.png and comparison_loss.png."""
    report_folder(out)
    columns = list(dict.fromkeys(c for row in rows for c in row))
    _write_csv(out / "runs.csv", rows, columns)
    config_keys = [k for k in dict.fromkeys(["backbone", "head", *keys]) if k != "seed"]
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row.get(k) for k in config_keys), []).append(row)
    numeric = [c for c in columns if c not in config_keys and c not in ("run", "seed")]
    numeric = [c for c in numeric if any(isinstance(r.get(c), int | float) for r in rows)]
    table = []
    for group_key, members in groups.items():
        entry: dict[str, Any] = dict(zip(config_keys, group_key, strict=True))
        entry["runs"] = len(members)
        for column in numeric:
            values = [m[column] for m in members if isinstance(m.get(column), int | float)]
            if values:
                entry[column] = statistics.mean(values)
                entry[f"{column}_sd"] = statistics.stdev(values) if len(values) > 1 else 0.0
        table.append(entry)
    _add_intervals(table, list(groups.values()))
    _write_csv(out / "comparison.csv", table, list(dict.fromkeys(c for r in table for c in r)))
    (out / "comparison.md").write_text(_markdown(table, config_keys, numeric))
    series_key = "head" if "head" in config_keys else config_keys[-1]
    group_keys = [k for k in config_keys if k != series_key]

    def shown(key: str, value: Any) -> str:  # a folder made by hand: its name
        return Path(value).name if key == "run" else str(value)

    def bars(metric: str) -> dict[tuple[str, str], tuple[float, float]]:
        return {
            (
                ", ".join(shown(k, e[k]) for k in group_keys if e[k] is not None) or "all",
                "runs" if e[series_key] is None else shown(series_key, e[series_key]),
            ): (e[metric], e[f"{metric}_sd"])
            for e in table
            if metric in e
        }

    accuracy = f"test_top{min(topk)}"
    if any(accuracy in e for e in table):
        plot_grouped_bars(bars(accuracy), "test accuracy", out / "comparison_accuracy.png")
    loss = "test_loss" if any("test_loss" in e for e in table) else "val_loss"
    if any(loss in e for e in table):
        plot_grouped_bars(bars(loss), loss.replace("_", " "), out / "comparison_loss.png")


def _tested(row: dict[str, Any]) -> tuple[list[str], np.ndarray, list[str]] | None:
    """A run's tested videos, whether each was right, and each one's group (its path in a
    predictions.csv written before it had groups: each video its own); None without one."""
    folder = row.get("evaluation")
    if folder is None or not (Path(folder) / "predictions.csv").is_file():
        return None
    with (Path(folder) / "predictions.csv").open(newline="") as handle:
        read = list(csv.DictReader(handle))
    paths = [r["path"] for r in read]
    correct = np.array([r["correct"] == "1" for r in read])
    return paths, correct, [r.get("group") or r["path"] for r in read]


def _add_intervals(table: list[dict[str, Any]], members: list[list[dict[str, Any]]]) -> None:
    """Into each configuration: its test top-1's interval (``test_top1_low``, ``_high``) over
    test sets drawn again from the test set's groups, the mean over its seeds draw by draw;
    into each later one its top-1 less the first's (``versus_first``) with the interval of
    that difference over the same draws (a paired cluster bootstrap): whether a gap between
    two models is more than the luck of which groups were tested; ``interval_over``: groups,
    or videos when each is its own. Only when every run tested the same videos."""
    tested = [[_tested(row) for row in rows] for rows in members]
    runs = [found for found_rows in tested for found in found_rows]
    if not runs or any(found is None for found in runs):
        return
    paths, _, groups = runs[0]
    if any(found[0] != paths for found in runs):
        log.warning("the runs tested different videos: no intervals in the comparison")
        return
    draws = group_bootstrap(np.stack([found[1] for found in runs]), groups)
    start, means = 0, []
    for entry, rows in zip(table, tested, strict=True):
        means.append(draws[start : start + len(rows)].mean(axis=0))
        start += len(rows)
        found = top1_interval(means[-1], groups)
        entry["test_top1_low"], entry["test_top1_high"] = found["top1_interval"]
        entry["interval_over"] = found["interval_over"]
    warn_few_groups(found["interval_groups"], found["interval_over"])
    for entry, mean in zip(table[1:], means[1:], strict=True):
        paired = paired_difference(entry["test_top1"], table[0]["test_top1"], mean, means[0])
        entry["versus_first"] = paired["difference"]
        entry["versus_first_low"], entry["versus_first_high"] = paired["interval"]


def interval_cells(entry: dict[str, Any]) -> dict[str, str]:
    """A comparison row's intervals as comparison.md and the HTML report show them (its
    numbers or comparison.csv's text); none when the runs tested different videos."""
    if entry.get("test_top1_low") in (None, ""):
        return {}
    versus = entry.get("versus_first")
    return {
        f"test_top1 {LEVEL:.0%} over {entry['interval_over']}": (
            f"{float(entry['test_top1_low']):.2f}-{float(entry['test_top1_high']):.2f}"
        ),
        "against the first": ""
        if versus in (None, "")
        else difference_note(
            float(versus), (float(entry["versus_first_low"]), float(entry["versus_first_high"]))
        ),
    }


def _write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, columns)
        writer.writeheader()
        writer.writerows(rows)


def _markdown(table: list[dict[str, Any]], keys: list[str], numeric: list[str]) -> str:
    shown = [c for c in numeric if any(c in e for e in table)]
    paired = list(interval_cells(table[0])) if table else []
    lines = [
        "| " + " | ".join([*keys, "runs", *shown, *paired]) + " |",
        "|" + "---|" * (len(keys) + 1 + len(shown) + len(paired)),
    ]
    for entry in table:
        cells = ["" if entry.get(k) is None else str(entry[k]) for k in keys] + [str(entry["runs"])]
        for column in shown:
            value = entry.get(column)
            if value is None:
                cells.append("")
            elif column == "parameters":
                cells.append(f"{value / 1e6:.2f}M")
            elif entry["runs"] > 1:
                cells.append(f"{value:.4g} ± {entry[f'{column}_sd']:.2g}")
            else:
                cells.append(f"{value:.4g}")
        cells += interval_cells(entry).values()
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
