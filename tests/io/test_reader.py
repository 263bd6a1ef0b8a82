from __future__ import annotations

import csv
import shutil
import struct
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from tests.conftest import REAL_SMOKE, frame_number
from vidact.data.index import scan_folder
from vidact.inference.corpus import find_videos
from vidact.io.reader import VideoReader, VideoReadError, probe
from vidact.io.writer import write_video


@pytest.mark.parametrize("suffix", [".mp4", ".avi", ".mkv", ".webm"])
def test_reads_counts_and_frames_in_every_container(make_video, suffix: str) -> None:
    path = make_video(f"clip{suffix}", frames=12, fps=10)
    with VideoReader(path) as reader:
        assert reader.num_frames == 12
        assert reader.fps == pytest.approx(10)
        assert reader.duration == pytest.approx(1.2)
        assert (reader.width, reader.height) == (64, 48)
        clip = reader.read([0, 5, 11])
    assert clip.shape == (3, 48, 64, 3) and clip.dtype == np.uint8
    assert [frame_number(f) for f in clip] == [0, 5, 11]


@pytest.mark.parametrize(("suffix", "muxer", "codec"), [(".ts", "mpegts", "libx264"),
    (".MTS", "mpegts", "libx264"), (".wmv", "asf", "wmv2"), (".3gp", "3gp", "libx264"),
    (".flv", "flv", "flv")])  # fmt: skip
def test_camera_and_recorder_files_are_videos(tmp_path: Path, suffix, muxer, codec) -> None:
    """A DVR's .ts export or a camcorder's .MTS in a class folder is a video, not skipped."""
    path = tmp_path / "walk" / f"clip{suffix}"
    path.parent.mkdir()
    with av.open(str(path), "w", format=muxer) as container:
        stream = container.add_stream(codec, rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for number in range(12):
            image = np.full((48, 64, 3), 10 + 3 * number, np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    other = tmp_path / "run" / path.name  # a dataset has two classes at least
    other.parent.mkdir()
    shutil.copy(path, other)
    assert find_videos([tmp_path]) == [other, path]
    assert sorted(item.path for item in scan_folder(tmp_path).items) == [other, path]
    with VideoReader(path) as reader:
        assert reader.num_frames == 12
        assert [frame_number(frame) for frame in reader.read([0, 11])] == [0, 11]


def test_read_keeps_order_and_repeats(make_video) -> None:
    with VideoReader(make_video()) as reader:
        clip = reader.read([7, 2, 2, 9])
    assert [frame_number(f) for f in clip] == [7, 2, 2, 9]


def test_read_resizes_short_side_keeping_aspect(make_video) -> None:
    with VideoReader(make_video(height=48, width=64)) as reader:
        clip = reader.read([0, 1], short_side=24)
    assert clip.shape == (2, 24, 32, 3)


def test_out_of_range_indices_are_refused(make_video) -> None:
    with VideoReader(make_video(frames=5)) as reader, pytest.raises(ValueError, match=r"\[0, 5\)"):
        reader.read([5])


def _expect_error(path: Path, problem: str) -> None:
    with pytest.raises(VideoReadError, match=problem) as info:
        probe(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.mp4", "not found")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.mp4"
    path.touch()
    _expect_error(path, "empty")


def test_non_video_file(tmp_path: Path) -> None:
    path = tmp_path / "notes.avi"
    path.write_text("this is not a video\n" * 50)
    _expect_error(path, "not a readable video")


def test_zero_frame_video(tmp_path: Path) -> None:
    path = tmp_path / "zero.avi"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        container.start_encoding()
        container.mux(stream.encode(None))  # headers, then no frame at all
    _expect_error(path, "no frames")


def test_truncated_mp4(make_video) -> None:
    path = make_video("cut.mp4", frames=30)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the index (moov) is written last: now lost
    _expect_error(path, "not a readable video|no frames|decod")


def _patch_avi_frame_count(path: Path, frames: int) -> None:
    """Make the AVI headers (avih dwTotalFrames, strh dwLength) claim ``frames`` frames."""
    data = bytearray(path.read_bytes())
    avih = data.index(b"avih") + 8
    strh = data.index(b"strh") + 8
    data[avih + 16 : avih + 20] = struct.pack("<I", frames)
    data[strh + 32 : strh + 36] = struct.pack("<I", frames)
    path.write_bytes(bytes(data))


def test_header_promising_more_frames_than_the_file_holds_is_truncated(make_video) -> None:
    path = make_video("liar.avi", frames=12)
    _patch_avi_frame_count(path, 400)
    with pytest.raises(VideoReadError, match=r"truncated: 12 of the 400 frames.*\(3% readable"):
        _ = VideoReader(path).num_frames


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_truncated_file_is_refused_saying_how_much_is_readable(tmp_path: Path, suffix) -> None:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (40, 48, 64, 3), dtype=np.uint8)  # noise: big packets
    whole = write_video(tmp_path / f"whole{suffix}", frames, 10)
    if suffix == ".mp4":  # the index (moov) first, as streaming MP4s are: only the data is cut
        whole = _faststart(whole, tmp_path / "fast.mp4")
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.3)])
    with pytest.raises(VideoReadError, match=r"cut\.\w+: truncated: \d+ of the 40 frames"):
        _ = VideoReader(cut).num_frames


