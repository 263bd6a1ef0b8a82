"""Ensembles: several models over the same classes, each reading a video its own way (backbone,
head, frames and input size may all differ), their probabilities fused.

``fuse`` averages probabilities (``probs``) or log-probabilities (``logits``: the same as
averaging logits, then softmax) with weights. ``evaluate_ensemble`` scores every member on the
same videos and reports each member and the ensemble in the metrics.json contract.
``save_ensemble`` writes one file holding every member's checkpoint and the fusion, which
``Predictor.from_checkpoint`` (so predict, watch, serve and the Python API) loads as an
``EnsemblePredictor``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidact.data.categories import categories_for
from vidact.data.index import VideoItem
from vidact.errors import ConfigError, VidactError
from vidact.evaluation.metrics import classification_metrics
from vidact.evaluation.report import score_items, write_report
from vidact.inference.predictor import Predictor
from vidact.inference.timeline import TimelineSettings, WindowScores
from vidact.io.reader import VideoReader, VideoReadError
from vidact.models.checkpoint import (
    ENSEMBLE_KEY,
    METADATA_KEY,
    checkpoint_names,
    classifier_from,
    read_checkpoint,
)

FUSIONS = ("probs", "logits")


def check_fusion(count: int, weights: Sequence[float] | None, fusion: str) -> tuple[float, ...]:
    """Weights normalised to sum to 1 (equal by default)."""
    if fusion not in FUSIONS:
        raise ConfigError(f"--fuse must be probs or logits, got {fusion!r}")
    if count < 2:
        raise ConfigError(f"an ensemble needs at least two models, got {count}")
    weights = tuple(weights) if weights else (1.0,) * count
    if len(weights) != count or min(weights) < 0 or sum(weights) <= 0:
        raise ConfigError(
            f"--weights: give {count} non-negative numbers, not all 0 (got {list(weights)})"
        )
    return tuple(w / sum(weights) for w in weights)


def fuse(members: Sequence[np.ndarray], weights: Sequence[float], fusion: str) -> np.ndarray:
    """(..., K) probabilities of each member -> fused (..., K) probabilities."""
    if fusion == "probs":
        return sum(w * p for w, p in zip(weights, members, strict=True))
    logs = sum(w * np.log(np.clip(p, 1e-12, None)) for w, p in zip(weights, members, strict=True))
    logs = logs - logs.max(axis=-1, keepdims=True)
    return np.exp(logs) / np.exp(logs).sum(axis=-1, keepdims=True)


def aligned(predictors: Sequence[Predictor]) -> list[np.ndarray]:
    """For each member, the column order that puts its classes in the first member's order."""
    classes = predictors[0].classes
    orders = []
    for predictor in predictors:
        if set(predictor.classes) != set(classes):
            raise ConfigError(
                f"{predictor.source}: its classes differ from {predictors[0].source}'s; an "
                "ensemble's members must know the same classes"
            )
        orders.append(np.array([predictor.classes.index(name) for name in classes]))
    return orders


def evaluate_ensemble(
    predictors: Sequence[Predictor],
    items: list[VideoItem],
    out: str | Path,
    weights: Sequence[float] | None = None,
    fusion: str = "probs",
    batch_size: int = 8,
    workers: int | None = None,
    categories: str | Path | None = None,
    topk: Sequence[int] = (1, 5),
) -> dict[str, Any]:
    """Score each member on the same videos (those every member could read); write
    OUT/metrics.json etc. for the ensemble, OUT/members/<name>/ for each member, and
    OUT/ensemble.json with every member's and the ensemble's headline figures."""
    weights = check_fusion(len(predictors), weights, fusion)
    orders = aligned(predictors)
    classes = predictors[0].classes
    out = Path(out)
    scored = [score_items(p, items, batch_size, workers) for p in predictors]
    unreadable = set().union(*(bad for _, bad in scored))
    keep = [i for i, item in enumerate(items) if str(item.path) not in unreadable]
    if not keep:
        raise VidactError(f"none of the {len(items)} videos could be read by every member")
    kept = [items[i] for i in keep]
    labels = np.array([item.label for item in kept])
    category_map = categories_for(classes, categories)
    ks = sorted({1, 5, *topk})
    member_probs = []
    names = checkpoint_names([p.source or f"member{i}" for i, p in enumerate(predictors)])
    summary: dict[str, Any] = {"fusion": fusion, "weights": list(weights), "members": []}
    for name, predictor, order, (probabilities, _) in zip(
        names, predictors, orders, scored, strict=True
    ):
        probs = probabilities[keep][:, order]
        member_probs.append(probs)
        metrics = classification_metrics(probs, labels, classes, ks, category_map)
        metrics["checkpoint"] = str(predictor.source)
        write_report(out / "members" / name, metrics, kept, probs, classes)
        summary["members"].append({"name": name, **_headline(metrics, ks)})
    fused = fuse(member_probs, weights, fusion)
    metrics = classification_metrics(fused, labels, classes, ks, category_map)
    metrics["members"] = [str(p.source) for p in predictors]
    metrics["fusion"], metrics["weights"] = fusion, list(weights)
    metrics["unreadable"] = sorted(unreadable)
    write_report(out, metrics, kept, fused, classes)
    summary["ensemble"] = _headline(metrics, ks)
    (out / "ensemble.json").write_text(json.dumps(summary, indent=2))
    return summary


