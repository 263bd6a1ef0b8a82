"""One self-contained HTML report over run directories, evaluation folders and comparisons.

Every image is inlined (PNG or JPEG data URIs) and the style sits in the page, so the file can be
mailed or archived alone. A run shows its settings, figures and curves; an evaluation its headline
figures, confusion matrix, per-class and per-category bars, and each misclassified video as a
strip of the frames the model sampled with its true and predicted label; a comparison its table
and charts.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from PIL import Image

from vidact.data.datasets import evaluation_positions
from vidact.errors import ConfigError, VidactError
from vidact.evaluation.compare import INTERVAL_COLUMNS, interval_cells
from vidact.evaluation.metrics import LEVEL, difference_note, interval_note
from vidact.io.outputs import check_output, replacing
from vidact.io.reader import VideoReader, VideoReadError
from vidact.models.checkpoint import METADATA_KEY, CheckpointInfo, read_checkpoint
from vidact.progress import progress
from vidact.sampling import ClipSampling

MAX_MISTAKES = 40  # misclassified videos shown per evaluation
THUMB = 72  # thumbnail height, pixels

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; color: #1d2430; margin: 0; background: #f6f7f9; }
main { max-width: 1100px; margin: 0 auto; padding: 16px; }
section { background: #fff; border: 1px solid #d5dae1; border-radius: 10px; padding: 16px;
  margin: 16px 0; }
h1 { margin: 8px 0; } h2 { margin-top: 0; } h3 { margin-bottom: 6px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border-bottom: 1px solid #e3e6ea; padding: 4px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; height: auto; }
.figures { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
.figures img { max-width: 520px; border: 1px solid #e3e6ea; }
.strip { height: 72px; max-width: none; border: 0; }
.wrong { color: #b3261e; } .muted { color: #5b6573; }
.scroll { overflow-x: auto; }
pre { background: #f3f4f6; padding: 8px; overflow-x: auto; font-size: 12px; }
"""


def build_report(
    dirs: Sequence[Path], out: str | Path, title: str = "vidact report", overwrite: bool = False
) -> Path:
    """Write ``out`` (.html) from run directories, evaluation folders and compare folders."""
    out = check_output(out, [], overwrite, "--out", (".html", ".htm"))
    sections = []
    for folder in map(Path, dirs):
        found = False
        for name, section in (
            ("repeats.json", _repeats),
            ("crossval.json", _crossval),
            ("comparison.csv", _comparison),
            ("summary.json", _run),
            ("metrics.json", _evaluation),
        ):
            if (folder / name).is_file():
                sections.append(_section(folder, name, section))
                found = True
        if not found:
            raise ConfigError(
                f"{folder}: not a run directory, an evaluation, a comparison or a crossval (no "
                "summary.json, metrics.json, comparison.csv, crossval.json or repeats.json)"
            )
    page = (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><link rel='icon' href='data:,'>"
        f"<style>{STYLE}</style></head><body><main><h1>{html.escape(title)}</h1>"
        + "".join(sections)
        + "</main></body></html>"
    )
    with replacing(out) as partial:
        partial.write_text(page, encoding="utf-8")
    return out


def _section(folder: Path, name: str, build: Callable[[Path], str]) -> str:
    """One folder's section; a damaged file is an error naming it, not a traceback."""
    try:
        return build(folder)
    except (ValueError, KeyError, TypeError, AttributeError, yaml.YAMLError, csv.Error) as err:
        raise ConfigError(
            f"{folder / name}: damaged or not written by vidact ({type(err).__name__}: "
            f"{str(err)[:120]})"
        ) from None


def _image(path: Path, alt: str) -> str:
    if not path.is_file():
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f"<img src='data:image/png;base64,{data}' alt='{html.escape(alt)}'>"