def _faststart(source: Path, target: Path) -> Path:
    with (
        av.open(str(source)) as inp,
        av.open(str(target), "w", options={"movflags": "faststart"}) as out,
    ):
        stream = out.add_stream_from_template(inp.streams.video[0])
        for packet in inp.demux(inp.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    return target


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_a_still_image_is_not_a_video(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / "photo.mp4"  # an image renamed as a video
    Image.fromarray(np.full((48, 64, 3), 99, np.uint8)).save(path, format=fmt)
    with pytest.raises(VideoReadError, match=r"a still image.*--allow-images"):
        _ = VideoReader(path).num_frames
    with VideoReader(path, allow_images=True) as reader:
        assert reader.num_frames == 1 and reader.read([0, 0]).shape == (2, 48, 64, 3)


def test_a_one_frame_video_is_a_still_image(make_video) -> None:
    with pytest.raises(VideoReadError, match="a still image"):
        _ = VideoReader(make_video("one.mp4", frames=1)).num_frames


def test_a_video_cut_after_its_first_frame_is_truncated_not_a_still_image(make_video) -> None:
    path = make_video("cut.avi", frames=1)
    _patch_avi_frame_count(path, 40)  # what is left of a 40-frame AVI after its first frame
    with pytest.raises(VideoReadError, match=r"cut\.avi: truncated: 1 of the 40 frames"):
        _ = VideoReader(path).num_frames


def test_a_folder_is_not_a_video(tmp_path: Path) -> None:
    with pytest.raises(VideoReadError, match="is a folder, not a video file"):
        VideoReader(tmp_path)


def _manifest() -> list[dict[str, str]]:
    manifest = REAL_SMOKE / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    with manifest.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


@pytest.mark.skipif(not REAL_SMOKE.is_dir(), reason="../shared/data/real-smoke is absent")
@pytest.mark.parametrize("row", _manifest(), ids=lambda row: row["file"])
def test_real_smoke_clips_decode(row: dict[str, str]) -> None:
    path = REAL_SMOKE / row["dataset"] / row["class"] / row["file"]
    with VideoReader(path) as reader:
        assert reader.num_frames == int(row["frames"])
        assert reader.fps == pytest.approx(float(row["fps"]), rel=1e-3)
        assert (reader.width, reader.height) == (int(row["width"]), int(row["height"]))
        last = reader.num_frames - 1
        clip = reader.read([0, last // 2, last], short_side=112)
    assert clip.shape[0] == 3 and min(clip.shape[1:3]) == 112
    assert clip.std() > 1  # real picture content, not a blank frame


@pytest.mark.parametrize("suffix", [".avi", ".mp4", ".mkv", ".webm"])
@pytest.mark.parametrize(
    "indices",
    [[0, 40, 79], [3, 4, 5, 50], [79], [10, 30, 31, 32, 70, 71], list(range(0, 80, 9)), [5, 5, 2]],
)
def test_seeking_reads_the_same_frames_as_decoding_everything(tmp_path, suffix, indices) -> None:
    from tests.conftest import numbered_frames

    path = write_video(
        tmp_path / f"gop{suffix}", numbered_frames(80), 25, keyframe_interval=8, bit_rate=5_000_000
    )
    with VideoReader(path) as reader:
        assert len(reader._packet_index().keyframes) > 1
        clip = reader.read(indices)
        again = reader.read(indices)  # a second read on the same handle
        every = reader.read(range(reader.num_frames))  # each frame decoded in order
        sequential = every[indices]
    assert [frame_number(f) for f in clip] == indices
    assert np.array_equal(clip, again)
    assert np.abs(clip.astype(int) - sequential.astype(int)).max() <= 2
