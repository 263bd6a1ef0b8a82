"""The pose encoder on real people, its feature-space augmentation, and fusion with a CNN."""

from __future__ import annotations

import builtins
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from tests.conftest import REAL_SMOKE
from vidact.data import bodies
from vidact.data.bodies import HIPS, PersonFinder, PoseTracker, body_centre, find_in_clip
from vidact.data.transforms import InputSpec, PersonSquare, eval_transform, fit_rule
from vidact.errors import ConfigError
from vidact.io.reader import VideoReader
from vidact.models.backbones import FusedEncoder, build_encoder
from vidact.models.pose import (
    ARMS_AND_TORSO,
    NUM_FEATURES,
    NUM_LANDMARKS,
    ArmPoseEncoder,
    PoseEncoder,
    PoseJitter,
    arm_jitter,
    fill_gaps,
    mirror,
    normalise_landmarks,
    retimed,
)
from vidact.sampling import sample_indices
from vidact.training.features import FeatureStore

pytest.importorskip("mediapipe", reason="the pose extra is not installed")

PEOPLE = [
    REAL_SMOKE / "NTU_RGBD" / "A001_drink_water" / "S001C001P001R001A001_rgb.avi",  # 1920x1080
    REAL_SMOKE / "Kinetics400" / "arm_wrestling" / "demo.mp4",  # 340x256, two people
]


def _pose_features(video: Path, frames: int = 12) -> torch.Tensor:
    encoder = PoseEncoder()
    spec = encoder.input_spec()
    with VideoReader(video) as reader:
        positions = np.linspace(0, reader.num_frames - 1, frames).round().astype(int)
        clip = reader.read(positions, short_side=spec.short_side)
    return encoder(eval_transform(spec)(clip))  # (T, 133)


@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
def test_mediapipe_native_log_lines_stay_off_stderr(capfd) -> None:
    """TensorFlow Lite and glog write to the process's stderr when MediaPipe's graph starts and
    when its landmark stage first runs, here on a person who appears after two empty frames."""
    with VideoReader(PEOPLE[0]) as reader:
        person = reader.read([0], short_side=480)[0]
    empty = np.zeros_like(person)
    with PoseTracker() as track:
        found = [track(frame) is not None for frame in (empty, empty, person, person)]
    assert found == [False, False, True, True]
    print("after", file=sys.stderr)  # stderr itself is back once the landmarks have run
    assert capfd.readouterr().err == "after\n"


@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
@pytest.mark.parametrize("video", PEOPLE, ids=lambda p: p.parent.name)
def test_finds_the_person_in_real_clips_and_follows_the_motion(video: Path) -> None:
    features = _pose_features(video, frames=32)
    assert features.shape == (32, NUM_FEATURES)
    present = features[:, -1] > 0.5
    # two wrestlers in contact are the hard case: 0.75 of 32 frames found (12 frames spread
    # over the 10 s are 12 fresh detections, found 0.25-0.67 as the frame size varies)
    assert present.float().mean() >= 0.5
    points = features[present, :-1].view(-1, NUM_LANDMARKS, 4)
    torso = points[:, [11, 12, 23, 24], :2].mean(dim=1)
    assert torso.abs().max() < 1e-4  # centred on the torso
    wrists = points[:, [15, 16], :2]  # body-normalised: what moves is the pose, not the camera
    assert wrists.std(dim=0).max() > 0.05


@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
def test_the_tracker_follows_a_step_at_once() -> None:
    """A clip's frames are read far apart (48 over 6 s: one in four at 30 frames/s), and
    MediaPipe's landmark smoothing, made for consecutive frames, would carry a share of each
    frame's landmarks over to the next: a person moved 6 px showed 0.57 of the step with it."""
    with VideoReader(PEOPLE[0]) as reader:
        frame = reader.read([20], short_side=720)[0]
    moved = np.zeros_like(frame)
    moved[:, 6:] = frame[:, :-6]
    with PoseTracker() as track:
        torso = [track(f)[[11, 12, 23, 24], 0].mean() * frame.shape[1] for f in (frame,) * 3]
        step = track(moved)[[11, 12, 23, 24], 0].mean() * frame.shape[1] - torso[-1]
    assert step / 6 > 0.75  # 0.9 as found in that frame alone


