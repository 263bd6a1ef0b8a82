"""Copies of a folder of videos as another camera would give them, for the CLI to read
(docs/measurements.md, "Three moments of motion in one picture" and "Summaries of the three
moments, and half the rate"): ``--sd`` adds independent Gaussian noise of that many grey levels
to every frame (rendered gestures hold little noise, a webcam in a dim room more, and a picture
made of three frame differences sums three frames' noise); ``--every K`` keeps every K-th frame
and writes the copy at a K-th of the rate (a 30 frames/s trial as a 15 frames/s camera films
it). Videos are re-encoded (H.264 for .mp4); other files (groups.csv) are copied.

    python docs/experiments/camera_copy.py HALF NOISY --sd 8
    python docs/experiments/camera_copy.py HALF HALF_RATE --every 2
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from repeated_frames import copy_videos  # this folder's scripts (run as a script)

from vidact.io.reader import VideoReader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--sd", type=float, default=0.0, help="noise, in grey levels (0-255)")
    parser.add_argument("--every", type=int, default=1, help="keep every K-th frame")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.every < 1 or args.sd < 0:
        parser.error("--every must be 1 or more and --sd 0 or more")
    rng = np.random.default_rng(args.seed)

    def copied(reader: VideoReader) -> np.ndarray:
        frames = reader.read(np.arange(0, reader.num_frames, args.every))
        if not args.sd:
            return frames
        noisy = frames.astype(np.float32) + rng.normal(0, args.sd, frames.shape)
        return noisy.clip(0, 255).astype(np.uint8)

    copy_videos(args.source, args.target, copied, rate=1 / args.every)


if __name__ == "__main__":
    main()
