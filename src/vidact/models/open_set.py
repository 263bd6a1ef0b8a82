"""How far a clip lies from what a model was trained on: "none of these" by distance.

The squared Mahalanobis distance of a clip's embedding (the temporal head's output) to the
nearest class mean, under one covariance shared by the classes (Lee et al., 2018), tells clips of
classes outside the model from known ones better than the top probability: on six models, open-set
AUROC 0.95-1.00 against 0.84-0.99, and at the same calibration it rejects fewer known clips
(docs/measurements.md, "Rejection scores"). Training fits it on the training clips and calibrates
its threshold on the validation clips, or, for the ``linear`` head on cached features with groups
known, on each training group left out in turn (``training.module.held_out_group_threshold``); the
checkpoint carries it, and ``--reject auto`` uses it.

The covariance is shrunk towards its mean variance (a ridge), so its inverse is the ridge's along
every direction but the few the training clips span: the distance is kept as those directions
and their weights plus the ridge's weight for the rest, exact (up to ``MAX_STORED`` numbers) and
small even for the 10240-wide embeddings of the ``linear`` head, whose dense precision would
weigh 400 MB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch

OPEN_SET_KEY = "vidact_open_set"  # checkpoint entry: class means, directions, threshold
SHRINK = 0.1  # covariance shrunk towards its mean variance: often more dimensions than clips
FIT_VIDEOS = 1024  # training videos it is fitted on: enough for the means and the covariance
# at most this many numbers in the directions (a dense 1280 x 1280 precision's, 6.5 MB): more
# directions than that are cut from the smallest variance up, which then counts as the ridge's
MAX_STORED = 1280 * 1280


@dataclass(frozen=True)
class OpenSet:
    """Class means, the covariance's principal directions with their weights and the ridge's
    weight, and the squared distance beyond which a clip is none of the classes."""

    means: torch.Tensor  # (K, D)
    directions: torch.Tensor  # (D, R) orthonormal columns
    weights: torch.Tensor  # (R,) one over each direction's variance plus the ridge
    elsewhere: float  # one over the ridge: the weight of what the directions leave out
    threshold: float

    @classmethod
    def fit(cls, train: torch.Tensor, labels: torch.Tensor, classes: int) -> OpenSet | None:
        """Class means and shared covariance of training embeddings (N, D) with their labels,
        no threshold yet (``calibrated``); None when a class has no training embedding."""
        train, labels = train.double().cpu(), labels.long().cpu()
        if any(not (labels == k).any() for k in range(classes)):
            return None
        means = torch.stack([train[labels == k].mean(0) for k in range(classes)])
        centred = train - means[labels]
        size = centred.shape[1]
        # the covariance's eigenvectors from the smaller of its two Gram matrices
        if len(centred) < size:
            variances, vectors = torch.linalg.eigh(centred @ centred.T / len(centred))
            kept = variances > variances.amax().clamp_min(1e-30) * 1e-10
            variances, vectors = variances[kept], vectors[:, kept]
            directions = centred.T @ vectors / (len(centred) * variances).sqrt()
        else:
            variances, directions = torch.linalg.eigh(centred.T @ centred / len(centred))
        ridge = SHRINK * float((centred**2).sum()) / (len(centred) * size) + 1e-8  # never 0
        largest = variances.argsort(descending=True)[: max(1, MAX_STORED // size)]
        return cls(
            means.float(),
            directions[:, largest].float(),
            (1 / (variances[largest].clamp_min(0) + ridge)).float(),
            1 / ridge,
            math.inf,
        )

    def calibrated(self, validation: torch.Tensor, accepted: float) -> OpenSet:
        """The same statistics with the threshold that ``accepted`` of the ``validation``
        embeddings stay within."""
        distances = self.distance(validation.cpu()).double()
        return replace(self, threshold=float(torch.quantile(distances, accepted)))

    def distance(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(N, D) embeddings -> (N,) squared distance to the nearest class mean (never an
        (N, K, D) tensor: a timeline's windows of a wide, many-class model would fill memory)."""
        means = self.means.to(embeddings.device)
        centre = means.mean(dim=0)  # small numbers: the squares below are subtracted
        clips, means = embeddings.float() - centre, means - centre
        directions = self.directions.to(clips.device)
        # (N, K, R) squared gaps along the directions
        along = ((clips @ directions)[:, None] - (means @ directions)[None]).square()
        within = along @ self.weights.to(clips.device)  # (N, K)
        gaps = (
            clips.square().sum(dim=-1, keepdim=True) - 2 * clips @ means.T + means.square().sum(-1)
        )  # (N, K) squared Euclidean distances to the means
        rest = (gaps - along.sum(dim=-1)).clamp_min(0)  # what the directions miss
        return (within + self.elsewhere * rest).amin(dim=-1)

    def to(self, device: str | torch.device) -> OpenSet:
        return replace(
            self,
            means=self.means.to(device),
            directions=self.directions.to(device),
            weights=self.weights.to(device),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "means": self.means,
            "directions": self.directions,
            "weights": self.weights,
            "elsewhere": self.elsewhere,
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, raw: Any, classes: int) -> OpenSet:
        """What ``to_dict`` stored for a model of ``classes`` classes, or a dense precision of
        an earlier release; ValueError when it is neither."""
        if not isinstance(raw, dict):
            raise ValueError("its distance statistics are not a mapping")
        means, threshold = raw.get("means"), raw.get("threshold")
        precision = raw.get("precision")
        if isinstance(precision, torch.Tensor):  # dense: its own eigenvectors
            if precision.dim() != 2 or precision.shape[0] != precision.shape[1]:
                raise ValueError("its distance statistics do not fit the model")
            weights, directions = torch.linalg.eigh(precision.double())
            raw = {**raw, "directions": directions, "weights": weights, "elsewhere": 0.0}
        directions, weights = raw.get("directions"), raw.get("weights")
        elsewhere = raw.get("elsewhere")
        if not (
            isinstance(means, torch.Tensor)
            and isinstance(directions, torch.Tensor)
            and isinstance(weights, torch.Tensor)
            and isinstance(threshold, int | float)
            and isinstance(elsewhere, int | float)
            and means.dim() == 2
            and means.shape[0] == classes
            and directions.dim() == 2
            and directions.shape[0] == means.shape[1]
            and weights.shape == (directions.shape[1],)
        ):
            raise ValueError("its distance statistics do not fit the model")
        return cls(
            means.float(), directions.float(), weights.float(), float(elsewhere), float(threshold)
        )
