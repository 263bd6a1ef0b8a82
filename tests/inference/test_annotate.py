"""The annotated video reads back with the input's frames, rate and size, and shows the label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import REAL_SMOKE, invoke, runner
from vidact.cli.main import app
from vidact.io.reader import VideoReader

CLIP = REAL_SMOKE / "UCF101" / "BaseballPitch" / "v_BaseballPitch_g01_c01.avi"  # 320x240, 29.97


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


def test_output_must_be_a_video_or_a_plot(trained_run: Path, tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["predict", str(trained_run / "checkpoints/best.ckpt"), "x.mp4", "--output", "a.gif"]
    )
    assert result.exit_code == 2 and "write an .mp4" in result.output
    assert not Path("a.gif").exists()
