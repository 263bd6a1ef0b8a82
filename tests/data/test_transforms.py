from __future__ import annotations

import numpy as np
import pytest
import torch

from vidact.data.transforms import InputSpec, eval_transform, train_transform

SPEC = InputSpec(size=32, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), crop_pct=0.875)


def _clip(frames: int = 6, height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    picture = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return np.repeat(picture[None], frames, axis=0)  # the same picture in every frame


def test_eval_transform_shape_range_and_determinism() -> None:
    out = eval_transform(SPEC)(_clip())
    assert out.shape == (6, 3, 32, 32) and out.dtype == torch.float32
    assert out.min() >= -1.0 and out.max() <= 1.0  # mean = std = 0.5 maps [0, 1] to [-1, 1]
    assert torch.equal(out, eval_transform(SPEC)(_clip()))


def test_short_side_follows_crop_ratio() -> None:
    assert SPEC.short_side == round(32 / 0.875)


@pytest.mark.parametrize("seed", range(5))
def test_train_transform_applies_one_draw_to_every_frame(seed: int) -> None:
    torch.manual_seed(seed)
    out = train_transform(SPEC)(_clip(frames=8, seed=seed))
    assert out.shape == (8, 3, 32, 32)
    for frame in out[1:]:
        assert torch.equal(frame, out[0])


def test_train_transform_draws_anew_for_each_clip() -> None:
    torch.manual_seed(0)
    transform = train_transform(SPEC)
    outs = [transform(_clip()) for _ in range(6)]
    assert any(not torch.equal(outs[0], other) for other in outs[1:])


def _left_darker(out: torch.Tensor) -> bool:
    width = out.shape[-1]
    return bool(out[..., : width // 2].mean() < out[..., width // 2 :].mean())


@pytest.mark.parametrize(("flip", "expect_flipped_draws"), [(False, False), (True, True)])
def test_horizontal_flip_can_be_turned_off(flip: bool, expect_flipped_draws: bool) -> None:
    ramp = np.linspace(0, 255, 64, dtype=np.float32).astype(np.uint8)  # dark left, bright right
    clip = np.broadcast_to(ramp[None, None, :, None], (2, 48, 64, 3)).copy()
    torch.manual_seed(0)
    transform = train_transform(SPEC, flip=flip)
    flipped = [not _left_darker(transform(clip)) for _ in range(20)]
    assert any(flipped) == expect_flipped_draws
