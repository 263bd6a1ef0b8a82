from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import vidact.data.cache as caches
import vidact.data.datasets as datasets
from vidact.data.cache import ArrayCache, CachedVideo, DamagedEntry, cache_summary, clear_cache
from vidact.data.datasets import ClipDataset, FeatureClipDataset, collate_skipping
from vidact.data.index import VideoItem
from vidact.data.transforms import InputSpec, eval_transform
from vidact.errors import CacheError
from vidact.sampling import ClipSampling

SPEC = InputSpec(32, (0.5,) * 3, (0.5,) * 3, 1.0)


def _items(make_video, count: int = 3) -> list[VideoItem]:
    return [
        VideoItem(make_video(f"v{i}.mp4", frames=20), f"v{i}.mp4", i % 2, f"g{i}")
        for i in range(count)
    ]


def test_entries_are_keyed_by_file_identity_and_settings(tmp_path: Path, make_video) -> None:
    video = make_video("a.mp4")
    cache = ArrayCache(tmp_path / "c", "clips", {"short_side": 32})
    assert cache.load(video) is None
    cache.save(video, CachedVideo(np.ones((4, 2, 2, 3), np.uint8), num_frames=12, fps=10.0))
    entry = cache.load(video)
    assert entry is not None and entry.array.shape == (4, 2, 2, 3)
    assert entry.fps_of_entry == pytest.approx(10.0 * 4 / 12)
    assert ArrayCache(tmp_path / "c", "clips", {"short_side": 64}).load(video) is None
    video.write_bytes(video.read_bytes() + b"\0")  # the file changed: its entry no longer applies
    assert cache.load(video) is None


def test_a_save_outlasts_clearings_meanwhile(tmp_path: Path, make_video, monkeypatch) -> None:
    """`vidact cache clear` during a run removes the namespace's folder and the temporary file
    a writer is filling: the entry is written again from a fresh folder, four times if need be."""
    video = make_video("a.mp4")
    cache = ArrayCache(tmp_path / "c", "clips", {"short_side": 32})
    write, cleared = caches._atomic_write, []

    def cleared_first(path: Path, data: bytes | np.ndarray) -> None:
        if path.suffix == ".npy" and len(cleared) < 4:
            cleared.append(clear_cache(tmp_path / "c"))
            raise FileNotFoundError(path)
        write(path, data)

    monkeypatch.setattr(caches, "_atomic_write", cleared_first)
    cache.save(video, CachedVideo(np.ones((4, 2, 2, 3), np.uint8), num_frames=12, fps=10.0))
    assert len(cleared) == 4
    assert cache.load(video) is not None


def _entry_file(cache: ArrayCache) -> Path:
    return next(cache.dir.glob("*.npy"))


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:40],  # truncated on disk
        lambda data: data[:-8] + b"\xff" * 8,  # bytes overwritten inside the array
        lambda data: data[:-2] + np.float16("nan").tobytes(),  # a NaN written in place
    ],
    ids=["truncated", "overwritten", "nan"],
)
def test_damaged_entry_reads_as_missing(tmp_path: Path, make_video, damage) -> None:
    video = make_video("a.mp4")
    cache = ArrayCache(tmp_path, "features", {"x": 1})
    cache.save(video, CachedVideo(np.ones((5, 8), np.float16), 5, 10.0))
    entry = _entry_file(cache)
    entry.write_bytes(damage(entry.read_bytes()))
    assert cache.load(video) is None  # the caller rebuilds it in place


def test_non_finite_values_are_refused(tmp_path: Path, make_video) -> None:
    cache = ArrayCache(tmp_path, "features", {"x": 1})
    bad = np.ones((3, 4), np.float32)
    bad[1, 2] = np.inf
    with pytest.raises(CacheError, match="NaN/Inf"):
        cache.save(make_video("a.mp4"), CachedVideo(bad, 3, 10.0))
    assert not list(cache.dir.glob("*.npy")) if cache.dir.exists() else True