def _table(rows: list[dict[str, Any]], columns: Sequence[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            if isinstance(value, float):
                cells.append(f"<td class='num'>{value:.4g}</td>")
            else:
                cells.append(f"<td>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<div class='scroll'><table><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def _comparison(folder: Path) -> str:
    with (folder / "comparison.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    columns = [  # the intervals are shown as interval_cells
        c for c in (rows[0] if rows else {}) if not c.endswith("_sd") and c not in INTERVAL_COLUMNS
    ]
    shown = []
    for row in rows:
        entry: dict[str, Any] = interval_cells(row)
        seeds = int(row.get("runs") or 1) > 1  # one run has no spread to show
        for column in columns:
            value, spread = row[column], row.get(f"{column}_sd")
            try:
                number = float(value)
            except ValueError:
                entry[column] = value
                continue
            if column == "parameters":
                entry[column] = f"{number / 1e6:.2f}M"
            else:
                shown_spread = seeds and spread not in (None, "")  # "runs" has none
                entry[column] = f"{number:.4g}" + (
                    f" ± {float(spread):.2g}" if shown_spread else ""
                )
        shown.append(entry)
    extra = [c for c in dict.fromkeys(k for e in shown for k in e) if c not in columns]
    columns = [*columns, *extra]
    charts = "".join(
        _image(folder / f"comparison_{name}.png", f"test {name} per model")
        for name in ("accuracy", "loss")
    )
    return (
        f"<section><h2>Comparison: {html.escape(str(folder))}</h2>"
        f"{_table(shown, columns)}<div class='figures'>{charts}</div></section>"
    )


def _repeats(folder: Path) -> str:
    """Each recipe's pooled top-1 on every partition of a repeated crossval, with the mean and
    spread, and a later recipe's difference to the first (each partition: OUT/seed-S)."""
    summary = json.loads((folder / "repeats.json").read_text())
    seeds = [f"--seed {seed}" for seed in summary["seeds"]]
    rows = []
    for name, entry in summary["recipes"].items():
        shown = [f"{value:.4f}" for value in entry["pooled_top1"]]
        row = {"recipe": name, **dict(zip(seeds, shown, strict=True))}
        row["mean ± sd"] = f"{entry['mean']:.4f} ± {entry['sd']:.4f}"
        if against := entry.get("versus_first"):
            row["against the first"] = (
                f"{against['mean']:+.4f}: higher on {against['higher_in']}, lower on "
                f"{against['lower_in']}"
            )
        rows.append(row)
    columns = ["recipe", *seeds, "mean ± sd"]
    if len(rows) > 1:
        columns.append("against the first")
    return (
        f"<section><h2>Cross-validation on {len(seeds)} partitions: {html.escape(str(folder))}"
        f"</h2><p>Pooled top-1 of {summary['folds']} group-disjoint folds on each partition of "
        f"the groups (each in {html.escape(str(folder))}/seed-S, which the report takes as "
        f"well).</p>{_table(rows, columns)}</section>"
    )


def _crossval(folder: Path) -> str:
    """The folds of a cross-validation and its learning curve (its pooled report follows as an
    evaluation: OUT/metrics.json)."""
    summary = json.loads((folder / "crossval.json").read_text())
    columns = ["fold", "train_groups", "test_groups", "train_videos", "test_videos", "test_top1"]
    refused = summary.get("pooled_known_rejected")  # None: no rejection, or an older file
    spread = interval_note(summary.get("pooled_top1_interval"))
    recipes = summary.get("recipes")  # an ensemble of several recipes' crossvals
    head = (
        (
            f"<p>The ensemble of {html.escape(', '.join(recipes))}: each test video's "
            "probabilities averaged over the recipes.</p>"
            if recipes
            else ""
        )
        + f"<p>{summary['num_videos']} videos in {summary['num_groups']} groups, "
        f"{summary['folds']} group-disjoint folds: pooled top-1 "
        f"<strong>{summary['pooled_top1']:.4f}</strong>{spread}, per fold "
        f"{summary['fold_top1_mean']:.4f} ± {summary['fold_top1_sd']:.4f}"
        + (f"; answered unknown: {refused:.1%} of the test videos" if refused is not None else "")
        + "</p>"
    )
    if against := summary.get("versus_first"):  # a later recipe, or the ensemble, of several
        head += _differences([(against["recipe"], against)], "groups")
    head += _left_out(summary.get("unreadable", []))
    if refused is not None:
        columns.append("test_known_rejected")
    if any(row.get("refit") for row in summary["per_fold"]):  # train_videos counts validation's
        columns.insert(columns.index("train_videos") + 1, "refit")
    if any(row.get("kept") for row in summary["per_fold"]):  # a recipe's candidates: each fold's
        columns.insert(columns.index("test_videos"), "kept")
    curve = _image(folder / "learning_curve.png", "accuracy against training clips per class")
    return (
        f"<section><h2>Cross-validation: {html.escape(str(folder))}</h2>{head}"
        f"{_table(summary['per_fold'], columns)}<div class='figures'>{curve}</div></section>"
    )


def _run(folder: Path) -> str:
    summary = json.loads((folder / "summary.json").read_text())
    config = (folder / "config.yaml").read_text() if (folder / "config.yaml").is_file() else ""
    model = (yaml.safe_load(config) or {}).get("model", {}) if config else {}
    facts = {
        "backbone": model.get("backbone", ""),
        "head": model.get("head", ""),
        "best epoch": summary.get("best_epoch"),
        "best val accuracy": summary.get("best_val_acc"),
        "best val loss": summary.get("best_val_loss"),
        "epochs run": summary.get("epochs_run"),
        "seconds": summary.get("wall_seconds"),
        "parameters": summary.get("parameters"),
        "videos": ", ".join(f"{k} {v}" for k, v in (summary.get("num_videos") or {}).items()),
    }
    facts = {k: v for k, v in facts.items() if v not in (None, "")}
    validation = summary.get("validation", {})
    shared = validation.get("groups_shared_with_train")
    warning = (
        f"<p class='wrong'>Validation shares {len(shared)} group(s) with training: its figures "
        "flatter the model on new people or scenes.</p>"
        if shared
        else ""
    )
    return (
        f"<section><h2>Run: {html.escape(str(folder))}</h2>{warning}"
        + _table([facts], list(facts))
        + f"<div class='figures'>{_image(folder / 'curves.png', 'loss and accuracy per epoch')}"
        f"</div><details><summary>config.yaml</summary><pre>{html.escape(config)}</pre>"
        "</details></section>"
    )  # fmt: skip


def _evaluation(folder: Path) -> str:
    metrics = json.loads((folder / "metrics.json").read_text())
    ks = sorted(int(k[3:]) for k in metrics if k.startswith("top") and k[3:].isdigit())
    headline: dict[str, Any] = {}
    for k in ks:
        headline[f"top-{k}"] = metrics[f"top{k}"]
        if k == 1 and "top1_interval" in metrics:  # where it could lie on other groups
            low, high = metrics["top1_interval"]
            headline[f"{LEVEL:.0%} over {metrics['interval_over']}"] = f"{low:.2f}-{high:.2f}"
    headline.update(
        {
            "mean class accuracy": metrics["mean_class_accuracy"],
            "loss": metrics["loss"],
            "videos": metrics["num_videos"],
        }
    )
    figures = "".join(
        _image(folder / name, alt)
        for name, alt in (
            ("confusion_matrix.png", "confusion matrix, rows = true class"),
            ("per_class.png", "accuracy per class"),
            ("per_category.png", "accuracy per category"),
            ("per_group.png", "accuracy per group (source, person)"),
        )
    )
    checkpoint = metrics.get("checkpoint")
    return (
        f"<section><h2>Evaluation: {html.escape(str(folder))}</h2>"
        + (f"<p class='muted'>checkpoint {html.escape(checkpoint)}</p>" if checkpoint else "")
        + _table([headline], list(headline))
        + _left_out(metrics.get("unreadable", []))
        + _differences(
            [(each["member"], each) for each in metrics.get("versus_members", [])],
            metrics.get("interval_over", "groups"),
        )
        + f"<div class='figures'>{figures}</div>"
        + _rejection(metrics.get("rejection"))
        + _mistakes(folder, _sampling(checkpoint))
        + "</section>"
    )


def _left_out(unreadable: list[str]) -> str:
    """The videos that could not be read, which the figures leave out; nothing when none."""
    if not unreadable:
        return ""
    named = ", ".join(html.escape(path) for path in unreadable)
    return (
        f"<p class='wrong'>{len(unreadable)} video(s) could not be read and are left out of "
        f"the figures: {named}</p>"
    )


def _differences(against: list[tuple[str, dict[str, Any]]], over: str) -> str:
    """Top-1 less each named model's, with the interval of the difference over test sets drawn
    alike for both (``versus_first``, ``versus_members``); nothing when there is none."""
    if not against:
        return ""
    parts = [
        f"{html.escape(name)} {difference_note(each['difference'], each['interval'])}"
        for name, each in against
    ]
    return f"<p>Top-1 against {'; '.join(parts)}: {LEVEL:.0%} over {over} drawn alike.</p>"


def _rejection(rejection: dict[str, Any] | None) -> str:
    """How "none of these" behaved (``evaluate --reject``, ``--unknown-dir``): its threshold and
    shares, and the thresholds for chosen false-accept rates, to pick ``--reject P`` from."""
    off = rejection is None or rejection.get("threshold") is None
    if rejection is None or (off and "unknown_videos" not in rejection):
        return ""
    names = {
        "known_rejected": "known rejected",
        "unknown_videos": "unknown videos",
        "unknown_rejected": "unknown held out",
        "open_set_auroc": "open-set AUROC",
        "open_set_auroc_top_probability": "AUROC of the top probability",
        "open_set_accuracy": "open-set accuracy",
    }
    shares = ("known_rejected", "unknown_rejected")
    score = "distance beyond" if rejection.get("score") == "distance" else "probability below"
    row = {"unknown when": "off" if off else f"{score} {rejection['threshold']:.6g}"}
    row |= {
        label: f"{rejection[key]:.1%}" if key in shares else rejection[key]
        for key, label in names.items()
        if key in rejection
    }
    points = [
        {
            "unknown let through (at most)": f"{point['false_accept_target']:.0%}",
            "--reject P": f"{point['threshold']:.6g}",
            "unknown let through": f"{point['unknown_accepted']:.1%}",
            "known rejected": f"{point['known_rejected']:.1%}",
        }
        for point in rejection.get("operating_points", [])
    ]
    table = _table(points, list(points[0])) if points else ""
    return f"<h3>None of these</h3>{_table([row], list(row))}{table}"


def _sampling(checkpoint: str | None) -> ClipSampling:
    """How the evaluated model sampled frames (8 segments when its checkpoint is gone)."""
    if checkpoint and Path(checkpoint).is_file():
        try:
            raw = read_checkpoint(checkpoint)
            if METADATA_KEY in raw:
                return CheckpointInfo.from_dict(raw[METADATA_KEY]).sampling
        except (VidactError, KeyError):
            pass
    return ClipSampling(8)


def _mistakes(folder: Path, sampling: ClipSampling) -> str:
    predictions = folder / "predictions.csv"
    if not predictions.is_file():
        return ""
    with predictions.open() as handle:
        wrong = [row for row in csv.DictReader(handle) if row["correct"] == "0"]
    if not wrong:
        return "<h3>Misclassified videos</h3><p>None.</p>"
    rows = []
    for row in progress(wrong[:MAX_MISTAKES], "thumbnails", unit="videos"):
        strip = _strip(Path(row.get("file") or row["path"]), sampling)
        rows.append(
            f"<tr><td>{html.escape(row['path'])}</td><td>{html.escape(row['label'])}</td>"
            f"<td class='wrong'>{html.escape(row['predicted'])} "
            f"({float(row['probability']):.2f})</td><td>{strip}</td></tr>"
        )
    more = (
        f"<p class='muted'>{len(wrong) - MAX_MISTAKES} more in predictions.csv.</p>"
        if len(wrong) > MAX_MISTAKES
        else ""
    )
    # the names first and the strips in a scrolling box: a strip of wide frames is wider than
    # the page
    return (
        f"<h3>Misclassified videos ({len(wrong)})</h3><div class='scroll'><table><thead><tr>"
        "<th>video</th><th>true</th><th>predicted</th><th>frames the model saw</th></tr>"
        "</thead><tbody>" + "".join(rows) + f"</tbody></table></div>{more}"
    )


def _strip(video: Path, sampling: ClipSampling) -> str:
    """The clip's sampled frames side by side, as an inline JPEG (or why there is none)."""
    try:
        with VideoReader(video) as reader:
            positions = evaluation_positions(sampling, reader.num_frames, reader.fps)[0]
            frames = reader.read(positions, short_side=THUMB)
    except VideoReadError as err:
        return f"<span class='muted'>{html.escape(err.problem)}</span>"
    strip = np.concatenate([f[:THUMB] for f in frames], axis=1)
    buffer = io.BytesIO()
    Image.fromarray(strip).save(buffer, format="JPEG", quality=80)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<img class='strip' src='data:image/jpeg;base64,{data}' alt='sampled frames'>"
