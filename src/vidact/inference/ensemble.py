"""Ensembles: several models over the same classes, each reading a video its own way (backbone,
head, frames and input size may all differ), their probabilities fused.

``EnsemblePredictor`` is composed of its members (not one of them): each hook every answer goes
through (a whole video, a timeline's windows, a live clip, an evaluation's videos) asks every
member and fuses, so predict, timelines, evaluate, serve and watch all give the fusion.
``fuse`` averages probabilities (``probs``) or log-probabilities (``logits``: the same as
averaging logits, then softmax) with weights. ``save_ensemble`` writes one file holding every
member's checkpoint and the fusion; ``inference.load.load_predictor`` reads it back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidact.data.index import VideoItem
from vidact.errors import ConfigError
from vidact.inference.predictor import Predictor, VideoPredictor
from vidact.inference.timeline import TimelineSettings, WindowScores
from vidact.io.outputs import check_output, replacing
from vidact.io.reader import VideoReader
from vidact.models.checkpoint import (
    ENSEMBLE_KEY,
    MODEL_KEYS,
    read_checkpoint,
)

FUSIONS = ("probs", "logits")


def check_fusion(count: int, weights: Sequence[float] | None, fusion: str) -> tuple[float, ...]:
    """Weights normalised to sum to 1 (equal by default); each finite and above 0."""
    if fusion not in FUSIONS:
        raise ConfigError(f"--fuse must be probs or logits, got {fusion!r}")
    if count < 2:
        raise ConfigError(f"an ensemble needs at least two models, got {count}")
    weights = tuple(float(w) for w in weights) if weights else (1.0,) * count
    if len(weights) != count or not all(math.isfinite(w) and w > 0 for w in weights):
        raise ConfigError(
            f"--weights: give {count} finite numbers above 0, one per model (got {list(weights)})"
        )
    return tuple(w / sum(weights) for w in weights)


def fuse(members: Sequence[np.ndarray], weights: Sequence[float], fusion: str) -> np.ndarray:
    """(..., K) probabilities of each member -> fused (..., K) probabilities."""
    if fusion == "probs":
        return sum(w * p for w, p in zip(weights, members, strict=True))
    logs = sum(w * np.log(np.clip(p, 1e-12, None)) for w, p in zip(weights, members, strict=True))
    logs = logs - logs.max(axis=-1, keepdims=True)
    return np.exp(logs) / np.exp(logs).sum(axis=-1, keepdims=True)


def aligned(predictors: Sequence[VideoPredictor]) -> list[np.ndarray]:
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


def save_ensemble(
    checkpoints: Sequence[str | Path],
    path: str | Path,
    weights: Sequence[float],
    fusion: str,
    overwrite: bool = False,
) -> Path:
    """One file holding every member's model (``MODEL_KEYS``) and the fusion; never
    written over one of its members, nor over another file without ``overwrite``."""
    path = check_output(path, checkpoints, overwrite, "--save")
    weights = check_fusion(len(checkpoints), weights, fusion)
    members = []
    for checkpoint in checkpoints:
        raw = read_checkpoint(checkpoint)
        if ENSEMBLE_KEY in raw:
            raise ConfigError(f"{checkpoint}: already an ensemble; give its members instead")
        members.append({key: raw[key] for key in MODEL_KEYS if key in raw})
    contents = {"members": members, "weights": list(weights), "fusion": fusion}
    with replacing(path) as partial:
        torch.save({ENSEMBLE_KEY: contents}, partial)
    return path


class EnsemblePredictor(VideoPredictor):
    """Answers fused from its members': each decodes and samples the video as it was trained
    to; window scores of timelines are fused window by window."""

    def __init__(
        self,
        members: Sequence[VideoPredictor],
        weights: Sequence[float] | None = None,
        fusion: str = "probs",
    ) -> None:
        self.members = list(members)
        self.weights = check_fusion(len(self.members), weights, fusion)
        self.fusion = fusion
        self.orders = aligned(self.members)
        first = self.members[0]
        self.classes = first.classes
        self.device = first.device
        self.clips, self.crops = first.clips, first.crops
        self.allow_images = first.allow_images
        self.source: Path | None = None
        self.use_reject("auto")  # until told otherwise

    @classmethod
    def from_contents(
        cls,
        contents: dict[str, Any],
        path: str | Path,
        device: torch.device,
        clips: int = 1,
        crops: int = 1,
        allow_images: bool = False,
        encoder_runtime: str | None = None,
    ) -> EnsemblePredictor:
        """The ensemble a file from ``save_ensemble`` holds (already read)."""
        members = [
            Predictor.from_contents(
                member, f"{path}#{number}", device, clips, crops, allow_images, encoder_runtime
            )
            for number, member in enumerate(contents["members"], start=1)
        ]
        ensemble = cls(members, contents["weights"], contents["fusion"])
        ensemble.source = Path(path)
        return ensemble

    def _fused(self, per_member: Sequence[np.ndarray]) -> np.ndarray:
        reordered = [p[..., order] for p, order in zip(per_member, self.orders, strict=True)]
        return fuse(reordered, self.weights, self.fusion)

    def use_encoder_runtime(self, runtime: str | None) -> str:
        used = {member.use_encoder_runtime(runtime) for member in self.members}
        return used.pop() if len(used) == 1 else "mixed"

    @property
    def decode_size(self) -> int:
        # the largest decode size serves every member: each transform resizes to its own
        return max(member.decode_size for member in self.members)

    @property
    def skeleton(self) -> bool:
        return any(member.skeleton for member in self.members)

    def describe(self) -> dict[str, Any]:
        members = [member.describe() for member in self.members]
        return {
            "kind": "ensemble",
            "classes": list(self.classes),
            "backbone": ", ".join(dict.fromkeys(m["backbone"] for m in members)),
            "head": f"ensemble of {len(members)} ({self.fusion} fused)",
            "frames": max(m["frames"] for m in members),
            "size": max(m["size"] for m in members),
            "fusion": self.fusion,
            "weights": list(self.weights),
            "members": members,
        }

    @property
    def open_set_threshold(self) -> float | None:
        """1 when every member rejects by open-set distance: the ensemble's distance is then
        the weighted mean of each member's distance over its own threshold."""
        return 1.0 if all(m.distance is not None for m in self.members) else None

    def _sureness(self, fused: np.ndarray, per_member: Sequence[np.ndarray]) -> np.ndarray:
        """What ``reject`` tests: minus that mean relative distance while rejecting by
        distance, else the fused top probability."""
        if self.distance is None:
            return fused.max(axis=-1)
        members = zip(self.weights, per_member, self.members, strict=True)
        return sum(w * sure / m.distance for w, sure, m in members)  # members': -distance

    def _video_scores(self, reader: VideoReader) -> tuple[torch.Tensor, float]:
        scored = [m._video_scores(reader) for m in self.members]
        fused = self._fused([p.numpy() for p, _ in scored])
        return torch.from_numpy(fused), float(self._sureness(fused, [s for _, s in scored]))

    @property
    def trained_jumps(self) -> float | None:
        shares = [member.trained_jumps for member in self.members]
        return None if None in shares else float(np.mean(shares))

    def _scan(
        self, reader: VideoReader, settings: TimelineSettings, cuts: Sequence[int]
    ) -> WindowScores:
        scans = [m._scan(reader, settings, cuts) for m in self.members]
        fused = self._fused([scan.scores for scan in scans])
        sureness = self._sureness(fused, [scan.window_sureness for scan in scans])
        first = scans[0]
        return WindowScores(
            first.windows, fused, first.fps, first.num_frames, settings, sureness=sureness
        )

    def classify_frames(self, frames: np.ndarray, fps: float) -> tuple[torch.Tensor, float]:
        scored = [m.classify_frames(frames, fps) for m in self.members]
        fused = self._fused([p.numpy() for p, _ in scored])
        return torch.from_numpy(fused), float(self._sureness(fused, [s for _, s in scored]))

    def score_members(
        self, items: Sequence[VideoItem], batch_size: int = 8, workers: int = 0
    ) -> tuple[list[np.ndarray], list[np.ndarray], set[str]]:
        """Each member's (N, K) probabilities, in the ensemble's class order, and (N,)
        sureness, and the paths any member could not read."""
        scored = [m.score(items, batch_size, workers) for m in self.members]
        unreadable = set().union(*(bad for _, _, bad in scored))
        probs = [p[:, order] for (p, _, _), order in zip(scored, self.orders, strict=True)]
        return probs, [sure for _, sure, _ in scored], unreadable

    def score(
        self, items: Sequence[VideoItem], batch_size: int = 8, workers: int = 0
    ) -> tuple[np.ndarray, np.ndarray, set[str]]:
        probs, sureness, unreadable = self.score_members(items, batch_size, workers)
        fused = fuse(probs, self.weights, self.fusion)
        fused[[str(item.path) in unreadable for item in items]] = np.nan
        return fused, self._sureness(fused, sureness), unreadable
