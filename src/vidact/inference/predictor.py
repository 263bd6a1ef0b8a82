"""Predictor: one loaded model that answers for any number of videos (CLI, evaluation, web)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidact.data.datasets import to_views
from vidact.data.transforms import eval_transform
from vidact.errors import ConfigError
from vidact.inference.annotate import check_output, write_annotated
from vidact.inference.batch import load_batches
from vidact.inference.timeline import (
    TimelineSettings,
    WindowScores,
    plan_windows,
    score_windows,
    smooth,
)
from vidact.inference.views import ViewLoader, is_long
from vidact.io.reader import VideoReader, VideoReadError
from vidact.models.checkpoint import (
    ENSEMBLE_KEY,
    CheckpointInfo,
    classifier_from,
    read_checkpoint,
)
from vidact.models.classifier import ClipClassifier
from vidact.plots import plot_timeline


def check_topk(topk: int) -> None:
    if topk < 1:
        raise ConfigError(f"--topk must be at least 1, got {topk}")


def resolve_device(name: str | None = None) -> torch.device:
    """The device to run on: ``name`` (cpu, cuda, cuda:N), or cuda when there is one."""
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {name!r}: not a device; use cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"--device {name}: PyTorch sees no CUDA GPU on this machine; use --device cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"--device {name}: this machine has {torch.cuda.device_count()} GPU(s)"
            )
    elif device.type != "cpu":
        raise ConfigError(f"--device {name!r}: vidact runs on cpu or cuda")
    return device


class Predictor:
    """Loads a checkpoint once; ``predict(video)`` gives the top-k labels (contract 4).

    ``clips`` evaluation clips per video and ``crops`` (1 or 3) spatial crops per clip are scored
    and their probabilities averaged.
    """

    def __init__(
        self,
        model: ClipClassifier,
        info: CheckpointInfo,
        device: torch.device,
        clips: int = 1,
        crops: int = 1,
        allow_images: bool = False,
    ) -> None:
        if clips < 1:
            raise ConfigError(f"--clips must be at least 1, got {clips}")
        self.model = model.eval()
        self.info = info
        self.device = device
        self.clips = clips
        self.crops = crops
        self.allow_images = allow_images
        self.source: Path | None = None  # the file it was loaded from
        self.load_views = ViewLoader(
            info.sampling, info.input, eval_transform(info.input, crops), clips, crops, allow_images
        )

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | None = None,
        clips: int = 1,
        crops: int = 1,
        allow_images: bool = False,
        runtime: str | None = None,
    ) -> Predictor:
        """Load ``path`` once onto ``device`` (default: cuda when available, else cpu).

        ``runtime`` torch reads a vidact checkpoint, onnx a file from ``vidact export``; by
        default a ``.onnx`` file runs in onnxruntime and anything else in PyTorch."""
        target = resolve_device(device)
        if runtime is None:
            runtime = "onnx" if Path(path).suffix.lower() == ".onnx" else "torch"
        if runtime == "torch":
            raw = read_checkpoint(path, target)
            if ENSEMBLE_KEY in raw:
                from vidact.evaluation.ensemble import EnsemblePredictor

                return EnsemblePredictor.from_contents(
                    raw[ENSEMBLE_KEY], path, target, clips, crops, allow_images
                )
            model, info = classifier_from(raw, path, target)
            predictor = cls(model, info, target, clips, crops, allow_images)
        elif runtime == "onnx":
            from vidact.inference.export import OnnxClassifier

            exported = OnnxClassifier(path, target)
            predictor = cls(exported, exported.info, target, clips, crops, allow_images)  # type: ignore[arg-type]
        else:
            raise ConfigError(f"--runtime must be torch or onnx, got {runtime!r}")
        predictor.source = Path(path)
        return predictor

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    @torch.inference_mode()
    def probabilities(self, views: torch.Tensor) -> torch.Tensor:
        """(B, V, T, 3, S, S) normalised views of B videos -> (B, K) averaged probabilities."""
        batch, count = views.shape[:2]
        logits = self.model(views.flatten(0, 1).to(self.device, non_blocking=True))
        probabilities = logits.float().softmax(dim=-1).cpu()  # (B*V, K)
        return probabilities.view(batch, count, -1).mean(dim=1)  # (B, V, K) -> (B, K)

    def _whole(self, reader: VideoReader) -> torch.Tensor:
        """(K,) probabilities of an open video's evaluation views."""
        return self.probabilities(self.load_views(reader)[None])[0]

    def classify_frames(self, frames: np.ndarray, fps: float) -> torch.Tensor:
        """(N, H, W, 3) consecutive frames, decoded at ``load_views.short_side`` -> (K,)
        probabilities of the clip the model samples from them (what live input scores)."""
        positions = self.info.sampling.indices(len(frames), fps)
        views = to_views(frames[positions], positions[None], self.load_views.transform)
        return self.probabilities(views[None])[0]

    def top_k(self, probabilities: torch.Tensor, k: int) -> list[dict[str, Any]]:
        values, indices = probabilities.topk(min(k, len(self.classes)))
        return [
            {"label": self.classes[int(i)], "probability": round(float(v), 6)}
            for v, i in zip(values, indices, strict=True)
        ]

    def predict(
        self,
        video: str | Path,
        topk: int = 5,
        timeline: TimelineSettings | None = None,
        output: str | Path | None = None,
    ) -> dict[str, Any]:
        """Classify a whole video: ``{"video", "top_k", "timeline"}`` (contract 4).

        The timeline has one segment per activity over time (``self.timeline``) when the video
        is longer than two windows, else one segment spanning the video with its top label.
        ``output`` also writes the annotated video or timeline plot (``annotate``) from the same
        window scores: the video is opened and its windows scored once.
        """
        check_topk(topk)
        settings = timeline or TimelineSettings()
        settings.check()
        if output is not None:
            output = check_output(output)
        with VideoReader(video, self.allow_images) as reader:
            whole = self._whole(reader)
            long = is_long(reader, settings)
            scan = self._scan(reader, settings) if long or output is not None else None
            duration = reader.num_frames / reader.fps
        top = self.top_k(whole, topk)
        if output is not None and scan is not None:
            self._write(video, output, scan)
        return self._result(video, top, duration, scan if long else None)

    def predict_many(
        self,
        videos: Sequence[str | Path],
        topk: int = 5,
        timeline: TimelineSettings | None = None,
        workers: int = 0,
        batch_size: int = 8,
    ) -> Iterator[dict[str, Any]]:
        """``predict`` for many videos, in order: ``workers`` processes decode while the model
        runs. An unreadable video gives ``{"video", "error"}`` and the others go on; a long
        video's timeline is scanned here in the main process after its views."""
        check_topk(topk)
        settings = timeline or TimelineSettings()
        settings.check()
        for batch in load_batches(videos, self.load_views, settings, workers, batch_size):
            readable = [item for item in batch if item.views is not None]
            if readable:
                stacked = torch.stack([item.views for item in readable])
                scores = iter(self.probabilities(stacked))
            for item in batch:
                if item.views is None:
                    yield {"video": item.video, "error": item.error}
                    continue
                top = self.top_k(next(scores), topk)
                try:
                    scan = self.scan(item.video, settings) if item.long else None
                except VideoReadError as err:
                    yield {"video": item.video, "error": str(err)}
                    continue
                yield self._result(item.video, top, item.duration, scan)

    def _result(
        self,
        video: str | Path,
        top: list[dict[str, Any]],
        duration: float,
        scan: WindowScores | None,
    ) -> dict[str, Any]:
        """Contract 4: the whole-video top-k and the timeline (one segment unless scanned)."""
        if scan is not None:
            segments = scan.segments(self.classes)
        else:
            segments = [{"start_s": 0.0, "end_s": round(duration, 3), **top[0]}]
        return {"video": str(video), "top_k": top, "timeline": segments}

    def annotate(
        self, video: str | Path, output: str | Path, settings: TimelineSettings | None = None
    ) -> Path:
        """Write ``output``: the video with its activity, top three and timeline drawn on every
        frame (H.264 MP4), or the timeline as a plot when ``output`` ends in ``.png``."""
        output = check_output(output)
        return self._write(video, output, self.scan(video, settings))

    def _write(self, video: str | Path, output: Path, scan: WindowScores) -> Path:
        if output.suffix.lower() == ".png":
            duration = scan.num_frames / scan.fps
            return plot_timeline(scan.segments(self.classes), duration, self.classes, output)
        skeleton = "pose" in self.info.model.backbone.split("+")  # a pose model shows what it sees
        return write_annotated(video, output, scan, self.classes, self.allow_images, skeleton)

    def timeline(
        self, video: str | Path, settings: TimelineSettings | None = None
    ) -> list[dict[str, Any]]:
        """Segments ``{start_s, end_s, label, probability}`` of a video's activities over time
        (``vidact.inference.timeline``): every needed frame decoded and encoded once."""
        return self.scan(video, settings).segments(self.classes)

    def scan(self, video: str | Path, settings: TimelineSettings | None = None) -> WindowScores:
        """Smoothed probabilities of every window of a video (what timelines and annotated
        videos are made from)."""
        with VideoReader(video, self.allow_images) as reader:
            return self._scan(reader, settings or TimelineSettings())

    @torch.inference_mode()
    def _scan(self, reader: VideoReader, settings: TimelineSettings) -> WindowScores:
        settings.check()
        transform = eval_transform(self.info.input)
        encoder = self.model.encoder

        def encode(frames: np.ndarray) -> torch.Tensor:
            return encoder(transform(frames).to(self.device)).float().cpu()  # (N, F)

        def classify(clips: torch.Tensor) -> torch.Tensor:
            logits = self.model.classify_features(clips.to(self.device))
            return logits.float().softmax(dim=-1).cpu()  # (B, K)

        windows = plan_windows(reader.num_frames, reader.fps, settings, self.info.sampling)
        needed = sorted({int(p) for w in windows for p in w.positions})
        scores = score_windows(
            windows, reader.frames(needed, self.info.input.short_side), encode, classify
        )
        scores = smooth(scores, settings.smooth, settings.smooth_mode)
        return WindowScores(windows, scores, reader.fps, reader.num_frames)