def _headline(metrics: dict[str, Any], ks: Sequence[int]) -> dict[str, Any]:
    keys = [f"top{k}" for k in ks] + ["mean_class_accuracy", "loss", "num_videos"]
    return {key: metrics[key] for key in keys}


def save_ensemble(
    checkpoints: Sequence[str | Path], path: str | Path, weights: Sequence[float], fusion: str
) -> Path:
    """One file holding every member's checkpoint (metadata and weights) and the fusion."""
    members = []
    for checkpoint in checkpoints:
        raw = read_checkpoint(checkpoint)
        if ENSEMBLE_KEY in raw:
            raise ConfigError(f"{checkpoint}: already an ensemble; give its members instead")
        members.append({METADATA_KEY: raw[METADATA_KEY], "state_dict": raw["state_dict"]})
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    contents = {"members": members, "weights": list(weights), "fusion": fusion}
    torch.save({ENSEMBLE_KEY: contents}, partial)
    partial.replace(path)
    return path


class EnsemblePredictor(Predictor):
    """A Predictor whose answers fuse its members': each decodes and samples the video as it
    was trained to; window scores of timelines are fused window by window."""

    def __init__(
        self, members: list[Predictor], weights: Sequence[float], fusion: str, device: torch.device
    ) -> None:
        self.members = members
        self.weights = check_fusion(len(members), weights, fusion)
        self.fusion = fusion
        self.orders = aligned(members)
        first = members[0]
        # the largest decode size serves every member: each transform resizes to its own
        widest = max(members, key=lambda m: m.load_views.short_side)
        super().__init__(first.model, first.info, device, first.clips, first.crops)
        self.allow_images = first.allow_images
        self.load_views = widest.load_views

    @classmethod
    def from_contents(
        cls,
        contents: dict[str, Any],
        path: str | Path,
        device: torch.device,
        clips: int = 1,
        crops: int = 1,
        allow_images: bool = False,
    ) -> EnsemblePredictor:
        members = []
        for number, member in enumerate(contents["members"], start=1):
            model, info = classifier_from(member, f"{path} (member {number})", device)
            members.append(Predictor(model, info, device, clips, crops, allow_images))
            members[-1].source = Path(f"{path}#{number}")
        ensemble = cls(members, contents["weights"], contents["fusion"], device)
        ensemble.source = Path(path)
        return ensemble

    def _fused(self, per_member: Sequence[np.ndarray]) -> np.ndarray:
        reordered = [p[..., order] for p, order in zip(per_member, self.orders, strict=True)]
        return fuse(reordered, self.weights, self.fusion)

    def _whole(self, reader: VideoReader) -> torch.Tensor:
        return torch.from_numpy(self._fused([m._whole(reader).numpy() for m in self.members]))

    def _scan(self, reader: VideoReader, settings: TimelineSettings) -> WindowScores:
        scans = [m._scan(reader, settings) for m in self.members]
        fused = self._fused([scan.scores for scan in scans])
        return WindowScores(scans[0].windows, fused, scans[0].fps, scans[0].num_frames)

    def classify_frames(self, frames: np.ndarray, fps: float) -> torch.Tensor:
        return torch.from_numpy(
            self._fused([m.classify_frames(frames, fps).numpy() for m in self.members])
        )

    def predict_many(
        self,
        videos: Sequence[str | Path],
        topk: int = 5,
        timeline: TimelineSettings | None = None,
        workers: int = 0,
        batch_size: int = 8,
    ) -> Iterator[dict[str, Any]]:
        """One video at a time (each member reads it its own way)."""
        for video in videos:
            try:
                yield self.predict(video, topk, timeline)
            except VideoReadError as err:
                yield {"video": str(video), "error": str(err)}
