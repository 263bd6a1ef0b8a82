"""Scoring an ensemble: every member and the fusion on the same videos, each reported in the
metrics.json contract (the ensemble itself is ``inference.ensemble.EnsemblePredictor``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidact.data.categories import categories_for
from vidact.data.index import VideoItem
from vidact.errors import VidactError
from vidact.evaluation.metrics import (
    classification_metrics,
    group_bootstrap,
    paired_difference,
)
from vidact.evaluation.report import write_report
from vidact.inference.ensemble import EnsemblePredictor, fuse
from vidact.models.checkpoint import checkpoint_names


def evaluate_ensemble(
    ensemble: EnsemblePredictor,
    items: list[VideoItem],
    out: str | Path,
    batch_size: int = 8,
    workers: int = 0,
    categories: str | Path | None = None,
    topk: Sequence[int] = (1, 5),
) -> dict[str, Any]:
    """Score each member on the same videos (those every member could read); write
    OUT/metrics.json etc. for the ensemble, OUT/members/<name>/ for each member, and
    OUT/ensemble.json with every member's and the ensemble's headline figures."""
    classes, weights, fusion = ensemble.classes, ensemble.weights, ensemble.fusion
    out = Path(out)
    scored, _, unreadable = ensemble.score_members(items, batch_size, workers)
    keep = [i for i, item in enumerate(items) if str(item.path) not in unreadable]
    if not keep:
        raise VidactError(f"none of the {len(items)} videos could be read by every member")
    kept = [items[i] for i in keep]
    labels = np.array([item.label for item in kept])
    category_map = categories_for(classes, categories)
    ks = sorted({1, 5, *topk})
    members = ensemble.members
    names = checkpoint_names([p.source or f"member{i}" for i, p in enumerate(members)])
    member_probs = [probabilities[keep] for probabilities in scored]
    fused = fuse(member_probs, weights, fusion)
    # every model on the same test sets drawn again: each one's interval, and the paired
    # differences of the ensemble (row 0) to each member
    groups = [item.group for item in kept]
    right = [p.argmax(axis=1) == labels for p in (fused, *member_probs)]
    draws = group_bootstrap(np.stack(right), groups)
    summary: dict[str, Any] = {"fusion": fusion, "weights": list(weights), "members": []}
    for number, (name, predictor, probs) in enumerate(
        zip(names, members, member_probs, strict=True), start=1
    ):
        metrics = classification_metrics(
            probs, labels, classes, ks, category_map, groups, draws[number]
        )
        metrics["checkpoint"] = str(predictor.source)
        write_report(out / "members" / name, metrics, kept, probs, classes)
        summary["members"].append({"name": name, **_headline(metrics, ks)})
    metrics = classification_metrics(fused, labels, classes, ks, category_map, groups, draws[0])
    metrics["versus_members"] = [
        {
            "member": member["name"],
            **paired_difference(metrics["top1"], member["top1"], draws[0], draws[number]),
        }
        for number, member in enumerate(summary["members"], start=1)
    ]
    metrics["members"] = [str(p.source) for p in members]
    metrics["fusion"], metrics["weights"] = fusion, list(weights)
    metrics["unreadable"] = sorted(unreadable)
    write_report(out, metrics, kept, fused, classes)
    summary["ensemble"] = {**_headline(metrics, ks), "versus_members": metrics["versus_members"]}
    (out / "ensemble.json").write_text(json.dumps(summary, indent=2))
    return summary


def _headline(metrics: dict[str, Any], ks: Sequence[int]) -> dict[str, Any]:
    keys = [f"top{k}" for k in ks] + ["top1_interval", "interval_over", "interval_groups"]
    keys += ["mean_class_accuracy", "loss", "num_videos"]
    return {key: metrics[key] for key in keys}