@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
def test_the_arm_encoder_keeps_x_and_y_of_arms_and_torso_and_the_flag() -> None:
    video = PEOPLE[0]
    full = _pose_features(video, frames=6)
    arms = build_encoder("pose_arms")
    assert isinstance(arms, ArmPoseEncoder) and arms.num_features == 29
    with VideoReader(video) as reader:
        positions = np.linspace(0, reader.num_frames - 1, 6).round().astype(int)
        clip = reader.read(positions, short_side=arms.input_spec().short_side)
    features = arms(eval_transform(arms.input_spec())(clip))
    points = full[:, :-1].view(6, NUM_LANDMARKS, 4)[:, list(ARMS_AND_TORSO), :2]
    torch.testing.assert_close(features[:, :-1], points.flatten(1))
    torch.testing.assert_close(features[:, -1], full[:, -1])


def _placed(clip: np.ndarray, scale: float, top: int, left: int) -> np.ndarray:
    """The clip's frames scaled by ``scale`` on a black 800x400 picture at (top, left)."""
    frames = torch.from_numpy(clip).permute(0, 3, 1, 2).float()
    frames = F.interpolate(frames, scale_factor=scale, mode="bilinear", antialias=True)
    canvas = torch.zeros(len(clip), 3, 400, 800)
    canvas[:, :, top : top + frames.shape[2], left : left + frames.shape[3]] = frames
    return canvas.permute(0, 2, 3, 1).round().byte().numpy()


@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
def test_a_person_framed_above_the_hips_keeps_the_whole_frame() -> None:
    """A webcam framed at the waist: the picture ends above the hips, and the person fills it, so
    the whole frame serves better than a square of torso lengths around them (docs/measurements.md,
    "A webcam framed at the waist"): the body is placed only when its whole torso is seen."""
    with VideoReader(PEOPLE[0]) as reader:  # shoulders at y 133, hips at 200 in this crop
        clip = reader.read(range(0, 99, 14), short_side=540)[:, 60:420, 280:760]
    cut = np.ascontiguousarray(clip[:, :172])  # 60% of the way from the shoulders to the hips
    with PoseTracker() as track:
        hips = [track(frame)[list(HIPS), 3].mean() for frame in cut]
    assert max(hips) < 0.5  # out of the picture: MediaPipe guesses them
    assert body_centre(clip) is not None and body_centre(cut) is None


