"""Safe by construction (issue 16): one test per problem a hostile-but-realistic user found.

1 loading never runs code; 3 no command destroys a file; 4 NaN never passes; 6 no resource
bombs; 7 one-line errors, before the work; 8 grids checked whole; 9 rotation and variable frame
rates; 10 tests that skip without ../shared. Problem 2 (ensembles) is in
tests/evaluation/test_ensemble.py, problem 5 (the server) in tests/web/test_hardening.py.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from tests.conftest import FAST_RUN, invoke, runner, split_args
from vidact.cli.main import app
from vidact.errors import CheckpointError, ConfigError
from vidact.inference.load import load_predictor
from vidact.io.reader import VideoReader, VideoReadError
from vidact.io.writer import write_video


def _fails(args: list[object], expected: str) -> str:
    """Exit status 2 with one ``error:`` line holding ``expected``, and no traceback."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    assert expected in result.output, result.output
    assert "Traceback" not in result.output
    return result.output


@pytest.fixture
def checkpoint(trained_run: Path) -> Path:
    return trained_run / "checkpoints" / "best.ckpt"


# -- 1: loading never runs code ----------------------------------------------------------------
class _Payload:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def test_1_a_checkpoint_that_would_run_code_is_refused_before_it_runs(
    checkpoint: Path, tmp_path: Path, make_video
) -> None:
    marker = tmp_path / "ran"
    raw = torch.load(checkpoint, weights_only=True)
    evil, evil_ensemble = tmp_path / "evil.ckpt", tmp_path / "evil-ensemble.ckpt"
    torch.save({**raw, "extra": _Payload(marker)}, evil)
    members = [{"vidact": raw["vidact"], "state_dict": raw["state_dict"], "x": _Payload(marker)}]
    torch.save({"vidact_ensemble": {"members": members * 2, "weights": [1, 1]}}, evil_ensemble)
    video = make_video()
    for args in (
        ["predict", evil, video],
        ["predict", evil_ensemble, video],
        ["evaluate", evil, "--data", tmp_path],
        ["serve", evil, "--port", "8765"],
        ["export", evil, "--out", tmp_path / "m.onnx"],
    ):
        _fails(args, "refused: it holds Python objects other than tensors")
    assert not marker.exists()
    # files vidact wrote the old way (torch's legacy serialisation; an ensemble of two) still load
    legacy, ensemble = tmp_path / "old.ckpt", tmp_path / "old-ensemble.ckpt"
    torch.save(raw, legacy, _use_new_zipfile_serialization=False)
    plain = [{"vidact": raw["vidact"], "state_dict": raw["state_dict"]}] * 2
    contents = {"members": plain, "weights": [0.5, 0.5], "fusion": "probs"}
    torch.save({"vidact_ensemble": contents}, ensemble, _use_new_zipfile_serialization=False)
    for path in (legacy, ensemble):
        assert len(json.loads(invoke("predict", path, video, "--json"))["top_k"]) == 5


