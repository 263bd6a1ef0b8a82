from __future__ import annotations

import numpy as np
import pytest
import torch

from vidact.data.transforms import (
    AUGMENT_PRESETS,
    Augment,
    InputSpec,
    distinct_rows,
    eval_transform,
    resolve_augment,
    train_transform,
)
from vidact.errors import ConfigError

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


@pytest.mark.parametrize("preset", sorted(AUGMENT_PRESETS))
@pytest.mark.parametrize("seed", range(3))
def test_train_transform_applies_one_draw_to_every_frame(preset: str, seed: int) -> None:
    torch.manual_seed(seed)
    out = train_transform(SPEC, AUGMENT_PRESETS[preset])(_clip(frames=8, seed=seed))
    assert out.shape == (8, 3, 32, 32)
    for frame in out[1:]:
        assert torch.equal(frame, out[0])


@pytest.mark.parametrize("preset", ["light", "seeds", "strong"])
def test_train_transform_draws_anew_for_each_clip(preset: str) -> None:
    torch.manual_seed(0)
    transform = train_transform(SPEC, AUGMENT_PRESETS[preset])
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
    transform = train_transform(SPEC, resolve_augment("strong", flip=flip, color_jitter=0.0))
    flipped = [not _left_darker(transform(clip)) for _ in range(20)]
    assert any(flipped) == expect_flipped_draws


def test_presets_and_overrides() -> None:
    seeds = resolve_augment("seeds")
    assert (seeds.zoom, seeds.rotation, seeds.translate, seeds.flip) == (0.1, 8, 0.2, True)
    assert resolve_augment("none") == Augment(crop_scale=None, flip=False)
    assert resolve_augment("seeds", flip=False, rotation=None).rotation == 8
    assert not resolve_augment("seeds", flip=False).flip
    with pytest.raises(ConfigError, match="known: light, none, seeds, strong"):
        resolve_augment("wild")
    with pytest.raises(ConfigError, match="unknown augmentation settings: shear"):
        resolve_augment("light", shear=3)


def test_none_preset_is_the_evaluation_transform() -> None:
    clip = _clip()
    assert torch.equal(
        train_transform(SPEC, AUGMENT_PRESETS["none"])(clip), eval_transform(SPEC)(clip)
    )


def test_three_crops_cover_the_long_side() -> None:
    ramp = np.linspace(0, 255, 96, dtype=np.float32).astype(np.uint8)
    clip = np.broadcast_to(ramp[None, None, :, None], (4, 32, 96, 3)).copy()  # wide frames
    views = eval_transform(SPEC, crops=3)(clip)
    assert views.shape == (3, 4, 3, 32, 32)
    means = [float(v.mean()) for v in views]
    assert means[0] < means[1] < means[2]  # left, centre, right
    with pytest.raises(ConfigError, match="crops must be 1 or 3"):
        eval_transform(SPEC, crops=5)


def test_pad_reads_the_whole_frame_where_crop_cuts_its_sides() -> None:
    ramp = np.linspace(0, 255, 96, dtype=np.float32).astype(np.uint8)
    clip = np.broadcast_to(ramp[None, None, :, None], (4, 32, 96, 3)).copy()  # wide frames
    padded_spec = SPEC.fitted("pad")
    assert padded_spec.short_side == padded_spec.size == 32  # decoded at the size: none is cut
    padded, cropped = eval_transform(padded_spec)(clip), eval_transform(SPEC)(clip)
    assert padded.shape == cropped.shape == (4, 3, 32, 32)
    band = padded[..., :10, :]  # 96x32 -> 32x11, centred: 10 black rows above and below
    assert torch.equal(band, torch.full_like(band, -1.0)) and (padded[..., -10:, :] == -1).all()
    middle = padded[..., 16, :]  # a row across the picture: both ends of the ramp
    assert middle.min() < -0.9 and middle.max() > 0.9
    assert cropped.min() > -0.6 and cropped.max() < 0.6  # the centre third only
    # training reads the same padded square (random crops are drawn inside it)
    assert torch.equal(train_transform(padded_spec, AUGMENT_PRESETS["none"])(clip), padded)
    torch.manual_seed(0)
    assert train_transform(padded_spec)(clip).shape == (4, 3, 32, 32)
    with pytest.raises(ConfigError, match="whole frame padded"):
        eval_transform(padded_spec, crops=3)


def test_distinct_rows_are_the_same_however_often_a_read_repeats_a_frame() -> None:
    # what the person's square is placed on: a short video's evaluation reads some frames twice,
    # a motion encoder overlapping frames around each sampled one
    pictures = torch.from_numpy(np.stack([_clip(1, seed=seed)[0] for seed in range(5)]))
    clip = pictures.permute(0, 3, 1, 2)
    assert distinct_rows(clip).tolist() == [0, 1, 2, 3, 4]
    read = clip[[0, 0, 1, 2, 1, 2, 3, 3, 4, 4]]
    assert distinct_rows(read).tolist() == [0, 2, 3, 6, 8]
    assert torch.equal(read[distinct_rows(read)], clip)
