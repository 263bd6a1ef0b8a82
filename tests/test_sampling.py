from __future__ import annotations

import numpy as np
import pytest

from vidact.errors import ConfigError
from vidact.sampling import (
    CACHE_SPREAD,
    ClipSampling,
    evenly_spread,
    length_in_frames,
    list_samplers,
    sample_indices,
    sliding_windows,
    spread_indices,
)

# (num_frames, clip_len, expected evaluation indices): short, exact-fit and long videos
EVAL_CASES = [
    (3, 8, [0, 0, 0, 1, 1, 2, 2, 2]),  # shorter than the clip: frames repeat, in order
    (1, 4, [0, 0, 0, 0]),
    (8, 8, [0, 1, 2, 3, 4, 5, 6, 7]),  # exact fit: every frame once
    (16, 8, [1, 3, 5, 7, 9, 11, 13, 15]),  # middle of each 2-frame segment
    (24, 8, [1, 4, 7, 10, 13, 16, 19, 22]),
    (100, 4, [12, 37, 62, 87]),
]


@pytest.mark.parametrize(("num_frames", "clip_len", "expected"), EVAL_CASES)
def test_segment_evaluation_takes_segment_middles(num_frames, clip_len, expected) -> None:
    assert sample_indices(num_frames, clip_len, "segment").tolist() == expected


@pytest.mark.parametrize(("num_frames", "clip_len"), [(3, 8), (8, 8), (16, 8), (250, 16)])
def test_segment_training_draws_one_frame_inside_each_segment(num_frames, clip_len) -> None:
    rng = np.random.default_rng(0)
    for _ in range(50):
        indices = sample_indices(num_frames, clip_len, "segment", train=True, rng=rng)
        assert len(indices) == clip_len
        assert indices.min() >= 0 and indices.max() < num_frames
        assert np.all(np.diff(indices) >= 0)
        width = num_frames / clip_len
        for segment, index in enumerate(indices):
            assert segment * width - 1 < index < (segment + 1) * width


def test_training_is_random_but_repeatable_for_a_seed() -> None:
    first = [sample_indices(300, 8, train=True, rng=np.random.default_rng(7)) for _ in range(2)]
    assert first[0].tolist() == first[1].tolist()
    rng = np.random.default_rng(7)
    draws = {tuple(sample_indices(300, 8, train=True, rng=rng)) for _ in range(10)}
    assert len(draws) > 1


def test_training_covers_whole_video_including_last_frame() -> None:
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(300):
        seen.update(sample_indices(40, 8, train=True, rng=rng).tolist())
    assert seen == set(range(40))


def test_evaluation_of_a_video_and_its_reverse_uses_mirrored_frames_when_segments_are_odd() -> None:
    forward = sample_indices(24, 8)
    assert sorted((23 - forward).tolist()) == forward.tolist()


# (strategy, num_frames, clip_len, kwargs, expected evaluation indices)
STRATEGY_CASES = [
    ("uniform", 10, 4, {}, [0, 3, 6, 9]),  # first and last frame included
    ("uniform", 3, 5, {}, [0, 0, 1, 2, 2]),
    ("uniform", 5, 5, {}, [0, 1, 2, 3, 4]),
    ("stride", 20, 4, {"interval": 3}, [0, 3, 6, 9]),  # from the start
    ("stride", 20, 4, {"interval": 3, "clip": 1, "num_clips": 2}, [10, 13, 16, 19]),
    ("stride", 5, 4, {"interval": 2}, [0, 2, 4, 4]),  # too short: the last frame repeats
    ("dense", 20, 4, {"interval": 2}, [6, 8, 10, 12]),  # centred
    ("dense", 4, 4, {}, [0, 1, 2, 3]),
    ("dense", 100, 4, {"clip": 0, "num_clips": 2}, [24, 25, 26, 27]),
    ("window", 20, 4, {}, [8, 9, 10, 11]),  # the middle one of windows 0, 4, 8, 12, 16
    ("window", 20, 4, {"step": 8, "clip": 0, "num_clips": 3}, [0, 1, 2, 3]),
    ("window", 20, 4, {"step": 8, "clip": 2, "num_clips": 3}, [16, 17, 18, 19]),
    ("segment", 16, 4, {"clip": 0, "num_clips": 2}, [1, 5, 9, 13]),
    ("segment", 16, 4, {"clip": 1, "num_clips": 2}, [3, 7, 11, 15]),
]


@pytest.mark.parametrize(
    ("strategy", "num_frames", "clip_len", "kwargs", "expected"), STRATEGY_CASES
)
def test_strategies_in_evaluation(strategy, num_frames, clip_len, kwargs, expected) -> None:
    assert sample_indices(num_frames, clip_len, strategy, **kwargs).tolist() == expected