# -- 3: no command destroys a user's file ------------------------------------------------------
def test_3_outputs_never_replace_inputs_members_or_unknown_files(
    checkpoint: Path, tmp_path: Path, make_video
) -> None:
    video = make_video("in.mp4")
    original = video.read_bytes()
    link = tmp_path / "link.mp4"
    link.symlink_to(video)
    hard = tmp_path / "hard.mp4"
    os.link(video, hard)
    for target in (video, link, hard):
        _fails(["predict", checkpoint, video, "--output", target, "--overwrite"], "is an input")
    _fails(["watch", checkpoint, video, "--output", video, "--overwrite"], "is an input")
    _fails(["predict", checkpoint, link, "--output", video, "--overwrite"], "is an input")
    assert video.read_bytes() == original
    # a member checkpoint is never replaced by the ensemble
    _fails(
        ["ensemble", checkpoint, checkpoint, "--data", tmp_path, "--save", checkpoint],
        "is an input",
    )
    # an existing output: refused without --overwrite, replaced with it
    existing = tmp_path / "out.mp4"
    existing.write_bytes(b"keep me")
    _fails(["predict", checkpoint, video, "--output", existing], "exists; pass --overwrite")
    assert existing.read_bytes() == b"keep me"
    # a failed run leaves the old file as it was, and no temporary file beside it
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(original[: len(original) // 3])
    _fails(["predict", checkpoint, broken, "--output", existing, "--overwrite"], "broken.mp4")
    assert existing.read_bytes() == b"keep me"
    invoke("predict", checkpoint, video, "--output", existing, "--overwrite")
    with VideoReader(existing) as reader:
        assert reader.num_frames == 12
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_3_a_report_folder_holding_other_files_is_refused(
    checkpoint: Path, synthetic_dataset, tmp_path: Path
) -> None:
    """evaluate, crossval, ensemble and compare write their reports into a folder: a new one,
    an empty one, or one vidact wrote before (its mark); never among a user's files unasked."""
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "predictions.csv").write_text("my own table\n")
    data = ["--data", synthetic_dataset.root, "--split-file", synthetic_dataset.root / "split.csv"]
    _fails(["evaluate", checkpoint, *data, "--out", mine], "holds files vidact did not write")
    _fails(["crossval", *data[:2], "--out", mine], "holds files vidact did not write")
    _fails(["compare", checkpoint.parent.parent, "--out", mine], "holds files vidact did not write")
    assert sorted(p.name for p in mine.iterdir()) == ["predictions.csv"]
    assert (mine / "predictions.csv").read_text() == "my own table\n"
    report = tmp_path / "report"
    for _ in range(2):  # a report folder of its own takes the report again
        invoke("evaluate", checkpoint, *data, "--out", report, "--workers", "0")
    assert (report / "metrics.json").is_file()
    invoke("evaluate", checkpoint, *data, "--out", mine, "--overwrite", "--workers", "0")
    assert (mine / "metrics.json").is_file()  # asked: written among them


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.jsonl", b'{"my": "own notes"}\n{"second": "line"}\n'),
        ("random.jsonl", bytes(range(256)) * 8),
        ("table.csv", b"a,b,c\n1,2,3\n4,5"),
        ("latin.csv", "video,label\ncaf\xe9.mp4,x\n".encode("latin-1")),
    ],
)
def test_3_resume_appends_only_to_files_vidact_wrote(
    checkpoint: Path, tmp_path: Path, make_video, name: str, content: bytes
) -> None:
    video = make_video()
    foreign = tmp_path / name
    foreign.write_bytes(content)
    option = "--jsonl" if name.endswith(".jsonl") else "--csv"
    _fails(["predict", checkpoint, video, option, foreign, "--resume"], "not a prediction file")
    assert foreign.read_bytes() == content


def test_3_batch_and_export_outputs_follow_the_one_rule(
    checkpoint: Path, tmp_path: Path, make_video
) -> None:
    videos = [make_video("a.mp4"), make_video("b.mp4")]
    rows = tmp_path / "rows.jsonl"
    invoke("predict", checkpoint, *videos, "--jsonl", rows)
    written = rows.read_text()
    _fails(["predict", checkpoint, *videos, "--jsonl", rows], "exists; pass --overwrite")
    rows.write_text(written + '{"video": "cut')  # a row cut off by a kill
    invoke("predict", checkpoint, *videos, "--jsonl", rows, "--resume")
    assert rows.read_text() == written  # the cut row trimmed, nothing repeated
    invoke("predict", checkpoint, videos[0], "--jsonl", rows, "--overwrite")
    assert len(rows.read_text().splitlines()) == 1
    pytest.importorskip("onnx")
    exported = tmp_path / "m.onnx"
    exported.write_bytes(b"mine")
    _fails(["export", checkpoint, "--out", exported], "exists; pass --overwrite")
    assert exported.read_bytes() == b"mine"


# -- 4: NaN never passes -----------------------------------------------------------------------
def test_4_nan_weights_options_and_damaged_files_are_errors(
    checkpoint: Path, tmp_path: Path, make_video
) -> None:
    video = make_video()
    for weights in ("nan,1", "inf,1", "0,1", "-1,2"):
        _fails(
            ["ensemble", checkpoint, checkpoint, "--data", tmp_path, "--weights", weights],
            "--weights",
        )
    _fails(["serve", checkpoint, "--max-seconds", "nan"], "--max-seconds nan")
    _fails(["predict", checkpoint, video, "--window", "nan"], "--window")
    raw = torch.load(checkpoint, weights_only=True)
    name = next(k for k in raw["state_dict"] if k.endswith("classifier.1.weight") or "head" in k)
    raw["state_dict"][name].view(-1)[0] = float("nan")  # a flipped exponent bit
    damaged = tmp_path / "damaged.ckpt"
    torch.save(raw, damaged)
    _fails(["predict", damaged, video, "--json"], "damaged weights?")


