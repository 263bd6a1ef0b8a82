"""Shot cuts: a jump to another scene is one; motion, fades and repeated frames are not; the
share of training videos with such jumps."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import REAL_SMOKE
from vidact.io.reader import VideoReader
from vidact.io.shots import find_cuts, share_with_jumps, video_cuts
from vidact.io.writer import write_video


def _scene(seed: int, count: int, drift: int = 1) -> np.ndarray:
    """(count, 48, 64, 3) a textured scene with a square moving ``drift`` pixels a frame."""
    rng = np.random.default_rng(seed)
    background = rng.integers(0, 255, (1, 6, 8, 3)).repeat(8, 1).repeat(8, 2)
    frames = np.repeat(background, count, 0).astype(np.uint8)
    for i, frame in enumerate(frames):
        frame[16:28, 4 + i * drift : 16 + i * drift] = 255
    return frames


def _cuts(path: Path) -> list[int]:
    with VideoReader(path) as reader:
        return video_cuts(reader)


def test_a_jump_to_another_scene_is_a_cut(tmp_path: Path) -> None:
    joined = np.concatenate([_scene(1, 20), _scene(2, 15), _scene(3, 20)])
    assert _cuts(write_video(tmp_path / "joined.mp4", joined, 10.0)) == [20, 35]


def test_motion_a_fade_and_repeated_frames_are_not_cuts(tmp_path: Path) -> None:
    moving = _scene(1, 30, drift=1)
    assert _cuts(write_video(tmp_path / "moving.mp4", moving, 10.0)) == []
    fade = (moving * np.linspace(1.0, 0.3, 30)[:, None, None, None]).astype(np.uint8)
    assert _cuts(write_video(tmp_path / "fade.mp4", fade, 10.0)) == []
    jerky = _scene(1, 10, drift=4).repeat(3, axis=0)  # 10 frames/s stored at 30: jumps every 3
    assert _cuts(write_video(tmp_path / "jerky.mp4", jerky, 30.0)) == []


def test_a_cut_too_close_to_the_last_one_or_the_end_is_ignored() -> None:
    changes = np.ones(40)
    changes[[10, 14, 37]] = 50.0  # 14 is 0.4 s after 10; 37 leaves 0.3 s (10 frames/s)
    assert find_cuts(changes, 10.0) == [10]
    assert find_cuts(np.array([0.0, 90.0]), 10.0) == []  # too short to hold two shots


def test_real_single_shot_clips_have_no_cuts() -> None:
    clips = sorted(REAL_SMOKE.rglob("*.avi"))[:2]  # UCF101: repeated frames, camera motion
    assert len(clips) == 2
    assert all(_cuts(clip) == [] for clip in clips)


def test_the_share_of_videos_with_jumps(tmp_path: Path) -> None:
    videos = [write_video(tmp_path / f"single{i}.mp4", _scene(i, 20), 10.0) for i in range(3)]
    joined = np.concatenate([_scene(1, 20), _scene(2, 20)])
    videos.append(write_video(tmp_path / "joined.mp4", joined, 10.0))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video")
    assert share_with_jumps([*videos, broken]) == 0.25  # the unreadable one is not counted
    assert share_with_jumps(videos, sample=1) in (0.0, 1.0)
    assert share_with_jumps([broken]) is None
