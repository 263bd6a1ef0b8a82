"""A synthetic temporal dataset: classes that only the order of frames tells apart.

Classes come in pairs, each the other played backwards (growing / shrinking, ...). A video of one
class reversed is a video of its partner, with exactly the same set of frames, so a model that
averages frames cannot beat chance within a pair while a temporal model can. The changes (size,
brightness, count, colour) survive global pooling, cropping and horizontal flips, so a frozen
ImageNet CNN sees them. Clips of one group share a scene, as UCF101's groups share actor and place.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vidact.data.index import VideoIndex, scan_folder, split_by_groups
from vidact.errors import ConfigError
from vidact.io.writer import write_video
from vidact.progress import progress

Renderer = Callable[[np.ndarray, "Scene", float], None]


@dataclass(frozen=True)
class Scene:
    """What a group's clips share, plus the per-clip jitter drawn on top of it."""

    background: np.ndarray  # (S, S, 3) float32 in [0, 1]
    centre: tuple[float, float]  # (x, y) in pixels
    colour: np.ndarray  # (3,) float32
    spots: np.ndarray  # (6, 2) positions for the counting classes, pixels
    low: float  # start level of the changing quantity, in [0, 1]
    high: float  # end level


def _disc(
    canvas: np.ndarray, centre: tuple[float, float], radius: float, colour: np.ndarray
) -> None:
    size = canvas.shape[0]
    ys, xs = np.ogrid[:size, :size]
    mask = (xs - centre[0]) ** 2 + (ys - centre[1]) ** 2 <= radius**2
    canvas[mask] = colour


def _render_size(canvas: np.ndarray, scene: Scene, t: float) -> None:
    size = canvas.shape[0]
    level = scene.low + (scene.high - scene.low) * t
    _disc(canvas, scene.centre, size * (0.08 + 0.32 * level), scene.colour)


def _render_brightness(canvas: np.ndarray, scene: Scene, t: float) -> None:
    _disc(canvas, scene.centre, canvas.shape[0] * 0.22, scene.colour)
    canvas *= 0.2 + 0.8 * (scene.low + (scene.high - scene.low) * t)