@pytest.mark.slow
def test_4_a_changed_byte_in_an_exported_model_is_refused(
    checkpoint: Path, tmp_path: Path, make_video
) -> None:
    pytest.importorskip("onnx")
    exported = tmp_path / "m.onnx"
    invoke("export", checkpoint, "--out", exported)
    data = bytearray(exported.read_bytes())
    data[len(data) // 2] ^= 0x10
    flipped = tmp_path / "flipped.onnx"
    flipped.write_bytes(bytes(data))
    _fails(["predict", flipped, make_video()], "do not match the checksum")
    assert json.loads(invoke("predict", exported, make_video("b.mp4"), "--json"))["top_k"]


# -- 6: no resource bombs ----------------------------------------------------------------------
def test_6_alias_bombs_and_huge_filters_are_refused_at_once(
    checkpoint: Path, tmp_path: Path, make_video
) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    levels += [f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]"
               for p, c in zip("abcdefgh", "bcdefghi", strict=True)]  # fmt: skip
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(levels) + "\nmodel: {head_args: {x: *i}}\n")
    assert bomb.stat().st_size < 1000
    started = time.monotonic()
    output = _fails(["train", "--config", bomb, "--data", tmp_path], "expands to over")
    assert len(output) < 1000 and time.monotonic() - started < 10
    _fails(["predict", checkpoint, make_video(), "--smooth", "1000000000"], "--smooth")


# -- 7: one-line errors, raised before the work ------------------------------------------------
def test_7_bad_paths_recipes_and_ports_are_one_line_errors(
    checkpoint: Path, trained_run: Path, tmp_path: Path, make_video
) -> None:
    video = make_video()
    started = time.monotonic()
    _fails(["export", checkpoint, "--out", "/proc/x/m.onnx"], "cannot")
    folder = tmp_path / "folder.onnx"
    folder.mkdir()
    folder.with_suffix(".mp4").mkdir()
    _fails(["export", checkpoint, "--out", folder], "is a folder")
    assert time.monotonic() - started < 10  # refused before the export's work
    _fails(["predict", checkpoint, video, "--output", folder.with_suffix(".mp4")], "is a folder")
    _fails(["watch", checkpoint, video, "--output", "/proc/x/rec.mp4"], "cannot")
    deep = tmp_path / "new" / "folder" / "out.png"  # a missing folder is made
    invoke("predict", checkpoint, video, "--output", deep)
    assert deep.stat().st_size > 0
    for recipe, expected in (("_base_: 42\n", "_base_"), ("data: [1, 2]\n", "'data' must be")):
        path = tmp_path / "recipe.yaml"
        path.write_text(recipe)
        _fails(["train", "--config", path, "--data", tmp_path], expected)
    for value in ("inf", "nan"):
        _fails(["predict", checkpoint, video, "--window", value], "--window")
        _fails(["watch", checkpoint, video, "--window", value], "--window")
    _fails(["serve", checkpoint, "--port", "70000"], "--port")
    with socket.socket() as taken:  # a port another program holds: said before models load
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        said = _fails(["serve", checkpoint, "--port", port], f"cannot listen on 127.0.0.1:{port}: ")
        assert "serving" not in said
    evaluation = tmp_path / "eval"
    evaluation.mkdir()
    (evaluation / "metrics.json").write_text('{"top1": ')
    _fails(["report", evaluation, "--out", tmp_path / "r.html"], "metrics.json: damaged")
    _fails(["report", trained_run, "--out", tmp_path], "is a folder")
    report_file = tmp_path / "r.txt"
    report_file.write_text("mine")
    _fails(["evaluate", checkpoint, "--data", tmp_path, "--out", report_file], "is a file")
    assert report_file.read_text() == "mine"


