from __future__ import annotations

import numpy as np
import pytest

from vidact.sampling import list_samplers, sample_indices

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


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_frames": 0, "clip_len": 8}, "num_frames"),
        ({"num_frames": 10, "clip_len": 0}, "clip_len"),
        ({"num_frames": 10, "clip_len": 4, "strategy": "nope"}, "known: segment"),
        ({"num_frames": 10, "clip_len": 4, "train": True}, "rng"),
    ],
)
def test_bad_arguments_are_explained(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        sample_indices(**kwargs)


def test_registry_lists_segment() -> None:
    assert "segment" in list_samplers()
