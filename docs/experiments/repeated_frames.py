"""Repeated frames in fight-dev and what they do to `configs/people_rgb.yaml`'s motion features
(docs/measurements.md, "Repeated frames").

Surveillance footage is often stored at a higher rate than the camera delivered (12.5 frames/s
stored at 25, say), so a frame and the next are sometimes the same picture and their difference
is empty. First each source's share of such repeats: consecutive frames (grey) differing by less
than a tenth of their clip's median difference. Then the recipe's view (48 frame pairs, the whole
frame padded to 288, Lite0's map averaged by halves, each half's mean, spread and mean change,
standardised, half of how training sources differ taken out, logistic regression, six
source-disjoint partitions) with each sampled frame paired in four ways: with the next frame (the
recipe until session 43), with the first of the next three frames that differs from it by more
than half a grey level on average (else the third), always with the frame after next, and as
vidact pairs them (`vidact.sampling.pair_rows`: the frame after next where the next repeats
the frame and what surrounds them says it is a repeat, not stillness). Each is scored on the
clips as they are, and with the test clips' every other frame repeated while the model learns
from the clips as they are (a new camera that repeats frames). Needs scikit-learn.

    python docs/experiments/repeated_frames.py ../shared/data/fight-dev OUT

With ``--copy``, copies a folder of videos (and its other files) with every other frame of each
video replaced by the one before it, re-encoded at the same rate (`vidact.io.writer.write_video`:
H.264 for .mp4), for the CLI to read:

    python docs/experiments/repeated_frames.py --copy HALF REPEATED
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from dynamic_images import by_halves
from motion_regions import STRENGTHS, clips, described, encoded_once  # this folder's scripts
from nuisance import halves_summary, scored

from vidact.config import VIDEO_EXTENSIONS
from vidact.data.transforms import eval_transform
from vidact.io.reader import VideoReader
from vidact.io.writer import write_video
from vidact.models.backbones import MotionEncoder
from vidact.progress import progress
from vidact.sampling import READ_AROUND, SAMPLED_ROW, ClipSampling, pair_rows

DISTINCT = 0.5  # grey levels (0-255) of mean absolute difference: a new picture
SHARE = 0.5  # of how the training sources differ, taken out (the recipe's nuisance)
PAIRINGS = ("the next frame", "the next distinct frame", "the frame after next", "vidact's")


def copy_videos(
    source: Path, target: Path, changed: Callable[[VideoReader], np.ndarray], rate: float = 1.0
) -> None:
    """``source``'s files copied to ``target``, each video's frames as ``changed`` reads them,
    re-encoded at ``rate`` times its frame rate. A target that holds files is refused (never
    overwritten, never the source)."""
    if target.exists() and any(target.iterdir()):
        sys.exit(f"{target}: exists and is not empty; name a new folder for the copies")
    for path in sorted(p for p in source.rglob("*") if p.is_file()):
        copy = target / path.relative_to(source)
        copy.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() not in VIDEO_EXTENSIONS:
            shutil.copyfile(path, copy)
            continue
        with VideoReader(path) as reader:
            frames = changed(reader)
            fps = reader.fps
        write_video(copy, frames, fps * rate)


def copy_repeating(source: Path, target: Path) -> None:
    """``source``'s files copied to ``target``, each video with its odd frames repeating the
    even ones before them."""
    copy_videos(source, target, lambda reader: reader.read(np.arange(reader.num_frames) // 2 * 2))


def repeat_shares(root: Path, rows: list[dict[str, str]]) -> dict[str, float]:
    """Each source's share of consecutive frames that repeat the picture before them."""
    shares: dict[str, list[float]] = {}
    for row in progress(rows, "looking for repeats", unit="clips"):
        with VideoReader(root / row["path"]) as reader:
            grey = reader.read(np.arange(reader.num_frames), 240).mean(-1)
        changes = np.abs(np.diff(grey, axis=0)).mean((1, 2))
        repeats = float((changes < 0.1 * np.median(changes)).mean())
        shares.setdefault(row["group"], []).append(repeats)
    return {group: float(np.mean(values)) for group, values in sorted(shares.items())}


