"""Rendered people making arm gestures, for measuring the pose path through MediaPipe itself.

fight-dev has no gestures and MediaPipe finds few bodies there, so the pose recipe's choices (which
landmarks, which coordinates) had nothing real to be measured on. MediaPipe's pose model finds the
people drawn here (a head with a face, torso, two-part arms and legs in clothes, over a room), so
its own noise reaches the features: landmarks guessed for legs out of the picture, jitter, a
depth it estimates from one view. Each person has their own proportions, colours, room, camera
distance (whole body to cut at the thighs) and place in the picture; each trial its own timing,
speed and reach. Classes: raising the right arm and lowering it, the same with the left (a
recipe that mirrors bodies fails them), waving the right hand, clapping. Writes
OUT/<class>/<person>_<trial>.mp4 and OUT/groups.csv (path,group = the person), for
person-disjoint `vidact crossval --groups`.

    python docs/experiments/pose_gestures.py OUT [--people 6] [--trials 3] [--seed 0]
        [--fps 15] [--seconds 4]   # a webcam's rate and longer trials: --fps 30 --seconds 6
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vidact.io.writer import write_video

WIDTH, HEIGHT, FPS, SECONDS = 640, 480, 15, 4.0
GESTURES = ("raise_right", "raise_left", "wave_right", "clap")


@dataclass(frozen=True)
class Person:
    """How one person looks and where the camera sees them."""

    body: float  # whole-body height in image heights (above 1: legs leave the picture)
    centre: float  # horizontal place, a fraction of the width
    shoulders: float  # half the shoulder width, in body heights
    arm: float  # upper arm and forearm length, in body heights
    skin: tuple[int, int, int]
    shirt: tuple[int, int, int]
    trousers: tuple[int, int, int]
    hair: tuple[int, int, int]
    wall: tuple[int, int, int]
    furniture: tuple[tuple[int, int, int, int, tuple[int, int, int]], ...]


def _colour(rng: np.random.Generator, low: int = 20, high: int = 235) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(low, high, size=3))


def person(rng: np.random.Generator) -> Person:
    skins = ((241, 194, 167), (224, 172, 105), (198, 134, 66), (141, 85, 36), (92, 56, 35))
    furniture = tuple(
        (
            int(rng.integers(0, WIDTH - 60)),
            int(rng.integers(0, HEIGHT - 60)),
            int(rng.integers(40, 200)),
            int(rng.integers(40, 200)),
            _colour(rng),
        )
        for _ in range(int(rng.integers(2, 6)))
    )
    return Person(
        body=float(rng.uniform(0.75, 1.35)),
        centre=float(rng.uniform(0.35, 0.65)),
        shoulders=float(rng.uniform(0.10, 0.13)),
        arm=float(rng.uniform(0.15, 0.18)),
        skin=skins[int(rng.integers(len(skins)))],
        shirt=_colour(rng),
        trousers=_colour(rng, 10, 140),
        hair=_colour(rng, 10, 120),
        wall=_colour(rng, 60, 220),
        furniture=furniture,
    )


def _bump(t: np.ndarray, start: float, length: float) -> np.ndarray:
    """0 -> 1 -> 0 smoothly over [start, start + length]; 0 elsewhere."""
    phase = np.clip((t - start) / length, 0, 1)
    return np.sin(np.pi * phase) ** 2


def arm_angles(gesture: str, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(T, 4): the right and left arm's upper-arm and forearm angles from hanging down (radians,
    positive away from the body), over times ``t`` in seconds."""
    start = rng.uniform(0.2, 1.0)
    length = rng.uniform(1.8, SECONDS - start - 0.2)
    reach = rng.uniform(0.85, 1.0)
    idle = 0.15 + 0.05 * np.sin(2 * np.pi * rng.uniform(0.2, 0.5) * t + rng.uniform(0, 6))
    angles = np.stack([idle, idle, idle, idle], axis=1)
    up = _bump(t, start, length)
    if gesture in ("raise_right", "raise_left"):
        side = 0 if gesture == "raise_right" else 2
        angles[:, side] += reach * 2.7 * up
        angles[:, side + 1] += reach * 2.7 * up
    elif gesture == "wave_right":
        held = np.clip(up * 3, 0, 1)  # up quickly, wave, down quickly
        wave = 0.6 * np.sin(2 * np.pi * rng.uniform(1.5, 2.5) * (t - start))
        angles[:, 0] += reach * 1.7 * held
        angles[:, 1] += held * (reach * 2.6 + wave)
    else:  # clap: both forearms swing in to meet in front of the chest, again and again
        held = np.clip(up * 3, 0, 1)
        beat = 0.5 + 0.5 * np.cos(2 * np.pi * rng.uniform(1.5, 2.5) * (t - start))
        for side in (0, 2):
            angles[:, side] += 0.35 * held
            angles[:, side + 1] += held * (-1.6 - 0.6 * (1 - beat))
    return angles