@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
def test_a_frame_where_nobody_is_found_is_looked_at_again_in_a_margin() -> None:
    """A boxer zoomed in to half the picture: MediaPipe's detector, made for whole bodies, finds
    nobody in the frames as they are; the pose encoder finds them in the frames in a margin."""
    video = REAL_SMOKE / "UCF101" / "Punch" / "v_Punch_g03_c01.avi"
    with VideoReader(video) as reader:
        clip = reader.read(np.unique(sample_indices(reader.num_frames, 16, "segment")))
    height, width = clip.shape[1:3]
    top, left = height // 6, width // 4
    zoomed = torch.from_numpy(clip[:, top : top + height // 2, left : left + width // 2])
    zoomed = F.interpolate(zoomed.permute(0, 3, 1, 2).float(), size=(height, width)) / 255
    frames = (zoomed * 255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    with PoseTracker() as track:
        assert all(track(frame) is None for frame in frames)
    found = PoseEncoder()(zoomed)[:, -1]  # the person-present flag
    assert found.sum() >= 3
    with VideoReader(PEOPLE[0]) as reader:  # a person found in the frame as it is
        person = reader.read([0], short_side=480)[0]
    with PoseTracker() as track, PersonFinder() as find:
        as_it_is = track(person)
        own, find.track = find.track, lambda frame: None  # as if nobody were found there
        in_margin = find(person)  # the margin's landmarks
        find.track = own
    assert as_it_is is not None and in_margin is not None  # as fractions of the frame itself
    np.testing.assert_allclose(in_margin[:25, :2], as_it_is[:25, :2], atol=0.02)


@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
def test_the_person_fit_centres_and_scales_the_body() -> None:
    """The same person at the left of one picture and smaller at the right of another: the
    person fit gives both the same square, so its halves are the body's; the padded frame
    differs (the halves are the picture's); with nobody found it is the padded frame."""
    with VideoReader(PEOPLE[0]) as reader:  # the person, 225 px tall at 540, and the room
        clip = reader.read([0, 20, 40, 60], short_side=540)[:, 60:420, 280:760]
    near, far = _placed(clip, 1.0, 20, 0), _placed(clip, 0.8, 100, 416)
    person = InputSpec(112, (0.5,) * 3, (0.5,) * 3).fitted("person")
    assert person.short_side == 224  # a person half the frame's height keeps 112 real pixels
    squares = [eval_transform(person)(c) for c in (near, far)]
    frames = [eval_transform(person.fitted("pad"))(c) for c in (near, far)]
    assert squares[0].shape == frames[0].shape == (4, 3, 112, 112)
    assert (squares[0] - squares[1]).abs().mean() < 0.1 * (frames[0] - frames[1]).abs().mean()
    nobody = np.zeros_like(near)
    nobody[:, 100:300, 50:150] = 200  # a bright box, no body
    assert torch.equal(eval_transform(person)(nobody), eval_transform(person.fitted("pad"))(nobody))
    with pytest.raises(ConfigError, match="reads the person"):
        eval_transform(person, crops=3)


def test_the_person_squares_rule_is_part_of_the_cache_keys(tmp_path: Path, monkeypatch) -> None:
    # features cached under one rule are not served after another: a new release's constants
    encoder = build_encoder("tf_efficientnet_lite0")
    person = replace(encoder.input_spec(64), fit="person")

    def cache(spec: InputSpec) -> str:
        return FeatureStore(tmp_path, encoder, ["scratch"], spec, 8).description

    before = cache(person)
    monkeypatch.setattr(PersonSquare, "TORSOS", 3.0)
    assert cache(person) != before
    pad = replace(person, fit="pad")
    assert fit_rule(pad) is None and cache(pad) != before


def test_no_person_gives_zeros_with_the_flag_off() -> None:
    features = PoseEncoder()(torch.zeros(3, 3, 64, 64))
    assert features.shape == (3, NUM_FEATURES) and not features.any()


def test_frames_before_the_person_is_found_are_tracked_back_from_there(monkeypatch) -> None:
    """MediaPipe's detector misses a person its landmark model then follows: a track that starts
    at a later frame is carried back to the frames before it."""

    class Tracker:  # finds a frame marked 2 (detectable), then follows into frames marked 1
        def __init__(self, *args: object) -> None:
            self.following = False

        def __enter__(self) -> Tracker:
            return self

        def __exit__(self, *exc: object) -> None:
            pass

        def __call__(self, frame: np.ndarray) -> np.ndarray | None:
            self.following = frame.max() == 2 or (self.following and frame.max() == 1)
            return np.full((NUM_LANDMARKS, 4), frame.mean()) if self.following else None

    monkeypatch.setattr(bodies, "PersonFinder", Tracker)
    marks = [1, 1, 2, 1, 0, 1, 1, 2, 1, 0]  # 0: nobody there
    frames = [np.full((4, 4, 3), mark, np.uint8) for mark in marks]
    found = [points is not None for points in find_in_clip(frames)]
    assert found == [True, True, True, True, False, True, True, True, True, False]
    # in order, only from each 2 on: [F, F, T, T, F, F, F, T, T, F]


def test_a_lost_person_is_filled_in_between_the_frames_that_found_them() -> None:
    features = np.zeros((6, 3), np.float32)
    features[[1, 4], :2] = [[1.0, -1.0], [4.0, 2.0]]
    features[[1, 4], -1] = 1.0
    filled = fill_gaps(features.copy())
    np.testing.assert_allclose(filled[:, 0], [1, 1, 2, 3, 4, 4])  # the nearest one at the ends
    np.testing.assert_allclose(filled[:, 1], [-1, -1, 0, 1, 2, 2])
    assert (filled[:, -1] == features[:, -1]).all()  # the flag says who was found
    nobody = np.zeros((4, 3), np.float32)
    assert not fill_gaps(nobody).any()


@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
def test_the_encoder_fills_frames_where_nobody_is_found() -> None:
    """A frame where the person is lost is not a jump of every landmark to the torso's centre and
    back, which the head's changes would read as fast motion."""
    encoder = PoseEncoder()
    spec = encoder.input_spec()
    with VideoReader(PEOPLE[0]) as reader:
        clip = eval_transform(spec)(reader.read([10, 20, 30, 40], short_side=spec.short_side))
    clip[[0, 2]] = 0.0  # blank frames: nobody to find
    features = encoder(clip).numpy()
    assert features[:, -1].tolist() == [0, 1, 0, 1]
    np.testing.assert_allclose(features[0, :-1], features[1, :-1])
    np.testing.assert_allclose(
        features[2, :-1], (features[1, :-1] + features[3, :-1]) / 2, atol=1e-6
    )


def test_landmarks_are_normalised_to_the_body() -> None:
    points = np.zeros((NUM_LANDMARKS, 4), np.float32)
    points[[11, 12, 23, 24], :2] = [[0.4, 0.2], [0.6, 0.2], [0.4, 0.6], [0.6, 0.6]]
    points[:, 3] = 1.0
    features = normalise_landmarks(points, width=100, height=100).reshape(-1)
    body = features[:-1].reshape(NUM_LANDMARKS, 4)
    assert features[-1] == 1.0
    np.testing.assert_allclose(body[11, :2], [-0.25, -0.5], atol=1e-6)  # torso length 40 px: scale
    np.testing.assert_allclose(body[24, :2], [0.25, 0.5], atol=1e-6)


def test_mirroring_swaps_left_and_right() -> None:
    points = np.zeros((NUM_LANDMARKS, 4), np.float32)
    points[15] = [0.5, 0.1, 0.0, 1.0]  # left wrist, to the right of the torso
    flipped = mirror(points)
    np.testing.assert_allclose(flipped[16], [-0.5, 0.1, 0.0, 1.0])  # now the right wrist, left
    assert not flipped[15].any()
    np.testing.assert_allclose(mirror(flipped), points)


def test_jitter_moves_bodies_and_leaves_empty_frames_empty() -> None:
    rng = np.random.default_rng(0)
    features = np.zeros((4, 10 + NUM_FEATURES), np.float32)
    features[:, :10] = 7.0  # another encoder's features, before the pose block
    features[:2, 10:-1] = rng.normal(size=(2, NUM_FEATURES - 1))
    features[:2, -1] = 1.0
    out = PoseJitter(offset=10, flip=1.0)(features, rng)
    assert (out[:, :10] == 7.0).all() and not out[2:, 10:].any()
    assert not np.allclose(out[:2, 10:-1], features[:2, 10:-1])
    assert (out[:, -1] == features[:, -1]).all()
    features[2, 10:-1] = features[1, 10:-1]  # filled in where the person was lost: moved alike
    out = PoseJitter(offset=10, flip=1.0)(features, np.random.default_rng(1))
    np.testing.assert_allclose(out[2, 10:-1], out[1, 10:-1])
    assert not np.allclose(out[2, 10:-1], features[2, 10:-1]) and not out[3, 10:].any()


def test_arm_jitter_keeps_sides_and_changes_the_pace() -> None:
    """Raising the left arm stays the left arm; a clip plays faster or slower."""
    arms = ArmPoseEncoder.num_features
    features = np.zeros((16, arms), np.float32)
    left_wrist = 2 * ARMS_AND_TORSO.index(15)  # its x column
    features[:, left_wrist] = 0.8  # to the left of the torso's centre, in every frame
    features[:, left_wrist + 1] = np.linspace(1.0, -1.0, 16)  # rising
    features[:, -1] = 1.0
    jitter = arm_jitter()
    for seed in range(20):
        out = jitter(features, np.random.default_rng(seed))
        assert (out[:, left_wrist] > 0.5).all()  # never mirrored to the right
        assert out[0, left_wrist + 1] > out[-1, left_wrist + 1]  # still rising
    rng = np.random.default_rng(0)
    paces = [retimed(16, 0.2, rng) for _ in range(20)]
    for positions in paces:
        assert positions[0] >= 0 and positions[-1] <= 15 and (np.diff(positions) >= 0).all()
    assert len({tuple(p) for p in paces}) > 5  # different paces


def test_fusion_joins_member_features_and_caches_per_member(tmp_path: Path) -> None:
    fused = build_encoder("tf_efficientnet_lite0+pose", pretrained=True)
    assert isinstance(fused, FusedEncoder) and fused.num_features == 1280 + NUM_FEATURES
    spec = fused.input_spec(64)
    clips = torch.rand(2, 3, 3, 64, 64)  # (B, T, C, H, W) in [0, 1]
    assert fused.encode_clips(clips).shape == (2, 3, 1280 + NUM_FEATURES)
    lite0 = build_encoder("tf_efficientnet_lite0", pretrained=True)
    sources = ["package:a", "package:b"]
    joined = FeatureStore(tmp_path, fused, sources, spec, 64)
    alone = FeatureStore(tmp_path, lite0, sources[:1], lite0.input_spec(64), 64)
    pose = FeatureStore(tmp_path, build_encoder("pose"), sources[1:], spec, 64)
    assert joined.caches[0].dir == alone.caches[0].dir  # lite0's features serve both
    assert joined.caches[1].dir == pose.caches[0].dir
    assert joined.caches[0].dir != joined.caches[1].dir
    # features a smoothing tracker, or one without the margin, cached are not read as these
    assert pose.caches[0].settings["tracking"] == PoseEncoder.tracking
    assert "tracking" not in alone.caches[0].settings
    # pose pads by its own spec; cropped frames at the same size are other features
    alone_pose = build_encoder("pose")
    padded = alone_pose.input_spec(64)
    own = FeatureStore(tmp_path, alone_pose, sources[1:], padded, 64)
    cropped = FeatureStore(tmp_path, alone_pose, sources[1:], padded.fitted("crop"), 64)
    assert padded.short_side == padded.fitted("crop").short_side and own.caches[0].dir not in (
        cropped.caches[0].dir,
        pose.caches[0].dir,
    )


def test_without_mediapipe_one_line_says_what_to_install(monkeypatch) -> None:
    real_import = builtins.__import__

    def no_mediapipe(name, *args, **kwargs):
        if name.startswith("mediapipe"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_mediapipe)
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[pose\]'"):
        PoseEncoder()
    with pytest.raises(ConfigError, match=r"pip install -e '\.\[pose\]'"):  # the person fit
        eval_transform(InputSpec(112, (0.5,) * 3, (0.5,) * 3).fitted("person"))
    for fit, crops in (("crop", 3), ("crop", 1), ("pad", 1)):  # other fits need no MediaPipe
        eval_transform(InputSpec(112, (0.5,) * 3, (0.5,) * 3).fitted(fit), crops)