def test_damaged_or_cleared_features_are_rebuilt_not_unreadable(tmp_path: Path, make_video) -> None:
    items = _items(make_video, 2)
    cache = ArrayCache(tmp_path, "features", {"b": "x"})
    rebuilt = []

    def rebuild(item: VideoItem) -> CachedVideo:
        rebuilt.append(item.path)
        entry = CachedVideo(np.full((20, 4), 7, np.float16), 20, 10.0)
        cache.save(item.path, entry)
        return entry

    dataset = FeatureClipDataset(items, [cache], ClipSampling(frames=4), rebuild=[rebuild])
    cache.save(items[0].path, CachedVideo(np.ones((20, 4), np.float16), 20, 10.0))
    entry = _entry_file(cache)
    entry.write_bytes(entry.read_bytes()[:-4] + b"\0\0\0\0")  # damaged
    clip, _ = dataset[0]
    assert clip[0, 0] == 7 and rebuilt == [items[0].path]
    clear_cache(tmp_path)  # cleared while "training"
    assert dataset[1][0] is not None and dataset[0][0] is not None
    assert len(rebuilt) == 3 and cache.load(items[1].path) is not None


def test_second_epoch_decodes_nothing(tmp_path: Path, make_video, monkeypatch) -> None:
    items = _items(make_video)
    cache = ArrayCache(tmp_path, "clips", {"short_side": 32})
    dataset = ClipDataset(items, ClipSampling(frames=4), eval_transform(SPEC), 32, cache=cache)
    first = [dataset[i][0] for i in range(len(items))]

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a video although it is cached")

    monkeypatch.setattr(datasets, "VideoReader", no_decoding)
    second = [dataset[i][0] for i in range(len(items))]
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


def test_cached_and_decoded_clips_agree(tmp_path: Path, make_video) -> None:
    items = _items(make_video, 2)
    sampling = ClipSampling(frames=5)
    plain = ClipDataset(items, sampling, eval_transform(SPEC), 32)
    cached = ClipDataset(
        items, sampling, eval_transform(SPEC), 32, cache=ArrayCache(tmp_path, "clips", {"s": 32})
    )
    for i in range(2):
        assert torch.allclose(plain[i][0], cached[i][0], atol=1e-6)


def test_views_for_several_clips_and_crops(make_video) -> None:
    items = _items(make_video, 1)
    dataset = ClipDataset(
        items, ClipSampling(frames=4), eval_transform(SPEC, crops=3), 32, clips=2, views=True
    )
    views, label = dataset[0]
    assert views.shape == (6, 4, 3, 32, 32) and label == 0


def test_unreadable_items_are_skipped_by_the_collate(tmp_path: Path, make_video) -> None:
    items = _items(make_video, 2)
    broken = tmp_path / "broken.mp4"
    broken.write_text("no video")
    items.append(VideoItem(broken, "broken.mp4", 1, "gb"))
    dataset = ClipDataset(items, ClipSampling(frames=3), eval_transform(SPEC), 32)
    inputs, labels, failed = collate_skipping([dataset[i] for i in range(3)])
    assert inputs.shape == (2, 3, 3, 32, 32) and labels.tolist() == [0, 1]
    assert failed == [str(broken)]
    assert collate_skipping([dataset[2]]) == (None, None, [str(broken)])


def test_an_unreadable_video_is_not_decoded_again(tmp_path: Path, monkeypatch) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_text("no video")
    items = [VideoItem(broken, "broken.mp4", 0, "g0")]
    dataset = ClipDataset(items, ClipSampling(frames=3), eval_transform(SPEC), 32, train=True)
    assert dataset[(0, 0)] == (None, str(broken))

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded a video already found unreadable")

    monkeypatch.setattr(datasets, "VideoReader", no_decoding)
    assert dataset[(1, 0)] == (None, str(broken))  # the next epoch skips it at once


