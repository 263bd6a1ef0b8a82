"""Predictor: one loaded model that answers for any number of videos (CLI, evaluation, web)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.models.checkpoint import CheckpointInfo, load_classifier
from vidact.models.classifier import ClipClassifier
from vidact.sampling import sample_indices


def default_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


class Predictor:
    """Loads a checkpoint once; ``predict(video)`` gives the top-k labels (contract 4)."""

    def __init__(self, model: ClipClassifier, info: CheckpointInfo, device: torch.device) -> None:
        self.model = model.eval()
        self.info = info
        self.device = device
        self.transform = eval_transform(info.input)

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = None) -> Predictor:
        target = torch.device(device) if device else default_device()
        model, info = load_classifier(path, target)
        return cls(model, info, target)

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    @torch.inference_mode()
    def probabilities(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) normalised clips -> (B, K) class probabilities, on the CPU."""
        logits = self.model(clips.to(self.device, non_blocking=True))
        return logits.float().softmax(dim=-1).cpu()

    def load_clip(self, reader: VideoReader) -> torch.Tensor:
        """The evaluation clip of an open video: (T, 3, S, S), as in training's validation."""
        positions = sample_indices(reader.num_frames, self.info.frames, self.info.strategy)
        return self.transform(reader.read(positions, short_side=self.info.input.short_side))

    def top_k(self, probabilities: torch.Tensor, k: int) -> list[dict[str, Any]]:
        values, indices = probabilities.topk(min(k, len(self.classes)))
        return [
            {"label": self.classes[int(i)], "probability": round(float(v), 6)}
            for v, i in zip(values, indices, strict=True)
        ]

    def predict(self, video: str | Path, topk: int = 5) -> dict[str, Any]:
        """Classify a whole video: ``{"video", "top_k", "timeline"}``."""
        with VideoReader(video) as reader:
            clip = self.load_clip(reader)
        probabilities = self.probabilities(clip[None])[0]
        return {"video": str(video), "top_k": self.top_k(probabilities, topk), "timeline": []}
