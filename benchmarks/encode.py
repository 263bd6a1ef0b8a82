"""Frame-encoding speed of the frozen path: PyTorch against onnxruntime, and filling the cache.

Measures, in one process on the CPU, EfficientNet-Lite0 (offline ImageNet weights, no classifier)
at 224 px on batches of 16 frames:

  torch_frames_per_s   PyTorch (channels-last, inference mode), what `--encoder-runtime torch` runs
  onnx_frames_per_s    onnxruntime on the exported encoder, what `auto` runs where it can
  onnx_max_abs_diff    the largest difference between their features on frames of real-looking clips
  int8_frames_per_s    onnxruntime on the int8 copy (`--encoder-precision int8`, calibrated on the
                       same frames), and int8_feature_cosine_min its features' least cosine
                       similarity to PyTorch's (accuracy: README, measured by crossval)
  cache_fill_speedup   wall time of filling the feature cache of the same generated clips (decode,
                       resize, encode, write) with torch, divided by auto's: the default recipe
                       (64 frames a video both ways); cache_fill_speedup_probe the same against
                       auto filling what a full-batch fit reads (people_rgb.yaml: the 48
                       evaluation frames). Each the faster of two fills, alternated.

and prints them as one JSON line (with the thread count).

    python benchmarks/encode.py              # 12 generated 320x240 clips of 4 s
    python benchmarks/encode.py --videos 24
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vidact.config import ModelConfig, default_cache_dir
from vidact.data.datasets import default_workers
from vidact.data.index import VideoItem
from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.io.writer import write_video
from vidact.models.backbones import weight_source
from vidact.models.classifier import ClipClassifier
from vidact.models.encoder_runtime import install_int8, quantise_encoder, use_encoder_runtime
from vidact.sampling import ClipSampling
from vidact.training.features import FeatureExtractor, FeatureStore

SIZE = 224
DEFAULT = ClipSampling()  # the default recipe's sampling, training jitter and all
PROBE = ClipSampling(frames=48)  # people_rgb.yaml's, fitted full-batch (no jitter)


def make_clips(folder: Path, count: int) -> list[Path]:
    """320x240, 25 fps, 4 s: a figure crossing a textured scene, so encoding is realistic."""
    rng = np.random.default_rng(0)
    paths = []
    for n in range(count):
        scene = rng.integers(40, 200, (240, 320, 3), dtype=np.uint8)
        frames = []
        for t in range(100):
            frame = scene.copy()
            x = int(260 * (0.5 + 0.5 * np.sin(t / 15 + n)))
            frame[60:180, x : x + 50] = (220, 120, 60)
            frames.append(frame)
        paths.append(write_video(folder / f"clip{n:02d}.mp4", frames, 25))
    return paths


def frames_per_second(model: ClipClassifier, batch: torch.Tensor, rounds: int = 6) -> float:
    with torch.inference_mode():
        model.encoder(batch)  # warm-up
        started = time.perf_counter()
        for _ in range(rounds):
            model.encoder(batch)
    return rounds * len(batch) / (time.perf_counter() - started)


def fill_seconds(
    model: ClipClassifier, videos: list[Path], cache: Path, cached_frames: int
) -> float:
    """Fill a fresh feature cache of ``videos`` as training does (its default loader workers),
    ``cached_frames`` frames a video."""
    spec = model.encoder.input_spec(SIZE)
    source = [weight_source("tf_efficientnet_lite0", True, None)]
    store = FeatureStore(cache, model.encoder, source, spec, cached_frames)
    items = [VideoItem(path, path.name, 0, "x") for path in videos]
    started = time.perf_counter()
    extractor = FeatureExtractor(model.encoder, store, spec, cached_frames)
    failed = extractor.extract(items, workers=default_workers())
    if failed:
        raise RuntimeError(f"unreadable: {failed}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--videos", type=int, default=12)
    args = parser.parse_args()
    model = ClipClassifier(ModelConfig(head="mean"), 2).eval()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        videos = make_clips(root, args.videos)
        with VideoReader(videos[0]) as reader:
            frames = reader.read(np.linspace(0, reader.num_frames - 1, 16).astype(int), 256)
        batch = eval_transform(model.encoder.input_spec(SIZE))(frames)
        use_encoder_runtime(model, "onnx", SIZE)  # exported once, outside the timings
        figures: dict[str, float | int | str] = {"threads": torch.get_num_threads()}
        with torch.inference_mode():
            onnx_features = model.encoder(batch)
        figures["onnx_frames_per_s"] = round(frames_per_second(model, batch), 1)
        use_encoder_runtime(model, "torch", SIZE)
        with torch.inference_mode():
            torch_features = model.encoder(batch)
        figures["torch_frames_per_s"] = round(frames_per_second(model, batch), 1)
        figures["onnx_speedup"] = round(
            figures["onnx_frames_per_s"] / figures["torch_frames_per_s"], 2
        )
        figures["onnx_max_abs_diff"] = float((onnx_features - torch_features).abs().max())
        int8 = ClipClassifier(ModelConfig(head="mean", encoder_precision="int8"), 2).eval()
        install_int8(int8, quantise_encoder(int8, SIZE, batch))  # calibrated on these frames
        with torch.inference_mode():
            int8_features = int8.encoder(batch)
        figures["int8_frames_per_s"] = round(frames_per_second(int8, batch), 1)
        figures["int8_feature_cosine_min"] = round(
            float(torch.cosine_similarity(int8_features, torch_features, dim=1).min()), 4
        )
        # alternated and the faster of two fills kept: a busy moment must not decide the ratio
        default, probe = DEFAULT.frames_to_cache(), PROBE.frames_to_cache(jitter=False)
        ways = {"torch": ("torch", default), "auto": ("auto", default), "probe": ("auto", probe)}
        fills: dict[str, list[float]] = {way: [] for way in ways}
        for attempt in range(2):
            for way, (runtime, cached_frames) in ways.items():
                figures[f"{runtime}_runtime"] = use_encoder_runtime(model, runtime, SIZE)
                cache = root / f"cache-{way}-{attempt}"
                fills[way].append(fill_seconds(model, videos, cache, cached_frames))
        best = {way: min(seconds) for way, seconds in fills.items()}
        figures["cache_fill_s_torch"] = round(best["torch"], 2)
        figures["cache_fill_s_default"] = round(best["auto"], 2)
        figures["cache_fill_s_probe"] = round(best["probe"], 2)
        figures["cache_fill_speedup"] = round(best["torch"] / best["auto"], 2)
        figures["cache_fill_speedup_probe"] = round(best["torch"] / best["probe"], 2)
        figures["exports_in"] = str(default_cache_dir() / "encoders")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
