"""Clip-loading speed and memory of vidact's data layer against decoding every frame.

Makes (or takes, with --data) UCF101-like clips: 320x240, 25 fps, 7 s, MPEG-4 Part 2 AVI, a
keyframe every 12 frames. Then, in one process (one loader worker), measures:

  reference    PyAV decoding every frame of each clip to RGB (what a naive loader does)
  eval_t8      vidact evaluation clips, T = 8, 224x224 (decode only what is needed, resize, crop)
  eval_t16     the same at T = 16
  seeds_t16    training clips with --augment seeds, T = 16
  cached_t16   a second epoch of eval_t16 read from the clip cache

and prints one JSON line: clips/s of each, each one's ratio to the reference, the RSS after
importing torch (most of the total) and the peak RSS.

    python benchmarks/loader.py            # 24 generated clips
    python benchmarks/loader.py --data DIR # every video under DIR
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import av
import numpy as np

from vidact.data.cache import ArrayCache
from vidact.data.datasets import ClipDataset
from vidact.data.index import VideoItem
from vidact.data.transforms import AUGMENT_PRESETS, InputSpec, eval_transform, train_transform
from vidact.io.writer import write_video
from vidact.sampling import ClipSampling

SPEC = InputSpec(224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), 0.875)


def make_clips(folder: Path, count: int, seed: int = 0) -> list[Path]:
    """UCF101-like AVI files: a textured scene panning and a moving bright blob."""
    rng = np.random.default_rng(seed)
    paths = []
    for n in range(count):
        scene = rng.integers(0, 255, (240, 640, 3), dtype=np.uint8)
        scene = (scene.astype(np.float32) * 0.5 + 64).astype(np.uint8)
        frames = []
        for t in range(175):
            frame = scene[:, t : t + 320].copy()
            x = int(40 + 240 * t / 175)
            frame[100:140, x : x + 40] = 255
            frames.append(frame)
        path = folder / f"v_Bench_g{n // 4 + 1:02d}_c{n % 4 + 1:02d}.avi"
        paths.append(write_video(path, frames, 25, keyframe_interval=12, bit_rate=600_000))
    return paths


def clips_per_second(dataset: ClipDataset) -> float:
    started = time.perf_counter()
    for index in range(len(dataset)):
        clip, _ = dataset[index]
        assert clip is not None, dataset.items[index].path
    return len(dataset) / (time.perf_counter() - started)


def reference_clips_per_second(paths: list[Path]) -> float:
    started = time.perf_counter()
    for path in paths:
        with av.open(str(path)) as container:
            frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
        assert frames
    return len(paths) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="take every video under this folder")
    parser.add_argument("--videos", type=int, default=24, help="clips to generate")
    args = parser.parse_args()
    imported_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # torch and friends
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        if args.data:
            suffixes = {".avi", ".mp4", ".mkv", ".webm"}
            paths = sorted(p for p in args.data.rglob("*") if p.suffix.lower() in suffixes)
        else:
            paths = make_clips(scratch / "clips", args.videos)
        items = [VideoItem(p, p.name, 0, p.stem) for p in paths]
        evaluation = eval_transform(SPEC)
        seeds = train_transform(SPEC, AUGMENT_PRESETS["seeds"])
        cache = ArrayCache(scratch / "cache", "clips", {"short_side": SPEC.short_side})

        figures = {"reference": reference_clips_per_second(paths)}
        for frames in (8, 16):
            dataset = ClipDataset(items, ClipSampling(frames), evaluation, SPEC.short_side)
            figures[f"eval_t{frames}"] = clips_per_second(dataset)
        dataset = ClipDataset(items, ClipSampling(16), seeds, SPEC.short_side, train=True)
        figures["seeds_t16"] = clips_per_second(dataset)
        cached = ClipDataset(items, ClipSampling(16), evaluation, SPEC.short_side, cache=cache)
        figures["cache_fill_t16"] = clips_per_second(cached)  # first epoch: decodes and stores
        figures["cached_t16"] = clips_per_second(cached)  # second epoch: reads the cache

    reference = figures["reference"]
    result: dict[str, float | int] = {"videos": len(paths)}
    for name, rate in figures.items():
        result[f"{name}_clips_per_s"] = round(rate, 1)
        if name != "reference":
            result[f"{name}_ratio"] = round(rate / reference, 2)
    result["rss_after_imports_mib"] = round(imported_rss)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
