"""How far a clip lies from what a model was trained on: "none of these" by distance.

The squared Mahalanobis distance of a clip's embedding (the temporal head's output) to the
nearest class mean, under one covariance shared by the classes (Lee et al., 2018), tells clips of
classes outside the model from known ones better than the top probability: on six models, open-set
AUROC 0.95-1.00 against 0.84-0.99, and at the same calibration it rejects fewer known clips
(docs/measurements.md, "Rejection scores"). Training fits it on the training clips and calibrates
its threshold on the validation clips; the checkpoint carries it, and ``--reject auto`` uses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import torch

OPEN_SET_KEY = "vidact_open_set"  # checkpoint entry: class means, precision, threshold
SHRINK = 0.1  # covariance shrunk towards its mean variance: often more dimensions than clips
FIT_VIDEOS = 1024  # training videos it is fitted on: enough for the means and the covariance
# wider clip embeddings (the linear and stats heads: 3840 dimensions and more on Lite0) get none
# and never reject under --reject auto: their D x D precision would weigh 59 MB and more and take
# seconds to invert
MAX_DIMENSIONS = 1280


def measures_distance(width: int) -> bool:
    """Whether a model whose clip embedding has ``width`` dimensions rejects by distance."""
    return width <= MAX_DIMENSIONS


@dataclass(frozen=True)
class OpenSet:
    """Class means and shared precision of training embeddings, and the squared distance
    beyond which a clip is none of the classes."""

    means: torch.Tensor  # (K, D)
    precision: torch.Tensor  # (D, D)
    threshold: float

    @classmethod
    def fit(cls, train: torch.Tensor, labels: torch.Tensor, classes: int) -> OpenSet | None:
        """Class means and shared precision of training embeddings (N, D) with their labels,
        no threshold yet (``calibrated``); None when a class has no training embedding."""
        train, labels = train.double().cpu(), labels.long().cpu()
        if any(not (labels == k).any() for k in range(classes)):
            return None
        means = torch.stack([train[labels == k].mean(0) for k in range(classes)])
        centred = train - means[labels]
        covariance = centred.T @ centred / len(centred)
        size = covariance.shape[0]
        ridge = SHRINK * float(torch.trace(covariance)) / size + 1e-8  # never singular
        covariance += ridge * torch.eye(size, dtype=torch.double)
        return cls(means.float(), torch.linalg.inv(covariance).float(), math.inf)

    def calibrated(self, validation: torch.Tensor, accepted: float) -> OpenSet:
        """The same statistics with the threshold that ``accepted`` of the ``validation``
        embeddings stay within."""
        distances = self.distance(validation.cpu()).double()
        return replace(self, threshold=float(torch.quantile(distances, accepted)))

    def distance(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(N, D) embeddings -> (N,) squared distance to the nearest class mean."""
        gaps = embeddings.float()[:, None] - self.means.to(embeddings.device)[None]  # (N, K, D)
        precision = self.precision.to(embeddings.device)
        return ((gaps @ precision) * gaps).sum(dim=-1).amin(dim=-1)  # (N, K) -> (N,)

    def to(self, device: str | torch.device) -> OpenSet:
        return replace(self, means=self.means.to(device), precision=self.precision.to(device))

    def to_dict(self) -> dict[str, Any]:
        return {"means": self.means, "precision": self.precision, "threshold": self.threshold}

    @classmethod
    def from_dict(cls, raw: Any, classes: int) -> OpenSet:
        """What ``to_dict`` stored for a model of ``classes`` classes; ValueError when it is
        not that."""
        if not isinstance(raw, dict):
            raise ValueError("its distance statistics are not a mapping")
        means, precision, threshold = raw.get("means"), raw.get("precision"), raw.get("threshold")
        if not (
            isinstance(means, torch.Tensor)
            and isinstance(precision, torch.Tensor)
            and isinstance(threshold, int | float)
            and means.dim() == 2
            and means.shape[0] == classes
            and precision.shape == (means.shape[1], means.shape[1])
        ):
            raise ValueError("its distance statistics do not fit the model")
        return cls(means.float(), precision.float(), float(threshold))