def _render_count(canvas: np.ndarray, scene: Scene, t: float) -> None:
    size = canvas.shape[0]
    visible = 1 + round(t * (len(scene.spots) - 1))
    half = max(2, size // 14)
    for x, y in scene.spots[:visible].astype(int):
        canvas[max(0, y - half) : y + half, max(0, x - half) : x + half] = scene.colour


def _render_colour(canvas: np.ndarray, scene: Scene, t: float) -> None:
    level = scene.low + (scene.high - scene.low) * t
    colour = np.array([level, 0.25, 1.0 - level], dtype=np.float32)  # blue -> red
    _disc(canvas, scene.centre, canvas.shape[0] * 0.25, colour)


# (forward class, backward class, renderer); the forward class moves its quantity low -> high
PAIRS: tuple[tuple[str, str, Renderer], ...] = (
    ("growing", "shrinking", _render_size),
    ("brightening", "darkening", _render_brightness),
    ("appearing", "vanishing", _render_count),
    ("warming", "cooling", _render_colour),
)


def _scene(rng: np.random.Generator, size: int) -> Scene:
    base = rng.uniform(0.05, 0.45, size=3).astype(np.float32)
    gradient = np.linspace(0, rng.uniform(0.1, 0.3), size, dtype=np.float32)
    background = np.broadcast_to(base, (size, size, 3)) + gradient[:, None, None]
    background = background + rng.normal(0, 0.03, (size, size, 3)).astype(np.float32)
    margin = size * 0.3
    return Scene(
        background=np.clip(background, 0, 1).astype(np.float32),
        centre=(rng.uniform(margin, size - margin), rng.uniform(margin, size - margin)),
        colour=rng.uniform(0.55, 1.0, size=3).astype(np.float32),
        spots=rng.uniform(size * 0.12, size * 0.88, size=(6, 2)),
        low=rng.uniform(0.0, 0.15),
        high=rng.uniform(0.85, 1.0),
    )


def _jitter(scene: Scene, rng: np.random.Generator) -> Scene:
    size = scene.background.shape[0]
    dx, dy = rng.normal(0, size * 0.03, size=2)
    return Scene(
        background=scene.background,
        centre=(scene.centre[0] + dx, scene.centre[1] + dy),
        colour=np.clip(scene.colour + rng.normal(0, 0.05, 3), 0, 1).astype(np.float32),
        spots=scene.spots + rng.normal(0, size * 0.02, size=scene.spots.shape),
        low=float(np.clip(scene.low + rng.normal(0, 0.03), 0, 0.3)),
        high=float(np.clip(scene.high + rng.normal(0, 0.03), 0.7, 1)),
    )


def render_clip(
    renderer: Renderer, scene: Scene, levels: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """(frames, S, S, 3) uint8: the scene with its quantity at each of ``levels`` in [0, 1]."""
    out = []
    for level in levels:
        canvas = scene.background.copy()
        renderer(canvas, scene, float(level))
        canvas += rng.normal(0, 0.02, canvas.shape).astype(np.float32)  # sensor noise per frame
        out.append((np.clip(canvas, 0, 1) * 255).astype(np.uint8))
    return np.stack(out)


def clip_levels(frames: int, rng: np.random.Generator, sweep: int | None = None) -> np.ndarray:
    """The forward class's levels: one sweep low -> high over the clip, or with ``sweep`` a
    window of ``frames`` into sweeps of ``sweep`` frames repeated back to back, starting
    anywhere: what a window of a long video (``write_long_videos``) sees."""
    if sweep is None:
        return np.linspace(0.0, 1.0, frames)
    start = int(rng.integers(sweep))
    return ((start + np.arange(frames)) % sweep) / (sweep - 1)


def write_synthetic_dataset(
    out: str | Path,
    videos_per_class: int = 30,
    frames: int = 16,
    size: int = 64,
    seed: int = 0,
    clips_per_group: int = 3,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    fps: float = 8.0,
    extension: str = ".mp4",
    sweep: int | None = None,
) -> VideoIndex:
    """Write ``OUT/<class>/v_<class>_gGG_cCC<ext>`` for every class and ``OUT/split.csv``.

    The split is group-aware and stratified (whole groups per split). Returns the split index.
    With ``sweep`` each clip is a window into sweeps of that many frames repeated
    (``clip_levels``): the training data of a model meant for long videos.
    """
    if frames < 2 or (sweep is not None and sweep < 2):
        raise ConfigError("--frames and --sweep must be at least 2: the classes differ in time")
    if size < 16:
        raise ConfigError("--size must be at least 16 pixels")
    out = Path(out)
    rng = np.random.default_rng(seed)
    groups = -(-videos_per_class // clips_per_group)
    clips = [  # (pair, group, clip), each written forward and backward
        (pair_id, group, clip)
        for pair_id in range(len(PAIRS))
        for group in range(groups)
        for clip in range(min(clips_per_group, videos_per_class - group * clips_per_group))
    ]
    for pair_id, group, clip in progress(clips, "writing", unit="clip pairs"):
        forward, backward, renderer = PAIRS[pair_id]
        # one scene per (pair, group): both directions of a pair see the same scenes
        scene = _scene(np.random.default_rng((seed, pair_id, group)), size)
        levels = clip_levels(frames, rng, sweep)
        for name, order in ((forward, levels), (backward, levels[::-1])):
            video = render_clip(renderer, _jitter(scene, rng), order, rng)
            path = out / name / f"v_{name}_g{group + 1:02d}_c{clip + 1:02d}{extension}"
            # intra-only at a high rate: with predicted frames the first frame would be the
            # sharpest, and blur alone would tell a video from its reverse
            write_video(path, video, fps, keyframe_interval=1, bit_rate=8_000_000)
    index = scan_folder(out, extensions=(extension,))
    items = split_by_groups(
        index.items, {"test": test_fraction, "val": val_fraction}, len(index.classes), seed
    )
    index = VideoIndex(index.root, index.classes, tuple(items))
    index.write_split_csv(out / "split.csv")
    return index


def _long_plan(
    rng: np.random.Generator, seconds: float, shortest: float, longest: float, fps: float
) -> list[tuple[float, float, int, bool]]:
    """(start_s, end_s, pair, reverse) segments covering ``seconds``, each class unlike the last."""
    plan: list[tuple[float, float, int, bool]] = []
    start, last = 0.0, -1
    while seconds - start > 1e-9:
        length = round(float(rng.uniform(shortest, longest)) * fps) / fps  # on a frame
        if seconds - (start + length) < shortest:
            length = seconds - start  # no tail shorter than a segment may be
        choice = last
        while choice == last:
            choice = int(rng.integers(2 * len(PAIRS)))
        plan.append((start, start + length, choice // 2, bool(choice % 2)))
        start, last = start + length, choice
    return plan


def write_long_videos(
    out: str | Path,
    videos: int = 4,
    seconds: float = 60.0,
    cycle_frames: int = 24,
    size: int = 112,
    seed: int = 0,
    fps: float = 8.0,
    extension: str = ".mp4",
    shortest: float = 4.0,
    longest: float = 12.0,
) -> Path:
    """Write ``OUT/long_NN<ext>``: one scene each, whose activity changes at known times, and
    ``OUT/truth.csv`` (video,start_s,end_s,label). Returns the truth file.

    Within a segment the scene's quantity sweeps at the pace of a clip of
    ``write_synthetic_dataset`` with the same frames and rate, starting over at the end of each
    sweep (what its ``continuous`` clips show); the quantity runs on across a boundary (growing
    turns into shrinking from the size it had reached), and boundaries fall anywhere, not at
    clip ends: motion, not glued clips.
    """
    seconds = round(seconds * fps) / fps
    if seconds < shortest:
        raise ConfigError(f"--seconds must be at least {shortest:g} (one activity)")
    if cycle_frames < 2 or size < 16:
        raise ConfigError("--frames must be at least 2 and --size at least 16 pixels")
    out = Path(out)
    rng = np.random.default_rng(seed)
    rows = []
    for number in progress(range(1, videos + 1), "writing", unit="long videos"):
        scene = _scene(np.random.default_rng((seed, 1000 + number)), size)
        plan = _long_plan(rng, seconds, shortest, longest, fps)
        name = f"long_{number:02d}{extension}"

        def frames(scene: Scene = scene, plan: list = plan) -> Iterator[np.ndarray]:
            position = 0  # along the sweep: level position / (cycle_frames - 1)
            for index in range(round(seconds * fps)):
                _, _, pair, reverse = next(p for p in plan if index / fps < p[1] - 1e-9)
                if index:  # sweeps repeat back to back, as continuous training clips show
                    position = (position + (-1 if reverse else 1)) % cycle_frames
                level = np.array([position / (cycle_frames - 1)])
                yield render_clip(PAIRS[pair][2], scene, level, rng)[0]

        write_video(out / name, frames(), fps, keyframe_interval=1, bit_rate=8_000_000)
        rows += [
            (name, start, end, PAIRS[pair][1 if reverse else 0])
            for start, end, pair, reverse in plan
        ]
    truth = out / "truth.csv"
    with truth.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("video", "start_s", "end_s", "label"))
        writer.writerows((name, f"{a:.3f}", f"{b:.3f}", label) for name, a, b, label in rows)
    return truth