def test_feature_dataset_samples_from_the_cache(tmp_path: Path, make_video) -> None:
    items = _items(make_video, 1)
    cache = ArrayCache(tmp_path, "features", {"b": "x"})
    features = np.arange(20 * 4, dtype=np.float16).reshape(20, 4)
    cache.save(items[0].path, CachedVideo(features, 20, 10.0))
    clip, label = FeatureClipDataset(items, [cache], ClipSampling(frames=4))[0]
    assert label == 0
    assert clip.dtype == torch.float32 and clip.shape == (4, 4)
    assert clip[:, 0].tolist() == [8.0, 28.0, 48.0, 68.0]  # rows 2, 7, 12, 17: segment middles


def test_summary_and_clear(tmp_path: Path, make_video) -> None:
    video = make_video("a.mp4")
    ArrayCache(tmp_path, "clips", {"k": 1}).save(video, CachedVideo(np.ones((2, 2)), 2, 1.0))
    ArrayCache(tmp_path, "features", {"k": 2}).save(video, CachedVideo(np.ones((2, 2)), 2, 1.0))
    summary = cache_summary(tmp_path)
    assert [s["entries"] for s in summary["kinds"]["clips"]] == [1]
    assert summary["kinds"]["features"][0]["settings"] == {"k": 2}
    freed, kept = clear_cache(tmp_path, "clips")
    assert freed > 0 and kept == []
    assert cache_summary(tmp_path)["kinds"]["clips"] == []
    assert cache_summary(tmp_path)["kinds"]["features"]
    with pytest.raises(CacheError, match="unknown cache kind"):
        clear_cache(tmp_path, "frames")


def test_clear_removes_only_what_vidact_wrote(tmp_path: Path, make_video) -> None:
    cache = ArrayCache(tmp_path, "features", {"k": 2})
    cache.save(make_video("a.mp4"), CachedVideo(np.ones((2, 2)), 2, 1.0))
    mine = [cache.dir / "notes.txt", tmp_path / "features" / "readme.md", tmp_path / "data.bin"]
    for path in mine:
        path.write_text("not vidact's")
    freed, kept = clear_cache(tmp_path)
    assert freed > 0 and sorted(kept) == sorted(mine[:2])
    assert all(path.read_text() == "not vidact's" for path in mine)
    assert not list(cache.dir.glob("*.npy"))


def test_clear_refuses_a_folder_that_is_not_a_cache(tmp_path: Path) -> None:
    (tmp_path / "clips").mkdir()
    precious = tmp_path / "clips" / "holiday.mp4"
    precious.write_bytes(b"precious")
    with pytest.raises(CacheError, match="not a vidact cache"):
        clear_cache(tmp_path)
    assert precious.read_bytes() == b"precious"


def test_a_damaged_clip_row_is_found_when_read_and_rebuilt(tmp_path: Path, make_video) -> None:
    items = _items(make_video, 1)
    cache = ArrayCache(tmp_path, "clips", {"short_side": 32})
    dataset = ClipDataset(items, ClipSampling(frames=4), eval_transform(SPEC), 32, cache=cache)
    clean = dataset[0][0]
    entry = _entry_file(cache)
    stored = np.load(entry)
    row = stored[0].nbytes
    start = entry.stat().st_size - stored.nbytes + 17 * row  # row 17: one the clip reads
    data = bytearray(entry.read_bytes())
    data[start : start + 50] = bytes(50)  # zeroed on disk
    entry.write_bytes(bytes(data))
    lazy = cache.load(items[0].path, mmap=True)
    assert lazy is not None  # mapped: only the rows a clip reads are checked
    lazy.rows(np.array([0, 1]))
    with pytest.raises(DamagedEntry):
        lazy.rows(np.array([17]))
    assert torch.equal(dataset[0][0], clean)  # the clip reads that frame: rebuilt, same pixels
    assert cache.load(items[0].path) is not None  # and the entry is whole again
