"""Copies of a folder of videos with camera noise added, for the CLI to read (docs/measurements.md,
"Three moments of motion in one picture"): rendered gestures hold little noise, a webcam in a dim
room more, and a picture made of three frame differences (`motion_steps`) sums three frames'
noise. Every frame gets independent Gaussian noise of ``--sd`` grey levels before it is
re-encoded at the same rate (H.264 for .mp4); other files (groups.csv) are copied.

    python docs/experiments/noisy_copy.py HALF NOISY --sd 8
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
    parser.add_argument("--sd", type=float, default=8.0, help="noise, in grey levels (0-255)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)

    def noisy(reader: VideoReader) -> np.ndarray:
        frames = reader.read(np.arange(reader.num_frames)).astype(np.float32)
        return (frames + rng.normal(0, args.sd, frames.shape)).clip(0, 255).astype(np.uint8)

    copy_videos(args.source, args.target, noisy)


if __name__ == "__main__":
    main()
