"""A copy of a rendered gesture set as a webcam framed at the waist would film it, to see which
of `configs/people_rgb.yaml`'s two frame fits serves such videos (docs/measurements.md, "A webcam
framed at the waist").

Each clip's frames are cut at its person's hips (the median over 8 of its frames of where
MediaPipe places them): a 4:3 window from the top of the picture down to the hips, centred on
the body, resized to 640x480. The person then fills the picture from the head to the waist, a
raised hand may leave it at the top, and MediaPipe can only guess the hips. Needs the pose extra.

    python docs/experiments/pose_gestures.py SET --seed 10 --fps 30 --seconds 6
    python docs/experiments/waist_framed.py SET WAIST
    vidact crossval --config configs/people_rgb.yaml --data WAIST --groups WAIST/groups.csv \
      --folds 3 --out crossval/waist   # add --frame-fit person --size 224 for the square alone
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vidact.data.bodies import HIPS, SHOULDERS, PoseTracker
from vidact.io.reader import VideoReader
from vidact.progress import progress
from vidact.sampling import sample_indices

SIZE = (640, 480)


def waist_window(frames: np.ndarray) -> tuple[int, int, int]:
    """(bottom, left, width) in pixels: the 4:3 window of (N, H, W, 3) ``frames`` from the top
    down to the person's hips, centred on their torso."""
    looks = frames[np.unique(sample_indices(len(frames), 8, "uniform"))]
    with PoseTracker() as track:
        found = [p for p in (track(np.ascontiguousarray(f)) for f in looks) if p is not None]
    height, width = frames.shape[1:3]
    hips = np.median([p[list(HIPS), 1].mean() for p in found]) * height
    centre = np.median([p[[*SHOULDERS, *HIPS], 0].mean() for p in found]) * width
    bottom = int(min(height, hips))
    wide = min(width, bottom * 4 // 3)
    return bottom, int(np.clip(centre - wide / 2, 0, width - wide)), wide


def main(source: Path, out: Path) -> None:
    for video in progress(sorted(source.glob("*/*.mp4")), "framing at the waist"):
        with VideoReader(video) as reader:
            fps = reader.fps
            frames = reader.read(np.arange(reader.num_frames))
        bottom, left, wide = waist_window(frames)
        target = out / video.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        with av.open(str(target), "w") as container:
            stream = container.add_stream("libx264", rate=round(fps))
            stream.width, stream.height, stream.pix_fmt = *SIZE, "yuv420p"
            for frame in frames:
                picture = Image.fromarray(np.ascontiguousarray(frame[:bottom, left : left + wide]))
                encoded = av.VideoFrame.from_image(picture.resize(SIZE))
                container.mux(stream.encode(encoded))
            container.mux(stream.encode())
    shutil.copy(source / "groups.csv", out / "groups.csv")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
