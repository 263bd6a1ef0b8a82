from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidact.demo import DemoSettings, run_demo
from vidact.errors import ConfigError


@pytest.mark.slow
def test_demo_writes_runs_reports_and_the_comparison(tmp_path: Path) -> None:
    tiny = DemoSettings(videos_per_class=10, video_frames=6, clip_frames=3, size=32, epochs=1)
    rows = run_demo(tmp_path, tiny, heads=("gru", "max"))
    assert [row.head for row in rows] == ["gru", "max"]
    for row in rows:
        assert (row.run_dir / "checkpoints" / "best.ckpt").is_file()
        assert (row.report_dir / "metrics.json").is_file()
        assert 0.0 <= row.test_top1 <= 1.0
    table = json.loads((tmp_path / "comparison.json").read_text())
    assert [entry["head"] for entry in table] == ["gru", "max"]
    # the second head reused the first one's frame features: one cache namespace
    assert len(list((tmp_path / "cache" / "features").iterdir())) == 1


def test_demo_names_unknown_heads(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown head.*known: bigru"):
        run_demo(tmp_path, heads=("lstm", "cnn3d"))