def render(who: Person, angles: np.ndarray, sway: float) -> np.ndarray:
    """One frame: the person facing the camera with these arm angles."""
    image = Image.new("RGB", (WIDTH, HEIGHT), who.wall)
    draw = ImageDraw.Draw(image)
    for x, y, w, h, colour in who.furniture:
        draw.rectangle([x, y, x + w, y + h], fill=colour)
    s = who.body * HEIGHT
    cx = who.centre * WIDTH + sway
    head = 0.065 * s
    head_y = 0.06 * HEIGHT + head
    shoulder_y = head_y + head + 0.03 * s
    hip_y = shoulder_y + 0.3 * s
    half = who.shoulders * s
    for side in (-1, 1):  # legs first, under the shirt
        x = cx + side * 0.06 * s
        knee, ankle = hip_y + 0.24 * s, hip_y + 0.48 * s
        draw.line([(x, hip_y), (x, knee), (x + side * 0.01 * s, ankle)], fill=who.trousers,
                  width=int(0.07 * s), joint="curve")  # fmt: skip
    draw.polygon(
        [(cx - half, shoulder_y), (cx + half, shoulder_y), (cx + 0.09 * s, hip_y),
         (cx - 0.09 * s, hip_y)], fill=who.shirt)  # fmt: skip
    length = who.arm * s
    for side, (upper, fore) in zip((-1, 1), angles.reshape(2, 2), strict=True):
        # the person's right arm is on the picture's left
        sx, sy = cx + side * half, shoulder_y
        ex, ey = sx + side * length * np.sin(upper), sy + length * np.cos(upper)
        wx, wy = ex + side * length * np.sin(fore), ey + length * np.cos(fore)
        draw.line([(sx, sy), (ex, ey)], fill=who.shirt, width=int(0.055 * s))
        draw.line([(ex, ey), (wx, wy)], fill=who.skin, width=int(0.045 * s))
        hand = 0.03 * s
        draw.ellipse([wx - hand, wy - hand, wx + hand, wy + hand], fill=who.skin)
    neck = 0.025 * s
    draw.rectangle([cx - neck, head_y + head - 5, cx + neck, shoulder_y + 5], fill=who.skin)
    draw.ellipse([cx - head, head_y - head, cx + head, head_y + head], fill=who.skin)
    eye = head / 3
    for side in (-1, 1):
        draw.ellipse([cx + side * eye - 4, head_y - eye / 2 - 3, cx + side * eye + 4,
                      head_y - eye / 2 + 3], fill=(30, 30, 30))  # fmt: skip
    draw.line([(cx - eye, head_y + eye), (cx + eye, head_y + eye)], fill=(150, 60, 60), width=3)
    draw.chord([cx - head, head_y - head - 4, cx + head, head_y + head / 3], 180, 360,
               fill=who.hair)  # fmt: skip
    return np.asarray(image)


def clip(who: Person, gesture: str, rng: np.random.Generator) -> list[np.ndarray]:
    t = np.arange(int(SECONDS * FPS)) / FPS
    angles = arm_angles(gesture, t, rng)
    sway = 6 * np.sin(2 * np.pi * rng.uniform(0.1, 0.4) * t + rng.uniform(0, 6))
    frames = []
    for a, dx in zip(angles, sway, strict=True):
        frame = render(who, a, float(dx)).astype(np.int16)
        frame += rng.integers(-6, 7, size=frame.shape, dtype=np.int16)  # sensor noise
        frames.append(frame.clip(0, 255).astype(np.uint8))
    return frames


def found_by_mediapipe(who: Person) -> bool:
    """Whether MediaPipe finds this drawn person in a few still poses: drawings it cannot see
    would measure the renderer, not the recipe (real people are found)."""
    with _mediapipe_pose().Pose(static_image_mode=True, model_complexity=1) as pose:
        return all(
            pose.process(render(who, np.array(angles), 0.0)).pose_landmarks is not None
            for angles in ([0.15] * 4, [2.7, 2.7, 0.15, 0.15], [0.15, 0.15, 2.7, 2.7])
        )


def _mediapipe_pose():  # MediaPipe is the pose extra, imported when a set is made
    from mediapipe.python.solutions import pose

    return pose


def main() -> None:
    global FPS, SECONDS  # the clips' rate and length, read by clip() and arm_angles()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--people", type=int, default=6)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fps", type=int, default=FPS, help="frames per second")
    parser.add_argument("--seconds", type=float, default=SECONDS, help="length of a trial")
    args = parser.parse_args()
    FPS, SECONDS = args.fps, args.seconds
    rng = np.random.default_rng(args.seed)
    rows = []
    for number in range(args.people):
        who = person(rng)
        while not found_by_mediapipe(who):
            who = person(rng)
        for gesture in GESTURES:
            for trial in range(args.trials):
                path = f"{gesture}/p{number}_{trial}.mp4"
                write_video(args.out / path, clip(who, gesture, rng), FPS)
                rows.append({"path": path, "group": f"p{number}"})
    with (args.out / "groups.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["path", "group"])
        writer.writeheader()
        writer.writerows(rows)
    print(f"{len(rows)} clips of {args.people} people in {args.out}")


if __name__ == "__main__":
    main()