@pytest.mark.parametrize("strategy", list_samplers())
@pytest.mark.parametrize(("num_frames", "clip_len"), [(1, 4), (3, 8), (8, 8), (300, 16)])
@pytest.mark.parametrize("train", [False, True])
def test_every_strategy_keeps_the_contract(strategy, num_frames, clip_len, train) -> None:
    for seed in range(5):
        first = sample_indices(
            num_frames, clip_len, strategy, train, np.random.default_rng(seed), interval=2
        )
        again = sample_indices(
            num_frames, clip_len, strategy, train, np.random.default_rng(seed), interval=2
        )
        assert first.dtype == np.int64 and len(first) == clip_len
        assert first.min() >= 0 and first.max() < num_frames
        assert np.all(np.diff(first) >= 0)
        assert first.tolist() == again.tolist()  # a seed fixes the draw


@pytest.mark.parametrize("strategy", ["segment", "stride", "dense", "window"])
def test_training_draws_vary_for_long_videos(strategy) -> None:
    rng = np.random.default_rng(0)
    draws = {tuple(sample_indices(300, 8, strategy, True, rng)) for _ in range(20)}
    assert len(draws) > 1


def test_sliding_windows_cover_the_whole_video() -> None:
    windows = sliding_windows(num_frames=50, clip_len=8, step=16)
    assert windows[:, 0].tolist() == [0, 16, 32, 42]  # the last window ends on the last frame
    assert windows[-1, -1] == 49
    assert sliding_windows(5, 8, 4).tolist() == [[0, 1, 2, 3, 4, 4, 4, 4]]
    with pytest.raises(ConfigError, match="at least 1 frame"):
        sliding_windows(10, 4, 0)


@pytest.mark.parametrize(
    ("stride", "fps", "frames"), [("16", 25, 16), (8, 30, 8), ("0.5s", 30, 15), ("2S", 29.97, 60)]
)
def test_window_stride_in_frames_or_seconds(stride, fps, frames) -> None:
    assert length_in_frames(stride, fps, "--window-stride") == frames


@pytest.mark.parametrize("stride", ["abc", "-1", "0s"])
def test_bad_window_stride(stride) -> None:
    with pytest.raises(ConfigError, match="--window-stride"):
        length_in_frames(stride, 25, "--window-stride")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_frames": 0, "clip_len": 8}, "num_frames"),
        ({"num_frames": 10, "clip_len": 0}, "clip_len"),
        ({"num_frames": 10, "clip_len": 4, "strategy": "nope"}, "known: dense, segment"),
        ({"num_frames": 10, "clip_len": 4, "train": True}, "rng"),
        ({"num_frames": 10, "clip_len": 4, "interval": 0}, "interval"),
        ({"num_frames": 10, "clip_len": 4, "clip": 2, "num_clips": 2}, "clip must"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message) -> None:
    with pytest.raises((ConfigError, ValueError), match=message):  # ValueError: a caller's bug
        sample_indices(**kwargs)


def test_registry_lists_every_strategy() -> None:
    assert list_samplers() == ["dense", "segment", "stride", "uniform", "window"]


@pytest.mark.parametrize("num_frames", [5, 40, 60, 61, 137, 1000])
@pytest.mark.parametrize("clip_len", [4, 8, 16])
def test_a_full_batch_fit_caches_exactly_the_evaluation_frames(num_frames, clip_len) -> None:
    """Without training jitter a segment clip drawn over the cached rows is the video's own
    evaluation clip: the very frames `vidact evaluate` reads."""
    sampling = ClipSampling(frames=clip_len)
    cached = spread_indices(num_frames, sampling.frames_to_cache(jitter=False))
    assert len(cached) == min(num_frames, clip_len)
    from_cache = cached[sampling.indices(len(cached), 25.0)]
    assert from_cache.tolist() == sampling.indices(num_frames, 25.0).tolist()


@pytest.mark.parametrize("strategy", ["segment", "dense", "uniform"])
def test_clips_that_may_read_any_frame_cache_a_spread(strategy: str) -> None:
    assert ClipSampling(strategy=strategy, frames=8).frames_to_cache() == CACHE_SPREAD
    assert spread_indices(40, CACHE_SPREAD).tolist() == list(range(40))  # a short video: all


def test_a_few_of_many_things_are_spread_evenly_and_never_repeat() -> None:
    assert evenly_spread(5, 16).tolist() == [0, 1, 2, 3, 4]  # all of them when they fit
    assert evenly_spread(40, 4).tolist() == [0, 13, 26, 39]  # the first and the last included
