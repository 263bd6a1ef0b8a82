"""The annotated video reads back with the input's frames, rate and size, and shows the label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REAL_SMOKE, invoke, runner
from vidact.cli.main import app
from vidact.inference.annotate import Overlay, annotated_frames
from vidact.inference.timeline import TimelineSettings, WindowScores, plan_windows
from vidact.io.reader import VideoReader
from vidact.sampling import ClipSampling

CLIP = REAL_SMOKE / "UCF101" / "BaseballPitch" / "v_BaseballPitch_g01_c01.avi"  # 320x240, 29.97
PERSON = REAL_SMOKE / "NTU_RGBD" / "A001_drink_water" / "S001C001P001R001A001_rgb.avi"  # 1080p


@pytest.mark.slow
@pytest.mark.skipif(not CLIP.is_file(), reason="../shared/data/real-smoke is absent")
def test_annotated_video_keeps_frames_rate_and_size(trained_run: Path, tmp_path: Path) -> None:
    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    out = tmp_path / "annotated.mp4"
    invoke("predict", checkpoint, CLIP, "--output", out, "--window", "1s", "--stride", "0.5s")
    with VideoReader(CLIP) as source, VideoReader(out) as annotated:
        assert annotated.num_frames == source.num_frames
        assert annotated.fps == pytest.approx(source.fps, rel=1e-3)
        assert (annotated.width, annotated.height) == (source.width, source.height)
        assert annotated._stream.codec_context.name == "h264"
        assert annotated._stream.codec_context.pix_fmt == "yuv420p"
        before, after = source.read([50]), annotated.read([50])
    label_box = np.abs(before[0, :24, :120].astype(int) - after[0, :24, :120]).mean()
    strip = np.abs(before[0, -8:].astype(int) - after[0, -8:]).mean()
    middle = np.abs(before[0, 110:130, 150:170].astype(int) - after[0, 110:130, 150:170]).mean()
    assert label_box > 20 and strip > 20  # the label and the timeline strip are drawn
    assert middle < 8  # the picture itself stays (H.264 noise only)
    invoke("predict", checkpoint, CLIP, "--output", tmp_path / "timeline.png")
    assert (tmp_path / "timeline.png").stat().st_size > 1000


def test_output_must_be_a_video_or_a_plot(trained_run: Path, tmp_path: Path, make_video) -> None:
    checkpoint, video = str(trained_run / "checkpoints/best.ckpt"), str(make_video())
    result = runner.invoke(app, ["predict", checkpoint, video, "--output", "a.gif"])
    assert result.exit_code == 2 and "must end in .mp4 or .png" in result.output
    assert not Path("a.gif").exists()


@pytest.mark.skipif(not PERSON.is_file(), reason="../shared/data/real-smoke is absent")
def test_a_pose_model_draws_the_skeleton_on_the_person() -> None:
    pytest.importorskip("mediapipe", reason="the pose extra is not installed")
    with VideoReader(PERSON) as reader:
        frames = reader.read(range(6), short_side=360)  # 640x360
    windows = plan_windows(6, 25.0, TimelineSettings("6", "6"), ClipSampling(4))
    scan = WindowScores(windows, np.full((1, 3), 1 / 3), 25.0, 6)
    plain = list(annotated_frames(iter(frames), scan, ["a", "b", "c"]))
    boned = list(annotated_frames(iter(frames), scan, ["a", "b", "c"], skeleton=True))
    # the bones are drawn in green over the person, right of the label panel
    added = (boned[-1].astype(int) - plain[-1]).clip(0)[..., 1] > 60
    assert added[:, 200:].sum() > 200


def test_every_text_scales_with_the_frame() -> None:
    """The bars' names too: drawn in the 10-px bitmap font, they were specks on 1080p frames."""
    overlay = Overlay(["fight", "noFight", "walking"])
    scores = np.array([0.6, 0.3, 0.1])

    def names_width(height: int) -> int:
        frame = np.zeros((height, height * 16 // 9, 3), np.uint8)
        drawn = overlay.draw(frame, scores)
        unit = height // 24
        bars_end = unit // 2 + frame.shape[1] // 8  # the names start right of the bars
        text = (drawn[: height // 2, bars_end + unit // 4 :] > 200).all(-1)  # white
        columns = np.flatnonzero(text.any(0))
        return int(columns.max() - columns.min()) if columns.size else 0

    assert names_width(1080) > 2.5 * names_width(240) > 0
