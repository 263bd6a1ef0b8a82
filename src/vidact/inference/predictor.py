"""Predictors: loaded models that answer for any number of videos (CLI, evaluation, web).

``VideoPredictor`` holds every answer (top-k, timeline, annotated video, batches) in terms of
three hooks: the probabilities of a whole video, of every window of it, and of a clip of
frames. ``Predictor`` implements them with one model; ``inference.ensemble.EnsemblePredictor``
by fusing its members', so an ensemble's every answer is the fusion.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader

from vidact.config import check_topk
from vidact.data.datasets import ClipDataset, collate_skipping, to_views
from vidact.data.index import VideoItem
from vidact.data.transforms import eval_transform, worker_start
from vidact.errors import CheckpointError, ConfigError
from vidact.inference.annotate import OUTPUTS, write_annotated
from vidact.inference.batch import load_batches
from vidact.inference.events import UNKNOWN, is_sure, resolve_reject
from vidact.inference.timeline import (
    TimelineSettings,
    WindowScores,
    paired_frames,
    plan_windows,
    score_windows,
)
from vidact.inference.views import ViewLoader, is_long
from vidact.io.outputs import check_output, replacing
from vidact.io.reader import VideoReader, VideoReadError
from vidact.io.shots import video_cuts
from vidact.models.backbones import encoder_traits
from vidact.models.checkpoint import (
    ENSEMBLE_KEY,
    CheckpointInfo,
    classifier_from,
    read_checkpoint,
)
from vidact.models.classifier import ClipClassifier
from vidact.models.encoder_runtime import use_encoder_runtime
from vidact.models.view_cache import ViewFeatureCache
from vidact.plots import plot_timeline
from vidact.progress import progress
from vidact.sampling import pair_rows

# frames a timeline encodes from which its scan shows progress (half a minute or more on 2 cores)
LONG_SCAN_FRAMES = 1000
# the share of training videos with jumps from which a jump is part of the activities (--cuts
# auto): 3% of fight-dev's real clips and no single-sweep synthetic clip have one, half of
# --continuous ones (their sweeps start over) do (README, "Windows inside shots")
JUMPY = 0.1


def runtime_of(path: str | Path, runtime: str | None) -> str:
    """``runtime`` checked (torch or onnx); by default onnx for a ``.onnx`` file."""
    if runtime is None:
        return "onnx" if Path(path).suffix.lower() == ".onnx" else "torch"
    if runtime not in ("torch", "onnx"):
        raise ConfigError(f"--runtime must be torch or onnx, got {runtime!r}")
    return runtime


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


class VideoPredictor(abc.ABC):
    """Every answer a loaded model gives, built on three hooks its subclasses implement:
    ``_video_scores`` (a video's), ``_scan`` (its windows') and ``classify_frames``
    (a clip of decoded frames'), plus ``score`` (many videos, for evaluation) and ``describe``.
    """

    classes: tuple[str, ...]
    clips: int
    crops: int
    allow_images: bool
    device: torch.device
    source: Path | None
    reject: float | None = None  # sureness below which the answer is unknown
    distance: float | None = None  # the threshold while rejecting by open-set distance

    # -- the hooks ---------------------------------------------------------------------------
    @abc.abstractmethod
    def _video_scores(self, reader: VideoReader) -> tuple[torch.Tensor, float]:
        """(K,) probabilities of an open video's evaluation views, and its sureness."""

    @abc.abstractmethod
    def _scan(
        self, reader: VideoReader, settings: TimelineSettings, cuts: Sequence[int]
    ) -> WindowScores:
        """Probabilities of every window of an open video whose shots begin at ``cuts``."""

    @abc.abstractmethod
    def classify_frames(self, frames: np.ndarray, fps: float) -> tuple[torch.Tensor, float]:
        """(N, H, W, 3) consecutive frames, decoded at ``decode_size`` -> (K,) probabilities
        of the clip the model samples from them (what live input scores), and its sureness."""

    @abc.abstractmethod
    def score(
        self, items: Sequence[VideoItem], batch_size: int = 8, workers: int = 0
    ) -> tuple[np.ndarray, np.ndarray, set[str]]:
        """(N, K) probabilities and (N,) sureness of every item, in order (NaN for the
        unreadable ones), and the paths of those that could not be read (what evaluation
        reports)."""

    def cache_views(self, root: str | Path) -> bool:
        """Share the frame features ``score`` computes through the feature cache at ``root``
        (one model's frozen encoder: ``Predictor``); returns whether they will be."""
        return False

    @abc.abstractmethod
    def use_encoder_runtime(self, runtime: str | None) -> str:
        """``--encoder-runtime`` auto, torch or onnx: where a frozen frame encoder runs;
        returns the runtime that runs it."""

    @abc.abstractmethod
    def describe(self) -> dict[str, Any]:
        """What the model is, for /api/model: classes, backbone, head, frames, size."""

    @property
    @abc.abstractmethod
    def decode_size(self) -> int:
        """The short side frames are decoded at for ``classify_frames``."""

    @property
    def skeleton(self) -> bool:
        """Whether annotated videos show the pose the model tracks."""
        return False

    @property
    def open_set_threshold(self) -> float | None:
        """The open-set distance calibrated when the model was trained (``--reject auto``),
        None for a model without one."""
        return None

    @property
    def trained_jumps(self) -> float | None:
        """The share of its training videos with a jump between frames (``io.shots``); None
        when unknown (a checkpoint written before vidact looked)."""
        return None

    # -- the answers -------------------------------------------------------------------------
    def use_reject(self, mode: str | float | None) -> None:
        """``--reject``: off; auto, the model's own calibration: its open-set distance when it
        has one (farther than 95% of its validation clips: unknown), else no rejection (a top
        probability calibrated on validation sources rejected 8-25% of the known clips of new
        ones); or a top probability P in (0, 1), answers below it unknown. Sureness, what the
        threshold tests, is the negated distance or the top probability."""
        self.reject = resolve_reject(mode)
        self.distance = self.open_set_threshold if mode == "auto" else None
        if self.distance is not None:
            self.reject = -self.distance

    @property
    def rejection(self) -> dict[str, Any]:
        """How answers are rejected, for reports: by which score, below which threshold."""
        if self.distance is not None:
            return {"score": "distance", "threshold": round(self.distance, 6)}
        return {"score": "probability", "threshold": self.reject}

    def sureness(
        self, probabilities: torch.Tensor, distances: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(..., K) probabilities and (...,) open-set distances -> (...,) what the rejection
        threshold tests: the negated distance when given, else the top probability."""
        if distances is not None:  # computed only while rejecting by distance
            return -distances.double()
        return probabilities.double().amax(dim=-1)

    def answer(self, probabilities: torch.Tensor | np.ndarray, sureness: float) -> str:
        """The top label, or unknown when its sureness is below the rejection threshold."""
        if not is_sure(float(sureness), self.reject):
            return UNKNOWN
        return self.classes[int(probabilities.argmax())]

    def checked(self, probabilities: torch.Tensor) -> torch.Tensor:
        """Probabilities that are numbers: NaN or infinity comes from damaged weights (or a
        broken export), never a result to print."""
        if not torch.isfinite(probabilities).all():
            raise CheckpointError(
                f"{self.source or 'the model'}: it gives NaN or infinite probabilities "
                "(damaged weights?); retrain or restore the file"
            )
        return probabilities

    def top_k(self, probabilities: torch.Tensor, k: int) -> list[dict[str, Any]]:
        values, indices = self.checked(probabilities).topk(min(k, len(self.classes)))
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
        overwrite: bool = False,
    ) -> dict[str, Any]:
        """Classify a whole video: ``{"video", "top_k", "timeline"}`` (contract 4).

        The timeline has one segment per activity over time when the video is longer than two
        windows, else one segment spanning the video with its top label. ``output`` also writes
        the annotated video or timeline plot (``annotate``) from the same window scores: the
        video is opened and its windows scored once.
        """
        check_topk(topk)
        settings = timeline or TimelineSettings()
        if output is not None:
            output = self._check_output(output, video, overwrite)
        with VideoReader(video, self.allow_images) as reader:
            whole, sureness = self._video_scores(reader)
            long = is_long(reader, settings)
            scan = self._scanned(reader, settings) if long or output is not None else None
            duration = reader.num_frames / reader.fps
        if output is not None and scan is not None:
            self._write(video, output, scan)
        return self._result(video, whole, sureness, topk, duration, scan if long else None)

    def predict_many(
        self,
        videos: Sequence[str | Path],
        topk: int = 5,
        timeline: TimelineSettings | None = None,
        workers: int = 0,
        batch_size: int = 8,
    ) -> Iterator[dict[str, Any]]:
        """``predict`` for many videos, in order. An unreadable video gives ``{"video",
        "error"}`` and the others go on."""
        check_topk(topk)
        shown = videos if len(videos) < 2 else progress(videos, "predicting", unit="videos")
        for video in shown:
            try:
                yield self.predict(video, topk, timeline)
            except VideoReadError as err:
                yield {"video": str(video), "error": str(err)}

    def _result(
        self,
        video: str | Path,
        whole: torch.Tensor,
        sureness: float,
        topk: int,
        duration: float,
        scan: WindowScores | None,
    ) -> dict[str, Any]:
        """Contract 4: the whole-video top-k and the timeline (one segment unless scanned),
        and ``label``, the answer: the top label or unknown."""
        top = self.top_k(whole, topk)
        label = self.answer(whole, sureness)
        if scan is not None:
            self.checked(torch.from_numpy(scan.scores))
            segments = scan.segments(self.classes)
        else:
            best = round(float(whole.max()), 6)
            whole_video = {"start_s": 0.0, "end_s": round(duration, 3), "label": label}
            segments = [{**whole_video, "probability": best, "mean_p": best, "peak_p": best}]
        return {"video": str(video), "label": label, "top_k": top, "timeline": segments}

    def annotate(
        self,
        video: str | Path,
        output: str | Path,
        settings: TimelineSettings | None = None,
        overwrite: bool = False,
    ) -> Path:
        """Write ``output``: the video with its activity, top three and timeline drawn on every
        frame (H.264 MP4), or the timeline as a plot when ``output`` ends in ``.png``."""
        output = self._check_output(output, video, overwrite)
        return self._write(video, output, self.scan(video, settings))

    def _check_output(self, output: str | Path, video: str | Path, overwrite: bool) -> Path:
        reads = [video] if self.source is None else [video, self.source]
        return check_output(output, reads, overwrite, suffixes=OUTPUTS)

    def _write(self, video: str | Path, output: Path, scan: WindowScores) -> Path:
        with replacing(output) as partial:
            if output.suffix.lower() == ".png":
                duration = scan.num_frames / scan.fps
                plot_timeline(scan.segments(self.classes), duration, self.classes, partial)
            else:
                write_annotated(
                    video, partial, scan, self.classes, self.allow_images, self.skeleton
                )
        return output

    def timeline(
        self, video: str | Path, settings: TimelineSettings | None = None
    ) -> list[dict[str, Any]]:
        """Segments ``{start_s, end_s, label, probability}`` of a video's activities over time
        (``vidact.inference.timeline``): every needed frame decoded and encoded once."""
        return self.scan(video, settings).segments(self.classes)

    def scan(self, video: str | Path, settings: TimelineSettings | None = None) -> WindowScores:
        """Probabilities of every window of a video (what timelines and annotated videos are
        made from)."""
        settings = settings or TimelineSettings()
        with VideoReader(video, self.allow_images) as reader:
            return self._scanned(reader, settings)

    def _scanned(self, reader: VideoReader, settings: TimelineSettings) -> WindowScores:
        long = reader.num_frames >= LONG_SCAN_FRAMES  # say how far the cut pass has come
        shown = "finding cuts" if long else None
        cuts = video_cuts(reader, shown) if self.inside_shots(settings) else []
        return dataclasses.replace(self._scan(reader, settings, cuts), reject=self.reject)

    def inside_shots(self, settings: TimelineSettings) -> bool:
        """Whether timeline windows stay inside shots: ``--cuts`` on or off; auto, when the
        model's training videos did not jump between frames (fewer than ``JUMPY`` of them
        did). A jump may be a cut between shots or part of an activity (a sweep that starts
        over), which pixels cannot tell apart; what the model was trained on can: a model that
        never saw a jump inside a clip reads a window across one as neither shot."""
        if settings.cuts == "auto":
            return self.trained_jumps is not None and self.trained_jumps < JUMPY
        return settings.cuts == "on"


class Predictor(VideoPredictor):
    """One model loaded once; ``predict(video)`` gives the top-k labels (contract 4).

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
        self.classes = info.classes
        self.device = device
        self.clips = clips
        self.crops = crops
        self.allow_images = allow_images
        self.source: Path | None = None  # the file it was loaded from
        self.use_reject("auto")  # until told otherwise
        self.view_cache: ViewFeatureCache | None = None  # see cache_views
        self.load_views = ViewLoader(
            info.sampling, info.input, eval_transform(info.input, crops), clips, crops, allow_images
        )

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        device: str | torch.device | None = None,
        clips: int = 1,
        crops: int = 1,
        allow_images: bool = False,
        runtime: str | None = None,
        encoder_runtime: str | None = None,
    ) -> Predictor:
        """One model from ``path`` onto ``device`` (default: cuda when available, else cpu).

        ``runtime`` torch reads a vidact checkpoint, onnx a file from ``vidact export``; by
        default a ``.onnx`` file runs in onnxruntime and anything else in PyTorch.
        ``encoder_runtime``: where a checkpoint's frozen frame encoder runs (auto, torch or
        onnx; ``use_encoder_runtime``). Ensemble files are read by
        ``inference.load.load_predictor``."""
        target = device if isinstance(device, torch.device) else resolve_device(device)
        if runtime_of(path, runtime) == "onnx":
            return cls.from_onnx(path, target, clips, crops, allow_images)
        raw = read_checkpoint(path, target)
        return cls.from_contents(raw, path, target, clips, crops, allow_images, encoder_runtime)

    @classmethod
    def from_onnx(
        cls,
        path: str | Path,
        device: torch.device,
        clips: int = 1,
        crops: int = 1,
        allow_images: bool = False,
    ) -> Predictor:
        """A file from ``vidact export``, run by onnxruntime behind the same calls."""
        from vidact.inference.export import OnnxClassifier  # onnxruntime: an optional extra

        exported = OnnxClassifier(path, device)
        predictor = cls(exported, exported.info, device, clips, crops, allow_images)  # type: ignore[arg-type]
        predictor.source = Path(path)
        return predictor

    @classmethod
    def from_contents(
        cls,
        raw: dict[str, Any],
        path: str | Path,
        device: torch.device,
        clips: int = 1,
        crops: int = 1,
        allow_images: bool = False,
        encoder_runtime: str | None = None,
    ) -> Predictor:
        """The model of a checkpoint already read (``path`` names it in messages)."""
        if ENSEMBLE_KEY in raw:
            raise CheckpointError(f"{path}: an ensemble; vidact.load reads it")
        model, info = classifier_from(raw, path, device)
        predictor = cls(model, info, device, clips, crops, allow_images)
        predictor.source = Path(path)
        predictor.use_encoder_runtime(encoder_runtime)
        return predictor

    @property
    def decode_size(self) -> int:
        return self.load_views.short_side

    def use_encoder_runtime(self, runtime: str | None) -> str:
        if not isinstance(self.model, ClipClassifier):
            return "onnx"  # a file from vidact export runs whole in onnxruntime
        size = self.info.input.size
        return use_encoder_runtime(self.model, runtime, size, self.device)

    @property
    def open_set_threshold(self) -> float | None:
        return self.model.open_set_threshold

    @property
    def trained_jumps(self) -> float | None:
        return self.info.jumps

    @property
    def skeleton(self) -> bool:
        # a model that tracks a body shows what it sees
        return any(t.skeleton for t in encoder_traits(self.info.model.backbone).values())

    def describe(self) -> dict[str, Any]:
        info = self.info
        return {
            "kind": "model",
            "classes": list(info.classes),
            "backbone": info.model.backbone,
            "head": info.model.head,
            "frames": info.sampling.frames,
            "size": info.input.size,
            "vidact_version": info.version,
        }

    @torch.inference_mode()
    def probabilities(self, views: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, V, T, 3, S, S) normalised views of B videos -> (B, K) averaged probabilities
        and (B,) sureness."""
        return self._classified(self._encoded(views))

    def _video_scores(self, reader: VideoReader) -> tuple[torch.Tensor, float]:
        probabilities, sureness = self.probabilities(self.load_views(reader)[None])
        return probabilities[0], float(sureness[0])

    def classify_frames(self, frames: np.ndarray, fps: float) -> tuple[torch.Tensor, float]:
        sampling = self.info.sampling
        positions = sampling.as_read(sampling.indices(len(frames), fps), len(frames))
        if sampling.pairs:
            positions = pair_rows(frames, fps, positions, sampling.span)
        views = to_views(frames[positions], positions[None], self.load_views.transform)
        probabilities, sureness = self.probabilities(views[None])
        return probabilities[0], float(sureness[0])

    def cache_views(self, root: str | Path) -> bool:
        """Keep the frame features of the videos ``score`` reads in the feature cache at
        ``root``, and read them from there when another model with the same frozen encoder and
        sampling scored them before (a grid of heads decodes each video once). Only a frozen
        encoder's features are shared; returns whether they will be."""
        applies = ViewFeatureCache.applies(self.model, self.info)
        self.view_cache = (
            ViewFeatureCache(root, self.model, self.info, self.clips, self.crops)  # type: ignore[arg-type]
            if applies
            else None
        )
        return applies

    def score(
        self, items: Sequence[VideoItem], batch_size: int = 8, workers: int = 0
    ) -> tuple[np.ndarray, np.ndarray, set[str]]:
        if batch_size < 1:
            raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")
        probabilities = np.full((len(items), len(self.classes)), np.nan)
        sureness = np.full(len(items), np.nan)
        todo = list(range(len(items)))
        if self.view_cache is not None:
            todo = self._score_cached(items, batch_size, probabilities, sureness)
        dataset = ClipDataset(
            [items[i] for i in todo],
            self.info.sampling,
            self.load_views.transform,
            self.load_views.short_side,
            clips=self.clips,
            views=True,
            allow_images=self.allow_images,
        )
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            shuffle=False,
            num_workers=workers,
            multiprocessing_context=worker_start(self.info.input, workers),
            pin_memory=self.device.type == "cuda",
            collate_fn=collate_skipping,
        )
        unreadable: set[str] = set()
        batches = progress(loader, "evaluating", unit="batches") if todo else []
        for number, (views, _, failed) in enumerate(batches):
            unreadable.update(failed)
            chunk = todo[number * batch_size : (number + 1) * batch_size]
            read = [i for i in chunk if str(items[i].path) not in failed]
            if views is None:
                continue
            features = self._encoded(views)
            if self.view_cache is not None:  # kept, so the next evaluation decodes nothing
                for index, video in zip(read, features, strict=True):
                    self.view_cache.save(items[index], video)
            scores, sure = self._classified(features)
            probabilities[read] = scores.double().numpy()
            sureness[read] = sure.numpy()
        return probabilities, sureness, unreadable

    def _score_cached(
        self,
        items: Sequence[VideoItem],
        batch_size: int,
        probabilities: np.ndarray,
        sureness: np.ndarray,
    ) -> list[int]:
        """Fill in the rows of the videos whose features are cached (batched as a decoding run
        would batch them); return the indices of the others, damaged entries included."""
        assert self.view_cache is not None
        found = [i for i, item in enumerate(items) if self.view_cache.contains(item)]
        missing = sorted(set(range(len(items))) - set(found))
        for start in range(0, len(found), batch_size):
            loaded = {i: self.view_cache.load(items[i]) for i in found[start : start + batch_size]}
            missing += [i for i, features in loaded.items() if features is None]
            ready = {i: features for i, features in loaded.items() if features is not None}
            if ready:
                scores, sure = self._classified(torch.stack(list(ready.values())))
                probabilities[list(ready)] = scores.double().numpy()
                sureness[list(ready)] = sure.numpy()
        return sorted(missing)

    @torch.inference_mode()
    def _encoded(self, views: torch.Tensor) -> torch.Tensor:
        """(B, V, T, 3, S, S) views -> (B, V, T', F) frame features, on the model's device."""
        batch, count = views.shape[:2]
        features = self.model.encode(views.flatten(0, 1).to(self.device, non_blocking=True))
        return features.view(batch, count, *features.shape[1:])

    @torch.inference_mode()
    def _classified(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, V, T', F) frame features -> (B, K) probabilities and (B,) sureness (by
        distance: the views' mean distance), averaged over the views."""
        batch, count = features.shape[:2]
        flat = features.flatten(0, 1).to(self.device)
        distances = None
        if self.distance is None:
            logits = self.model.classify_features(flat)
        else:
            logits, distances = self.model.classify_with_distance(flat)
            distances = distances.float().cpu().view(batch, count).mean(dim=1)
        probabilities = logits.float().softmax(dim=-1).cpu().view(batch, count, -1).mean(dim=1)
        return self.checked(probabilities), self.sureness(probabilities, distances)

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
        for batch in load_batches(videos, self.load_views, settings, workers, batch_size):
            readable = [item for item in batch if item.views is not None]
            if readable:
                stacked = torch.stack([item.views for item in readable])
                scores = iter(zip(*self.probabilities(stacked), strict=True))
            for item in batch:
                if item.views is None:
                    yield {"video": item.video, "error": item.error}
                    continue
                whole, sureness = next(scores)
                try:
                    scan = self.scan(item.video, settings) if item.long else None
                except VideoReadError as err:
                    yield {"video": item.video, "error": str(err)}
                    continue
                yield self._result(item.video, whole, float(sureness), topk, item.duration, scan)

    @torch.inference_mode()
    def _scan(
        self, reader: VideoReader, settings: TimelineSettings, cuts: Sequence[int]
    ) -> WindowScores:
        transform = eval_transform(self.info.input)
        encoder = self.model.encoder

        def encode(frames: np.ndarray) -> torch.Tensor:
            frames = frames.reshape(-1, *frames.shape[-3:])  # (N, span, H, W, 3): span N frames
            return encoder(transform(frames).to(self.device)).float().cpu()  # (N, F)

        def classify(clips: torch.Tensor) -> torch.Tensor:
            probabilities, sureness = self._classified(clips[:, None])  # one view each
            return torch.cat([probabilities.double(), sureness[:, None]], dim=1)  # (B, K + 1)

        windows = plan_windows(reader.num_frames, reader.fps, settings, self.info.sampling, cuts)
        needed = np.unique(np.concatenate([w.positions for w in windows]))
        if self.info.sampling.pairs:
            read = np.unique(self.info.sampling.as_read(needed, reader.num_frames))
            frames = paired_frames(
                reader.frames(read, self.info.input.short_side),
                needed,
                reader.num_frames,
                reader.fps,
                self.info.sampling.span,
            )
        else:
            frames = reader.frames(needed, self.info.input.short_side)
        if len(needed) >= LONG_SCAN_FRAMES:  # a long video: say how far the scan has come
            frames = progress(frames, "scanning", total=len(needed), unit="frames")
        scored = score_windows(windows, frames, encode, classify)
        scores, sureness = scored[:, :-1], scored[:, -1]
        return WindowScores(
            windows, scores, reader.fps, reader.num_frames, settings, sureness=sureness
        )