def test_7_a_failed_recording_makes_watch_fail(
    checkpoint: Path, tmp_path: Path, make_video, monkeypatch
) -> None:
    import vidact.inference.live as live

    def broken_writer(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(live, "write_video", broken_writer)
    output = _fails(
        ["watch", checkpoint, make_video(), "--output", tmp_path / "rec.mp4", "--no-realtime"],
        "the recording failed",
    )
    assert "No space left" in output and not (tmp_path / "rec.mp4").exists()


# -- 8: grids checked whole, before the first run ----------------------------------------------
@pytest.mark.parametrize(
    "grid, expected",
    [
        ("grid: {head: [gru, gru]}", "more than once"),
        ("grid: {head: [gru]}\nevaluate: {topk: [1, 0]}", "topk"),
        ("grid: {head: [gru]}\nevaluate: {split: tset}", "split"),
        ("grid: {head: [gru]}\nevaluate: {splits: test}", "'evaluate' takes"),
        ("grid: {head: [gru], colour: [red]}", "colour"),
    ],
)
def test_8_grid_mistakes_are_refused_before_any_run(
    synthetic_dataset, tmp_path: Path, grid: str, expected: str
) -> None:
    root = synthetic_dataset.root
    path = tmp_path / "grid.yaml"
    path.write_text(f"settings: {{data: {{root: {root}, split_file: {root}/split.csv}}}}\n{grid}\n")
    _fails(["compare", "--config", path, "--out", tmp_path / "out"], expected)
    assert not (tmp_path / "out").exists()


# -- 9: video metadata ---------------------------------------------------------------------------
def test_9_a_rotated_phone_video_is_read_and_annotated_upright(
    checkpoint: Path, tmp_path: Path
) -> None:
    frames = np.zeros((12, 32, 64, 3), np.uint8)
    frames[:, :, :32] = 255  # left half white, as stored
    plain = write_video(tmp_path / "plain.mp4", frames, 10)
    data = bytearray(plain.read_bytes())
    matrix = data.find(b"tkhd") + 4 + 40  # the track header's display matrix: 90 degrees
    data[matrix : matrix + 36] = np.array(
        [0, 0x10000, 0, -0x10000, 0, 0, 0, 0, 0x40000000], dtype=">i4"
    ).tobytes()
    phone = tmp_path / "phone.mp4"
    phone.write_bytes(bytes(data))
    with VideoReader(phone) as reader:
        assert (reader.width, reader.height) == (32, 64)
        frame = reader.read([0])[0]
        assert frame.shape == (64, 32, 3)  # turned upright: the white half now on top
        assert frame[:28].mean() > 200 and frame[36:].mean() < 50
        assert reader.read([0], short_side=16)[0].shape == (32, 16, 3)
    annotated = tmp_path / "annotated.mp4"
    invoke("predict", checkpoint, phone, "--output", annotated)
    with VideoReader(annotated) as reader:
        assert (reader.width, reader.height) == (32, 64)


def test_9_a_variable_frame_rate_video_is_timed_by_its_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "vfr.mkv"
    stamps = np.sort(np.random.default_rng(0).choice(np.arange(10, 7900, 10), 58, replace=False))
    stamps = [0, *stamps.tolist(), 7900]  # 60 frames over 8 s, declared as 25 fps
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for i, stamp in enumerate(stamps):
            noise = np.random.default_rng(i).integers(0, 255, (48, 64, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(noise, "rgb24")  # noise: every frame is large
            frame.pts, frame.time_base = stamp, Fraction(1, 1000)
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with VideoReader(path) as reader:
        assert reader.num_frames == 60
        assert reader.duration == pytest.approx(8.0, rel=0.03)
        assert reader.read([59]).shape == (1, 48, 64, 3)
    truncated = tmp_path / "cut.mkv"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size * 6 // 10])
    with pytest.raises(VideoReadError, match="truncated: its frames span"):
        _ = VideoReader(truncated).num_frames


# -- 10: tests skip without ../shared ----------------------------------------------------------
@pytest.mark.slow
def test_10_real_clip_tests_skip_when_the_clips_are_absent(tmp_path: Path) -> None:
    files = [
        "tests/inference/test_onnx.py",
        "tests/inference/test_batch.py",
        "tests/training/test_seed_fidelity.py",
        "tests/evaluation/test_ensemble.py",
        "tests/io/test_reader.py",
        "tests/web/test_api.py",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "real or clip or "
         "ensemble or onnx or corpus or flattening or predict", *files],
        cwd=Path(__file__).resolve().parents[1],
        env={**os.environ, "VIDACT_REAL_SMOKE": str(tmp_path / "absent")},
        capture_output=True,
        text=True,
        timeout=600,
    )  # fmt: skip
    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-3000:]
    assert re.fullmatch(r"\d+ passed, \d+ skipped, \d+ deselected in .*", summary), summary


def test_checks_raise_config_errors_not_tracebacks() -> None:
    from vidact.io.outputs import check_output

    with pytest.raises(ConfigError, match="is an input"):
        check_output(Path("a.mp4"), [Path("./a.mp4")], overwrite=True)
    with pytest.raises(CheckpointError, match="not found"):
        load_predictor("missing.ckpt", "cpu")


def test_training_options_reject_non_finite_numbers(synthetic_dataset, tmp_path: Path) -> None:
    args = [*split_args(synthetic_dataset.root), *FAST_RUN, "--out", tmp_path / "run"]
    _fails(["train", *args, "--lr", "nan"], "--lr nan")
    recipe = tmp_path / "r.yaml"
    recipe.write_text("lr: .inf\n")
    _fails(["train", "--config", recipe, *args], "finite")
    assert not (tmp_path / "run").exists()
