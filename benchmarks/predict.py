"""Prediction speed: one video, a long video's timeline, the annotated video, ONNX, and a batch.

Writes a 7-second 320x240 clip and a 60-second 640x360 clip (25 fps, H.264, a moving figure on a
textured background) and a model with the default settings (EfficientNet-Lite0 at 224 with its
offline ImageNet weights, LSTM head, 8 frames; the head untrained: speed does not depend on it),
then prints one JSON line:

  cold_latency_s            `vidact predict` on the 7 s clip in a new process (imports, model load)
  warm_latency_s            Predictor.predict on the 7 s clip with the model loaded (median of 3)
  timeline_s_per_video_min  Predictor.timeline on the 60 s clip (2 s windows, 0.5 s stride;
                            a model trained on single shots: windows inside shots, cuts found)
  cuts_s_per_video_min      of which finding the cuts (one more decoding pass, 48 px frames)
  annotate_x_realtime_*     seconds of video written per second by Predictor.annotate, per clip
  onnx_speedup              the exported model (`vidact export`, all in onnxruntime) / the
                            checkpoint's throughput on the same batch of clips (CPU; the
                            checkpoint's frozen encoder runs in onnxruntime too: auto)
  onnx_speedup_torch_encoder  the same against the checkpoint with `--encoder-runtime torch`
  batch_videos_per_s_*      predict_many over 16 copies of the 7 s clip, 0 and 2 workers
  batch_workers_speedup     the ratio of those two

    python benchmarks/predict.py
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vidact.config import TrainConfig
from vidact.inference.export import export_onnx
from vidact.inference.predictor import Predictor
from vidact.inference.timeline import TimelineSettings
from vidact.io.reader import VideoReader
from vidact.io.shots import video_cuts
from vidact.io.writer import write_video
from vidact.training.module import ClipClassifierModule

FPS = 25


def _clip(path: Path, seconds: int, width: int, height: int) -> Path:
    """A figure crossing a textured scene, so the encoder's work is realistic."""
    rng = np.random.default_rng(0)
    scene = rng.integers(40, 200, (height, width, 3), dtype=np.uint8)

    def frames():
        for t in range(seconds * FPS):
            frame = scene.copy()
            x = int((width - width // 6) * (0.5 + 0.5 * np.sin(t / 20)))
            frame[height // 4 : height * 3 // 4, x : x + width // 6] = (220, 120, 60)
            yield frame

    return write_video(path, frames(), FPS)


def write_default_checkpoint(path: Path) -> Path:
    """The default model (Lite0 at 224, LSTM, 8 frames, 10 classes), its head untrained,
    as if trained on single-shot clips (timelines keep their windows inside shots)."""
    module = ClipClassifierModule(TrainConfig(), tuple(f"class{i}" for i in range(10)))
    module.jumps = 0.0
    torch.save({"vidact": module.info().to_dict(), "state_dict": module.state_dict()}, path)
    return path


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        short = _clip(root / "short.mp4", 7, 320, 240)
        long = _clip(root / "long.mp4", 60, 640, 360)
        checkpoint = write_default_checkpoint(root / "model.ckpt")

        command = [sys.executable, "-m", "vidact", "predict", str(checkpoint), str(short)]
        figures["cold_latency_s"] = round(_timed(lambda: subprocess.run(command, check=True)), 2)

        predictor = Predictor.from_checkpoint(checkpoint, "cpu")
        predictor.predict(short)  # warm-up
        warm = [_timed(lambda: predictor.predict(short)) for _ in range(3)]
        figures["warm_latency_s"] = round(statistics.median(warm), 3)

        settings = TimelineSettings("2s", "0.5s")
        figures["timeline_s_per_video_min"] = round(
            _timed(lambda: predictor.timeline(long, settings)), 2
        )
        with VideoReader(long) as reader:
            figures["cuts_s_per_video_min"] = round(_timed(lambda: video_cuts(reader)), 2)
        for name, clip, seconds in (("7s_320x240", short, 7), ("60s_640x360", long, 60)):
            took = _timed(
                lambda c=clip: predictor.annotate(c, root / f"annotated-{c.stem}.mp4", settings)
            )
            figures[f"annotate_x_realtime_{name}"] = round(seconds / took, 2)

        export_onnx(checkpoint, root / "model.onnx")
        runtime = Predictor.from_checkpoint(root / "model.onnx", "cpu")
        with VideoReader(short) as reader:
            views = predictor.load_views(reader)[None].repeat(8, 1, 1, 1, 1, 1)
        in_torch = Predictor.from_checkpoint(checkpoint, "cpu", encoder_runtime="torch")
        for name, model in (("onnx_speedup", predictor), ("onnx_speedup_torch_encoder", in_torch)):
            runtime.probabilities(views), model.probabilities(views)  # warm-up
            checkpoint_s = min(_timed(lambda m=model: m.probabilities(views)) for _ in range(3))
            onnx = min(_timed(lambda: runtime.probabilities(views)) for _ in range(3))
            figures[name] = round(checkpoint_s / onnx, 2)

        corpus = root / "corpus"
        corpus.mkdir()
        videos = [shutil.copy(short, corpus / f"v{i:02d}.mp4") for i in range(16)]
        for workers in (0, 2):
            took = _timed(lambda w=workers: list(predictor.predict_many(videos, workers=w)))
            figures[f"batch_videos_per_s_{workers}_workers"] = round(len(videos) / took, 2)
        figures["batch_workers_speedup"] = round(
            figures["batch_videos_per_s_2_workers"] / figures["batch_videos_per_s_0_workers"], 2
        )
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
