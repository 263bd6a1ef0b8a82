"""The motion encoder: frame differences read in (frame, later frame) pairs, alike on every path."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.conftest import FAST_RUN, invoke, real_clip, split_args
from vidact.data.datasets import read_spread_frames
from vidact.data.transforms import PersonSquare, eval_transform
from vidact.inference.load import load_predictor
from vidact.inference.timeline import TimelineSettings, paired_frames
from vidact.io.reader import VideoReader
from vidact.io.writer import write_video
from vidact.models.backbones import MotionEncoder, build_encoder, frame_span
from vidact.sampling import pair_candidates, pair_rows


def test_a_repeat_is_skipped_stillness_kept_and_the_last_frame_alone() -> None:
    assert pair_candidates(np.array([0, 5]), 7).tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 6, 6]
    assert pair_candidates(np.array([[0], [4]]), 6).tolist() == [[0, 0, 1, 2, 3], [3, 4, 5, 5, 5]]
    # every other frame repeated (15 frames/s stored at 30), a still scene, motion again
    # that drops a frame (40 twice), and the end
    values = [0, 0, 10, 10, 20, 20, 20, 20, 30, 40, 40, 50, 60]
    video = np.stack([np.full((4, 4, 3), value, np.uint8) for value in values])
    sampled = np.array([0, 2, 6, 9, 12])
    read = pair_candidates(sampled, len(video))
    # repeats skipped (0 and 2 held again after moving on, 9 moved before); the still frame
    # 6, where motion starts after two, kept with the next; the last alone
    assert read[pair_rows(video[read], 30)].tolist() == [0, 2, 2, 4, 6, 7, 9, 11, 12, 12]
    assert pair_rows(video, 30, read).tolist() == read[pair_rows(video[read], 30)].tolist()
    frames = ((i, video[i]) for i in np.unique(read))  # a timeline's stream pairs them alike
    pairs = list(paired_frames(frames, sampled, len(video), 30))
    assert [(i, pair[:, 0, 0, 0].tolist()) for i, pair in pairs] == [
        (0, [0, 10]),
        (2, [10, 20]),
        (6, [20, 20]),
        (9, [40, 50]),
        (12, [60, 60]),
    ]
    # under 20 frames/s a picture that holds is a slow movement, not a slower camera's repeat
    assert read[pair_rows(video[read], 15)].tolist() == [0, 1, 2, 3, 6, 7, 9, 10, 12, 12]
    assert frame_span("motion") == frame_span("tf_efficientnet_lite0+motion") == 2
    assert frame_span("tf_efficientnet_lite0") == 1
    # motion_steps reads each pair with the frame before and the one after it
    fours = pair_rows(video, 30, read, span=4).reshape(-1, 4)
    assert fours.tolist() == [
        [0, 0, 2, 3],
        [1, 2, 4, 5],
        [5, 6, 7, 8],
        [8, 9, 11, 12],
        [11, 12, 12, 12],
    ]
    steps = list(
        paired_frames(((i, video[i]) for i in np.unique(read)), sampled, len(video), 30, 4)
    )
    assert [four[:, 0, 0, 0].tolist() for _, four in steps] == video[fours][..., 0, 0, 0].tolist()


@torch.no_grad()
def test_motion_steps_show_three_grey_changes_as_one_picture() -> None:
    """Each four (t-1, t, paired frame, the one after) becomes the amplified grey changes
    between them as red, green and blue: a swing to and fro is not a sweep one way."""
    encoder = MotionEncoder(span=4).eval()
    levels = torch.tensor([0.0, 0.1, 0.3, 0.2, 0.0, 0.1, 0.2, 0.3])  # to and fro, then one way
    frames = levels.view(-1, 1, 1, 1).expand(-1, 3, 8, 8)
    changes = encoder.changes(frames)
    assert changes.shape == (2, 3, 8, 8)
    expected = torch.tensor([[0.2, 0.4, -0.2], [0.2, 0.2, 0.2]])  # gain 2
    torch.testing.assert_close(changes[:, :, 0, 0], expected)
    pictures = torch.rand(8, 3, 32, 32)
    assert encoder(pictures).shape == (2, encoder.num_features)
    assert encoder.encode_clips(pictures.view(2, 4, 3, 32, 32)).shape == (
        2,
        1,
        encoder.num_features,
    )


def test_an_h264_file_repeating_every_other_frame_gives_pairs_that_move(tmp_path: Path) -> None:
    """A square crossing the picture at 15 pictures a second stored at 30 (each twice), and the
    same motion at 30: every pair read from either file shows the square moved, where pairs of
    each frame and its plain next would show nothing in half of them."""
    sweep = []
    for step in range(24):
        frame = np.full((64, 64, 3), 40, np.uint8)
        frame[24:40, 2 + 2 * step : 18 + 2 * step] = 220
        sweep.append(frame)
    repeating = write_video(tmp_path / "repeating.mp4", [f for f in sweep[::2] for _ in (0, 1)], 30)
    smooth = write_video(tmp_path / "smooth.mp4", sweep, 30)
    for video in (repeating, smooth):
        pairs = read_spread_frames(video, 8, None, span=2).array.astype(np.int16)
        moved = np.abs(pairs[1::2] - pairs[0::2]).mean(axis=(1, 2, 3))
        # the last is the video's last picture, with nothing new after it
        assert len(moved) == 8 and moved[:-1].min() > 2, (video.name, moved)
    with VideoReader(repeating) as reader:  # each frame with its plain next: half show nothing
        positions = np.linspace(0, reader.num_frames - 2, 8).round().astype(int)
        frames = reader.read(np.stack([positions, positions + 1], axis=1).reshape(-1)).astype(int)
    assert (np.abs(frames[1::2] - frames[0::2]).mean(axis=(1, 2, 3)) < 0.5).sum() >= 3


@torch.no_grad()
def test_motion_features_see_what_moves_not_how_the_scene_looks() -> None:
    encoder = MotionEncoder().eval()
    scenes = torch.rand(2, 3, 64, 64) * 2 - 1  # two different scenes, normalised
    still = encoder(scenes.repeat_interleave(2, dim=0))  # (scene, same scene) pairs
    assert still.shape == (2, encoder.num_features)
    torch.testing.assert_close(still[0], still[1])  # nothing moved: the scene does not matter
    shifted = torch.stack([scenes[0], scenes[0].roll(4, dims=-1)])
    assert (encoder(shifted)[0] - still[0]).abs().max() > 0.1


@torch.no_grad()
def test_halves_pooling_tells_a_movement_on_the_left_from_one_on_the_right() -> None:
    halves = build_encoder("motion", pool="halves").eval()
    plain = build_encoder("motion").eval()
    assert halves.num_features == 2 * plain.num_features and halves.pool == "halves"
    scene = torch.zeros(3, 128, 128)
    moved = []
    for left in (0, 104):  # a square appears at the left or the right edge of the picture
        after = scene.clone()
        after[:, 52:76, left : left + 24] = 1.0
        moved.append(torch.stack([scene, after]))
    pairs = torch.cat([torch.stack([scene, scene]), *moved])  # still, left, right: (6, 3, S, S)
    still, left_side, right_side = halves(pairs)
    width = plain.num_features

    def change(features: torch.Tensor) -> tuple[float, float]:  # (left half, right half)
        moved = (features - still).abs()
        return moved[:width].sum().item(), moved[width:].sum().item()

    assert change(left_side)[0] > 2 * change(left_side)[1]  # the left half saw it, the right less
    assert change(right_side)[1] > 2 * change(right_side)[0]
    whole = plain(pairs)  # the two halves of an even-width map average to the plain pooling
    torch.testing.assert_close(
        (left_side[:width] + left_side[width:]) / 2, whole[1], atol=1e-4, rtol=0
    )


@torch.no_grad()
def test_on_a_real_clip_appearance_comes_from_the_first_of_each_pair() -> None:
    video = real_clip("Kinetics400", "arm_wrestling", "demo.mp4")
    fused = build_encoder("tf_efficientnet_lite0+motion", pretrained=True).eval()
    alone = build_encoder("tf_efficientnet_lite0", pretrained=True).eval()
    with VideoReader(video) as reader:
        positions = np.array([0, 10, 20])
        frames = reader.read(pair_candidates(positions, reader.num_frames), 73)
    frames = frames[pair_rows(frames, 30)]  # (frame, later frame) pairs
    features = fused(eval_transform(fused.input_spec(64))(frames))  # 6 frames -> (3, 2 x 1280)
    appearance = alone(eval_transform(alone.input_spec(64))(frames[0::2]))  # what lite0 caches
    torch.testing.assert_close(features[:, :1280], appearance, atol=1e-4, rtol=1e-4)
    assert features[:, 1280:].abs().sum() > 0  # people moved between neighbouring frames
    fours = build_encoder("tf_efficientnet_lite0+motion_steps", pretrained=True).eval()
    with VideoReader(video) as reader:  # each sampled frame as the second of its four
        read = pair_candidates(positions, reader.num_frames)
        frames = reader.read(read, 73)[pair_rows(reader.read(read, 73), reader.fps, span=4)]
    features = fours(eval_transform(fours.input_spec(64))(frames))  # 12 frames -> (3, 2560)
    torch.testing.assert_close(features[:, :1280], appearance, atol=1e-4, rtol=1e-4)


@pytest.fixture(scope="module", params=["pad", "person", "steps"])
def motion_run(
    request: pytest.FixtureRequest, synthetic_dataset, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """A model reading the whole frame (``pad``) or, as people_rgb.yaml does, the person's
    square (``person``) with a full-batch fit, whose cache holds each video's evaluation frames:
    the square is placed on the frames a clip is made of. At 112 px (decoded at 224) MediaPipe
    finds the person of a real clip. ``steps``: the whole frame read in fours (motion_steps).
    Every path below must read frames alike."""
    run = tmp_path_factory.mktemp("motion") / "run"
    person = ["--size", "112", "--head", "linear", "--optimizer", "lbfgs", "--lr", "1"]
    motion = "motion_steps" if request.param == "steps" else "motion"
    invoke(
        "train",
        *split_args(synthetic_dataset.root),
        *FAST_RUN,
        "--backbone",
        f"tf_efficientnet_lite0+{motion}",
        "--frame-fit",
        "pad" if request.param == "steps" else request.param,
        *(person if request.param == "person" else ["--head", "stats"]),
        "--epochs",
        "2",
        "--cache-dir",
        tmp_path_factory.mktemp("cache"),
        "--out",
        run,
    )
    return run / "checkpoints" / "best.ckpt"


@pytest.mark.slow
def test_training_cache_prediction_timeline_and_live_frames_agree(
    motion_run: Path, synthetic_dataset
) -> None:
    """Cached features were computed from spread pairs; predict reads pairs from the file, a
    timeline window over the whole video pairs its stream, watch pairs decoded frames: all
    must give the model the same frames, hence the same probabilities."""
    predictor = load_predictor(motion_run)
    assert predictor.info.sampling.pairs and predictor.describe()["frames"] == 3
    fit = predictor.info.input.fit
    assert predictor.decode_size == {"pad": 32, "person": 224}[fit]
    videos = [synthetic_dataset.items[0].path]
    if fit == "person":  # a real person, found and centred (the synthetic videos have none)
        videos.append(real_clip("NTU_RGBD", "A001_drink_water", "S001C001P001R001A001_rgb.avi"))
    for video in videos:
        whole = predictor.probabilities(predictor.load_views(VideoReader(video))[None])[0][0]
        with VideoReader(video) as reader:
            length, fps = reader.num_frames, reader.fps
            frames = reader.read(range(length), predictor.decode_size)  # as watch decodes them
        torch.testing.assert_close(predictor.classify_frames(frames, fps)[0], whole)
        scan = predictor.scan(video, TimelineSettings(window=str(length), stride=str(length)))
        np.testing.assert_allclose(scan.scores[0], whole.numpy(), atol=1e-5)
    if fit == "person":
        clip = torch.from_numpy(frames[::10]).permute(0, 3, 1, 2)
        square = PersonSquare(112).locate(clip)
        assert square is not None and square[2] < min(frames.shape[1:3])  # found, and zoomed
        # the person walking right, read with repeats (a short video's evaluation, a motion
        # encoder's frames around each sampled one): the square lies where it lies for the
        # frames read once (looking among all rows read, it lay 18 pixels to the left)
        walk = torch.stack([frame.roll(6 * i, dims=-1) for i, frame in enumerate(clip)])
        again = walk[np.repeat(np.arange(len(walk)), np.where(np.arange(len(walk)) < 3, 4, 1))]
        assert PersonSquare(112).locate(again) == PersonSquare(112).locate(walk) is not None
    # validation during training read cached features (encoded from spread pairs); evaluate
    # reads the pairs of the files: the same loss
    run = motion_run.parents[1]
    invoke(
        "evaluate",
        motion_run,
        *split_args(synthetic_dataset.root),
        "--split",
        "val",
        "--out",
        run / "val",
    )
    rows = (run / "metrics.csv").read_text().splitlines()[1:]
    trained = min(float(row.split(",")[3]) for row in rows)
    evaluated = json.loads((run / "val" / "metrics.json").read_text())["loss"]
    assert evaluated == pytest.approx(trained, abs=1e-3)  # features cached as float16


@pytest.mark.slow
def test_a_motion_model_exports_and_runs_in_onnxruntime(
    motion_run: Path, synthetic_dataset, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    out = tmp_path / "motion.onnx"
    invoke("export", motion_run, "--out", out)
    video = synthetic_dataset.items[0].path
    torch_result = load_predictor(motion_run).predict(video, topk=3)
    onnx_result = load_predictor(out).predict(video, topk=3)
    assert [p["label"] for p in onnx_result["top_k"]] == [p["label"] for p in torch_result["top_k"]]
    for a, b in zip(onnx_result["top_k"], torch_result["top_k"], strict=True):
        assert a["probability"] == pytest.approx(b["probability"], abs=1e-4)
