"""Pose extraction speed: frames/s of the pose encoder at 640x480 and 1920x1080.

    python benchmarks/pose_speed.py

Prints one JSON line: frames/s per resolution on frames of a real person (decoding and resizing
excluded: MediaPipe on the padded frames at the encoder's input size, 640 px, as the feature cache
gives it), and each as a ratio to a reference in the same run, the EfficientNet-Lite0 frame
encoder at 224 px on the same frames (batch 32), so the figures travel between machines. Where
../shared/data/fight-dev is at hand, also the cost of tracking people back into the frames where
they were lost (``find_in_clip``) on surveillance clips, where people come and go: its time as a
ratio to one tracking pass over the same clips, and the share of frames each finds someone in."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from vidact.data.bodies import PersonFinder, find_in_clip
from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.models.backbones import build_encoder
from vidact.models.pose import PoseEncoder, rgb_frames
from vidact.sampling import sample_indices

FRAMES = 48
SHARED = Path(__file__).resolve().parents[2] / "shared/data"
NTU = SHARED / "real-smoke/NTU_RGBD/A001_drink_water/S001C001P001R001A001_rgb.avi"
SURVEILLANCE = sorted((SHARED / "fight-dev").glob("*/*.*"))[::12]  # 10 clips of both classes


def _frames(height: int, width: int) -> np.ndarray:
    """A real person (the NTU RGB+D clip of ../shared/data/real-smoke, 1920x1080) at the asked
    size; a plain drawn figure where that clip is absent."""
    if NTU.is_file():
        with VideoReader(NTU) as reader:
            frames = reader.read(range(FRAMES))
        return np.stack([np.asarray(Image.fromarray(f).resize((width, height))) for f in frames])
    figures = []
    for t in range(FRAMES):
        image = Image.new("RGB", (width, height), (200, 200, 190))
        draw = ImageDraw.Draw(image)
        x, unit = int(width * (0.3 + 0.4 * t / FRAMES)), height // 10
        draw.ellipse([x - unit, unit, x + unit, 3 * unit], fill=(230, 190, 160))
        draw.rectangle([x - unit, 3 * unit, x + unit, 6 * unit], fill=(40, 60, 150))
        figures.append(np.asarray(image))
    return np.stack(figures)


def _rate(encode, frames: torch.Tensor) -> float:
    encode(frames[:4])  # warm-up
    started = time.perf_counter()
    encode(frames)
    return len(frames) / (time.perf_counter() - started)


def _one_pass(frames: np.ndarray) -> list[np.ndarray | None]:
    with PersonFinder() as find:
        return [find(frame) for frame in frames]


def _tracking_back(pose: PoseEncoder) -> dict[str, float]:
    """``find_in_clip`` against one tracking pass on 48 frames of each surveillance clip."""
    clips = []
    for path in SURVEILLANCE:
        with VideoReader(path) as reader:
            frames = reader.read(sample_indices(reader.num_frames, FRAMES, "segment"))
        clips.append(rgb_frames(eval_transform(pose.input_spec())(frames)))
    figures = {}
    for name, find in {"one_pass": _one_pass, "tracked_back": find_in_clip}.items():
        started = time.perf_counter()
        found = [find(clip) for clip in clips]
        figures[f"surveillance_{name}_s"] = round(time.perf_counter() - started, 1)
        share = np.mean([[points is not None for points in clip] for clip in found])
        figures[f"surveillance_{name}_frames_with_a_person"] = round(float(share), 3)
    ratio = figures["surveillance_tracked_back_s"] / figures["surveillance_one_pass_s"]
    return {**figures, "surveillance_tracked_back_time_ratio": round(ratio, 2)}


def main() -> None:
    torch.set_num_threads(torch.get_num_threads())
    pose = PoseEncoder()
    lite0 = build_encoder("tf_efficientnet_lite0", pretrained=True).eval()
    figures: dict[str, float] = {}
    with torch.inference_mode():
        for name, (height, width) in {"640x480": (480, 640), "1920x1080": (1080, 1920)}.items():
            raw = _frames(height, width)
            pose_input = eval_transform(pose.input_spec())(raw)
            cnn_input = eval_transform(lite0.input_spec())(raw)
            reference = _rate(lambda x: torch.cat([lite0(c) for c in x.split(32)]), cnn_input)
            rate = _rate(pose, pose_input)
            figures[f"pose_{name}_frames_per_s"] = round(rate, 1)
            figures[f"pose_{name}_ratio_to_lite0"] = round(rate / reference, 2)
            figures[f"lite0_{name}_frames_per_s"] = round(reference, 1)
    if SURVEILLANCE:
        figures.update(_tracking_back(pose))
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
