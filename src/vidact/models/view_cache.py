"""Frame features of a model's evaluation views, kept on disk, so that another model on the same
frozen encoder and sampling scores the same videos without decoding or encoding them again: the
six heads of a comparison grid, or the train sizes of a cross-validation fold.

The namespace hashes everything that decides the features: the encoder's weights (a digest of
its state, and of its int8 copy's bytes), where it runs, the input preparation, the sampling and
the views per video. The features are kept in float32, so a score from the cache equals a score
from the video (to float32 rounding: the head may add in another order). A full-batch fit fills
and reads the same entries for its training videos (``training.features.SharedViews``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from vidact.data.cache import ArrayCache, CachedVideo
from vidact.data.index import VideoItem
from vidact.data.transforms import fit_rule
from vidact.models.checkpoint import CheckpointInfo
from vidact.models.classifier import ClipClassifier, frozen_throughout
from vidact.models.encoder_runtime import int8_names, runtime_in_use, weights_digest
from vidact.sampling import READINGS


class ViewFeatureCache:
    """(V, T, F) features per video of the V evaluation views a predictor reads."""

    def __init__(
        self, root: str | Path, model: ClipClassifier, info: CheckpointInfo, clips: int, crops: int
    ) -> None:
        settings = {
            "evaluation_views": clips * crops,
            "clips": clips,
            "crops": crops,
            "backbone": info.model.backbone,
            "encoder_sha256": weights_digest(model.encoder),
            "runtime": runtime_in_use(model),
            "input": dataclasses.asdict(info.input),
            "sampling": dataclasses.asdict(info.sampling),
        }
        if (rule := fit_rule(info.input)) is not None:  # where the person square lies
            settings["fit_rule"] = rule
        tracking = sorted({p.tracking for p in model.encoder.modules() if hasattr(p, "tracking")})
        if tracking:  # how a pose tracker follows a body (as the training cache names it)
            settings["tracking"] = tracking
        if info.sampling.pairs:  # which frames are read around each
            settings["pairing"] = READINGS[info.sampling.span]
        if quantised := int8_names(model.encoder):  # int8 copies, calibrated per run
            settings["precision"] = quantised
        self.cache = ArrayCache(root, "features", settings)

    @property
    def per_frame(self) -> bool:
        """Whether each frame's features depend on that frame alone: not where the frames read
        together place the person's square or carry a pose track."""
        return "fit_rule" not in self.cache.settings and self.by_distinct_frames

    @property
    def by_distinct_frames(self) -> bool:
        """Whether each frame's features depend on that frame and on which distinct frames are
        read with it, however often each is read (the person's square is placed on those):
        not where a pose track follows every frame read, in turn."""
        return "tracking" not in self.cache.settings

    @staticmethod
    def applies(model: object, info: CheckpointInfo) -> bool:
        """Only a frozen encoder's features stay the same from one model to the next."""
        return (
            isinstance(model, ClipClassifier)
            and frozen_throughout(info.model)
            and model.fully_frozen
        )

    def contains(self, item: VideoItem) -> bool:
        return self.cache.contains(item.path)

    def load(self, item: VideoItem) -> torch.Tensor | None:
        entry = self.cache.load(item.path)
        return None if entry is None else torch.from_numpy(np.asarray(entry.array))

    def save(self, item: VideoItem, features: torch.Tensor) -> None:
        array = features.detach().float().cpu().numpy()
        self.cache.save(item.path, CachedVideo(array, len(array), 0.0))  # no video facts needed