def followers(frames: torch.Tensor, raw: np.ndarray, fps: float, pairing: str) -> torch.Tensor:
    """(T, 5, 3, S, S) normalised frames, each sampled one t as t-1 to t+3 (``READ_AROUND``),
    and the same (T * 5, H, W, 3) as decoded -> (T,) which of the 5 each t is paired with."""
    count, sampled = len(frames), SAMPLED_ROW
    if pairing == "the next frame":
        return torch.full((count,), sampled + 1, dtype=torch.long)
    if pairing == "the frame after next":
        return torch.full((count,), sampled + 2, dtype=torch.long)
    if pairing == "vidact's":
        return torch.from_numpy(pair_rows(raw, fps)[1::2] % len(READ_AROUND))
    later = frames[:, sampled + 1 :] - frames[:, sampled : sampled + 1]
    distinct = later.abs().mean((2, 3, 4)) * 127.5 > DISTINCT  # (T, 3) grey levels
    first = distinct.float().argmax(1) + sampled + 1
    return torch.where(distinct.any(1), first, torch.full_like(first, len(READ_AROUND) - 1))


def encode(root: Path, rows: list[dict[str, str]], repeated: bool) -> np.ndarray:
    """(pairings, N, 48, 2560) float16: each clip's motion features by halves, per pairing; with
    ``repeated`` every other frame of the clip replaced by the one before it."""
    encoder = MotionEncoder().eval()
    spec = encoder.input_spec(288).fitted("pad")
    sampling = ClipSampling(frames=48, strategy="segment")
    encoded = []
    with torch.inference_mode():
        for row in progress(rows, "encoding", unit="clips"):
            with VideoReader(root / row["path"]) as reader:
                last = reader.num_frames - 1
                sampled = sampling.indices(reader.num_frames, reader.fps)
                read = np.clip(sampled[:, None] + READ_AROUND, 0, last)
                read = read // 2 * 2 if repeated else read
                raw = reader.read(read.reshape(-1), spec.short_side)
                fps = reader.fps
            frames = eval_transform(spec)(raw)
            frames = frames.view(len(sampled), len(READ_AROUND), *frames.shape[1:])
            clip = []
            for pairing in PAIRINGS:
                paired = frames[torch.arange(len(sampled)), followers(frames, raw, fps, pairing)]
                pairs = torch.stack([frames[:, SAMPLED_ROW], paired], 1).flatten(0, 1)
                clip.append(by_halves(encoder.encoder.model, encoder.changes(pairs)))
            encoded.append(np.stack(clip))
    return np.stack(encoded, axis=1)


def main(root: Path, out: Path) -> None:
    rows, labels, splits = clips(root, out)
    groups = np.array([row["group"] for row in rows])
    shares = repeat_shares(root, rows)
    print("repeats per source: " + ", ".join(f"{g} {s:.2f}" for g, s in shares.items()))
    summaries = {}
    for repeated in (False, True):
        stored = out / f"pairings{'-repeated' if repeated else ''}.npy"
        features = encoded_once(stored, lambda repeated=repeated: encode(root, rows, repeated))
        summaries[repeated] = [np.stack([halves_summary(c) for c in p]) for p in features]
    for number, pairing in enumerate(PAIRINGS):
        clean, repeated = summaries[False][number], summaries[True][number]
        for name, test_on in (("as they are", clean), ("test clips repeating frames", repeated)):
            shown = " / ".join(
                described(scored(clean, labels, groups, splits, SHARE, c, test_on))
                for c in STRENGTHS
            )
            print(f"{pairing}, {name}: {shown} (C {' / '.join(map(str, STRENGTHS))})", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "--copy":
        copy_repeating(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        main(Path(sys.argv[1]), Path(sys.argv[2]))
