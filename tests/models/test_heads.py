from __future__ import annotations

import pytest
import torch

from vidact.config import ModelConfig
from vidact.errors import ConfigError
from vidact.models.classifier import (
    ClipClassifier,
    freeze_policy,
    frozen_throughout,
    parameterised_layers,
    uses_pretrained,
)
from vidact.models.heads import (
    TemporalInput,
    create_head,
    head_traits,
    heads_with_input,
    list_heads,
    resolve_model,
)


@pytest.mark.parametrize("name", list_heads())
def test_head_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    head = create_head(name, 16)
    features = torch.randn(3, 5, 16, requires_grad=True)  # (B, T, F)
    out = head(features)
    assert create_head(name, 16)(torch.randn(2, 1, 16)).shape[0] == 2  # a one-frame clip
    assert out.shape == (3, head.out_features)
    out.sum().backward()
    assert features.grad is not None and torch.isfinite(features.grad).all()
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("name", list_heads())
def test_only_temporal_heads_see_frame_order(name: str) -> None:
    torch.manual_seed(0)
    head = create_head(name, 8).eval()
    features = torch.randn(2, 6, 8)
    same = torch.allclose(head(features), head(features.flip(1)), atol=1e-6)
    assert same == (not head_traits(name).reads_order)  # the registry's trait is the truth


def test_head_arguments_and_errors() -> None:
    assert create_head("gru", 8, hidden_size=32, num_layers=2, dropout=0.1).out_features == 32
    stacked = create_head("bilstm", 8, hidden_sizes=[256, 128, 64])  # seed 004's stack
    assert stacked.out_features == 128 and len(stacked.layers) == 3
    assert create_head("rnn", 8, nonlinearity="relu").layers[0].nonlinearity == "relu"
    assert create_head("transformer", 8, dim=32, heads=2).out_features == 32
    with pytest.raises(
        ConfigError,
        match="known: bigru, bilstm, gru, linear, linear_sequence, lstm, max, mean, rnn, stats, "
        "transformer",
    ):
        create_head("nope", 8)
    with pytest.raises(ConfigError, match="bad arguments"):
        create_head("mean", 8, hidden_size=3)


@pytest.mark.parametrize("head", list_heads())
def test_clip_classifier_end_to_end_trains_the_right_parameters(head: str) -> None:
    config = ModelConfig(backbone="test_efficientnet", pretrained=False, head=head, freeze="all")
    model = ClipClassifier(config, num_classes=4).train()
    assert not model.encoder.training  # frozen batch norm stays in eval mode
    clips = torch.randn(2, 3, 3, 32, 32)  # (B, T, C, H, W)
    logits = model(clips)
    assert logits.shape == (2, 4)
    logits.sum().backward()
    assert all(p.grad is None for p in model.encoder.parameters())
    assert all(p.grad is not None for p in model.classifier.parameters())
    model.eval()  # no dropout: both paths must then agree exactly
    features = model.encode(clips)
    assert features.shape == (2, 3, model.encoder.num_features)
    assert torch.allclose(model.classify_features(features), model(clips), atol=1e-5)


def test_freeze_defaults_follow_the_starting_weights() -> None:
    assert uses_pretrained(ModelConfig(backbone="tf_efficientnet_lite0"))
    assert not uses_pretrained(ModelConfig(backbone="resnet18"))
    assert freeze_policy(ModelConfig(backbone="tf_efficientnet_lite0")) == "all"
    assert freeze_policy(ModelConfig(backbone="resnet18")) == "none"
    assert freeze_policy(ModelConfig(backbone="tf_efficientnet_lite0", freeze="none")) == "none"
    assert frozen_throughout(ModelConfig(backbone="tf_efficientnet_lite0"))
    assert not frozen_throughout(ModelConfig(backbone="tf_efficientnet_lite0", unfreeze_epoch=3))
    assert not frozen_throughout(ModelConfig(backbone="tf_efficientnet_lite0", trainable_layers=2))
    with pytest.raises(ConfigError, match="--freeze must be all or none"):
        ModelConfig(freeze="some")  # checked when made


def _trainable(model: ClipClassifier) -> int:
    return sum(p.numel() for p in model.encoder.parameters() if p.requires_grad)


@pytest.mark.parametrize("layers", [0, 1, 9, 15, 24])
def test_trainable_layers_unfreeze_the_last_parameterised_layers(layers: int) -> None:
    config = ModelConfig(
        backbone="tf_efficientnet_lite0", pretrained=True, freeze="all", trainable_layers=layers
    )
    model = ClipClassifier(config, 5).train()
    leaves = parameterised_layers(model.encoder)
    expected = (
        sum(p.numel() for layer in leaves[len(leaves) - layers :] for p in layer.parameters())
        if layers
        else 0
    )
    assert _trainable(model) == expected
    if layers:  # the last layer of EfficientNet-Lite is its final batch norm: now it trains
        assert leaves[-1].training
    frozen_norms = [
        m for m in leaves[: len(leaves) - layers] if isinstance(m, torch.nn.BatchNorm2d)
    ]
    assert frozen_norms and not any(m.training for m in frozen_norms)


def test_freeze_none_trains_everything_and_pool_is_selectable() -> None:
    model = ClipClassifier(
        ModelConfig(backbone="test_efficientnet", pretrained=False, freeze="none", pool="max"), 3
    )
    assert _trainable(model) == sum(p.numel() for p in model.encoder.parameters())
    assert model.encoder.model.global_pool.pool_type == "max"


@pytest.mark.parametrize("name", ["convnet", "lrcn_cnn", "alexnet"])
def test_seed_scratch_encoders(name: str) -> None:
    model = ClipClassifier(ModelConfig(backbone=name, head="gru"), 4)
    size = model.encoder.input_spec().size
    assert size == (64 if name == "lrcn_cnn" else 224)
    logits = model(torch.randn(1, 2, 3, 64, 64))  # (B, T, C, H, W)
    assert logits.shape == (1, 4) and torch.isfinite(logits).all()
    assert _trainable(model) > 0  # from scratch: trained, not frozen


def test_stats_head_sees_motion_but_not_order() -> None:
    still = torch.ones(1, 4, 2)
    moving = torch.tensor([[[0.0, 1.0], [1.0, 1.0], [0.0, 1.0], [1.0, 1.0]]])
    out_still, out_moving = create_head("stats", 2)(still), create_head("stats", 2)(moving)
    assert out_still.tolist() == [[1.0, 1.0, 0.0, 0.0, 0.0, 0.0]]
    assert out_moving.tolist() == [[0.5, 1.0, 0.5, 0.0, 1.0, 0.0]]  # mean, std, mean |change|


def test_stats_segments_read_coarse_order_wherever_the_action_falls() -> None:
    raise_then_hold = torch.tensor([[[0.0], [0.0], [1.0], [1.0]]])  # (B, T, F)
    head = create_head("stats", 1, segments=2)
    assert head.out_features == 4
    expected = torch.tensor([[0.0, 1.0, 0.5, 1 / 3]])  # the halves, spread, mean |change|
    torch.testing.assert_close(head(raise_then_hold), expected)
    assert head(raise_then_hold.flip(1))[0, :2].tolist() == [1.0, 0.0]  # lowering differs
    assert create_head("stats", 1)(raise_then_hold).shape == (1, 3)  # one segment: the mean
    short = create_head("linear", 3, segments=4).eval()(torch.randn(2, 2, 3))  # fewer frames
    assert short.shape == (2, 18) and torch.isfinite(short).all()
    with pytest.raises(ConfigError, match="segments must be at least 1"):
        create_head("linear", 3, segments=0)


def test_stats_acceleration_sets_a_swing_apart_from_a_sweep_as_fast() -> None:
    sweep = torch.tensor([[[0.0], [1.0], [2.0], [3.0], [4.0]]])  # (B, T, F): up at one speed
    swing = torch.tensor([[[0.0], [1.0], [0.0], [1.0], [0.0]]])  # to and fro, as fast
    plain = create_head("stats", 1)
    assert plain(sweep)[0, 2] == plain(swing)[0, 2] == 1.0  # mean |change| alike
    head = create_head("linear", 1, acceleration=True)
    assert head.out_features == 4
    assert head.statistics(sweep)[0, 3] == 0.0 and head.statistics(swing)[0, 3] == 2.0
    short = create_head("stats", 2, acceleration=True)(torch.randn(3, 2, 2))  # no 2nd difference
    assert short.shape == (3, 8) and (short[:, 6:] == 0).all()
    with pytest.raises(ConfigError, match="acceleration must be true or false, got 'yes'"):
        create_head("linear", 3, acceleration="yes")


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("raw", [[[1.0], [3.0], [8.0]]]),
        ("diff", [[[1.0, 0.0], [3.0, 2.0], [8.0, 5.0]]]),  # features, change since last frame
        ("drift", [[[1.0, 0.0], [3.0, 2.0], [8.0, 7.0]]]),  # features, change since the first
        ("centre", [[[-3.0, 4.0], [-1.0, 4.0], [4.0, 4.0]]]),  # departure from the mean, mean
    ],
)
def test_temporal_input_keeps_appearance_and_adds_change(
    mode: str, expected: list[list[list[float]]]
) -> None:
    features = torch.tensor([[[1.0], [3.0], [8.0]]])  # (B, T, F)
    out = TemporalInput(mode)(features)
    assert out.tolist() == expected
    config = ModelConfig(
        backbone="test_efficientnet", pretrained=False, head="gru", temporal_input=mode
    )
    model = ClipClassifier(config, num_classes=3)
    assert model.classify_features(torch.randn(2, 4, model.encoder.num_features)).shape == (2, 3)


def test_normalised_temporal_input_puts_frames_on_one_scale() -> None:
    features = torch.tensor([[[1.0, 2.0, 3.0], [100.0, 200.0, 300.0]]])
    out = TemporalInput("norm", 3)(features)
    assert torch.allclose(out[0, 0], out[0, 1], atol=1e-4)  # scale gone, pattern kept
    assert torch.allclose(out.mean(dim=-1), torch.zeros(1, 2), atol=1e-6)


def test_default_head_input_adds_change_for_heads_that_read_order() -> None:
    default = resolve_model(ModelConfig(head="gru"))
    assert (default.temporal_input, default.appearance_dropout, default.mlp) == (
        "drift",
        0.5,
        (256,),
    )
    assert heads_with_input("raw") == ["linear", "linear_sequence", "max", "mean", "stats"]
    for config in (resolve_model(ModelConfig(head=name)) for name in heads_with_input("raw")):
        assert (config.temporal_input, config.appearance_dropout) == ("raw", 0.0)
    assert resolve_model(ModelConfig(head="linear")).mlp == ()  # probes: one linear layer
    assert resolve_model(ModelConfig(head="lstm", temporal_input="raw")).appearance_dropout == 0.0
    assert resolve_model(ModelConfig(head="lstm", temporal_input="diff")).appearance_dropout == 0.5
    assert resolve_model(default) == default  # resolving twice changes nothing
    with pytest.raises(ConfigError, match="unknown head"):
        resolve_model(ModelConfig(head="cnn3d"))
    model = ClipClassifier(ModelConfig(backbone="test_efficientnet", pretrained=False), 3)
    assert (model.temporal_input.mode, model.temporal_input.appearance_dropout) == ("drift", 0.5)
    assert model.config.mlp == (256,)  # the model holds the resolved settings


@pytest.mark.parametrize("mode", ["diff", "drift", "centre"])
def test_appearance_dropout_drops_whole_clips_appearance_in_training_only(mode: str) -> None:
    torch.manual_seed(0)
    features = torch.rand(400, 3, 2) + 1.0  # (B, T, F), no zero anywhere
    change_half = slice(0, 2) if mode == "centre" else slice(2, 4)
    appearance_half = slice(2, 4) if mode == "centre" else slice(0, 2)
    layer = TemporalInput(mode, 2, appearance_dropout=0.5)
    plain = TemporalInput(mode, 2)(features)
    dropped = layer.train()(features)
    assert torch.equal(dropped[..., change_half], plain[..., change_half])  # change always kept
    zeroed = (dropped[..., appearance_half] == 0).flatten(1)
    assert (zeroed.all(1) | ~zeroed.any(1)).all()  # all of a clip's appearance, or none
    assert 150 < int(zeroed.all(1).sum()) < 250  # about half of the clips
    assert torch.equal(layer.eval()(features), plain)  # inference sees everything


def test_appearance_dropout_needs_a_change_half() -> None:
    with pytest.raises(ConfigError, match="--appearance-dropout"):
        TemporalInput("raw", 2, appearance_dropout=0.5)


def test_a_checkpoint_from_before_the_default_changed_loads_as_it_was_trained() -> None:
    from vidact.data.transforms import InputSpec
    from vidact.models.checkpoint import METADATA_KEY, CheckpointInfo, classifier_from
    from vidact.sampling import ClipSampling

    trained = ModelConfig(
        backbone="test_efficientnet",
        pretrained=False,
        head="transformer",
        temporal_input="raw",
    )
    model = ClipClassifier(trained, num_classes=3).eval()
    info = CheckpointInfo(
        ("a", "b", "c"), trained, "none", ClipSampling(4), InputSpec(32, (0.5,) * 3, (0.5,) * 3)
    )
    written = info.to_dict()  # as an older vidact wrote it: no temporal input recorded
    del written["model"]["temporal_input"], written["model"]["appearance_dropout"]
    state = {f"model.{k}": v for k, v in model.state_dict().items()}
    loaded, loaded_info = classifier_from({METADATA_KEY: written, "state_dict": state}, "old.ckpt")
    assert (loaded_info.model.temporal_input, loaded_info.model.appearance_dropout) == ("raw", 0)
    features = torch.randn(2, 4, model.encoder.num_features)
    assert torch.allclose(loaded.classify_features(features), model.classify_features(features))


def test_the_transformer_trains_on_a_single_frame_with_batch_statistics() -> None:
    head = create_head("transformer", 8, norm="batch").train()
    assert head(torch.randn(1, 1, 8)).shape == (1, head.out_features)


def test_linear_probe_head_standardises_statistics_for_one_linear_layer() -> None:
    from vidact.config import ModelConfig

    head = create_head("linear", 4).train()
    clips = torch.randn(16, 6, 4) * 5 + 3  # (B, T, F), far from zero mean and unit spread
    out = head(clips)
    assert out.shape == (16, 12)
    assert torch.allclose(out.mean(0), torch.zeros(12), atol=1e-5)  # standardised per feature
    assert torch.allclose(head.eval()(clips.flip(1))[:, :8], head(clips)[:, :8], atol=1e-5)
    probe, lstm = (resolve_model(ModelConfig(head=name)) for name in ("linear", "lstm"))
    assert probe.mlp == () and lstm.mlp == (256,)
    assert resolve_model(ModelConfig(head="linear", mlp=(32,))).mlp == (32,)  # given, it stays
    assert probe.temporal_input == "raw"


def test_the_sequence_probe_reads_order_and_any_clip_length() -> None:
    head = create_head("linear_sequence", 3, frames=4).eval()
    assert head.out_features == 12
    clip = torch.arange(24, dtype=torch.float32).view(1, 8, 3)  # 8 frames, resampled to 4
    assert head(clip).shape == head(clip[:, ::2]).shape == (1, 12)
    flat = head(clip)[0]  # fresh statistics standardise nothing (up to batch norm's epsilon)
    torch.testing.assert_close(flat[:3], clip[0, 0], rtol=1e-4, atol=1e-5)  # first frame first
    torch.testing.assert_close(flat[-3:], clip[0, -1], rtol=1e-4, atol=1e-5)  # and last last
    assert not torch.allclose(head(clip), head(clip.flip(1)))  # order matters, unlike `linear`
    probe = create_head("linear", 3).eval()
    torch.testing.assert_close(probe(clip), probe(clip.flip(1)))


@pytest.mark.parametrize("name", ["linear", "linear_sequence"])
def test_a_probe_standardises_new_clips_with_its_training_clips_statistics(name: str) -> None:
    """After one full-batch pass, evaluation standardises with the training set's own mean and
    spread (a running average with momentum would still hold 90% of its initial 0 and 1)."""
    head = create_head(name, 4).train()
    clips = torch.randn(16, 6, 4) * 5 + 3
    training = head(clips)
    # evaluation divides by the unbiased spread: 16 clips, sqrt(15 / 16) of training's values
    torch.testing.assert_close(head.eval()(clips), training * (15 / 16) ** 0.5, atol=1e-3, rtol=0)


def test_the_linear_head_takes_out_how_groups_differ_within_a_class() -> None:
    """Each group (a camera) adds its own offset to every clip of it; the class is elsewhere.
    With ``nuisance`` the head takes the offsets' directions out and keeps the class's."""
    torch.manual_seed(0)
    offsets = torch.randn(6, 4) * 3  # per group, in features 1-3
    offsets[:, 0] = 0
    labels = torch.arange(48) % 2
    groups = [f"camera{i % 6}" for i in range(48)]
    clips = torch.randn(48, 8, 4) * 0.1 + offsets[torch.arange(48) % 6, None]
    clips[..., 0] += labels[:, None] * 2.0  # the class: feature 0's level
    head = create_head("linear", 4, nuisance=1.0)  # every direction groups differ in
    kept = head.fit_nuisance(head.statistics(clips), labels, groups)
    assert 0 < kept == len(head.nuisance_basis) < 12
    half = create_head("linear", 4, nuisance=0.5)
    assert half.fit_nuisance(half.statistics(clips), labels, groups) == round(kept / 2)
    before, out = create_head("linear", 4).train()(clips), head.train()(clips)
    torch.testing.assert_close(
        out @ head.nuisance_basis.T, torch.zeros(48, kept), atol=1e-4, rtol=0
    )

    def spread_of_groups(x: torch.Tensor) -> float:  # of the features' means, within class 0
        class_0 = [x[(labels == 0) & (torch.arange(48) % 6 == g), :4] for g in (0, 2, 4)]
        means = torch.stack([clips.mean(0) for clips in class_0])
        return float((means - means.mean(0)).norm())

    assert spread_of_groups(out) < 0.01 * spread_of_groups(before)
    gap = out[labels == 1].mean(0) - out[labels == 0].mean(0)
    assert gap.norm() > 0.5 * (before[labels == 1].mean(0) - before[labels == 0].mean(0)).norm()
    restored = create_head("linear", 4, nuisance=1.0)  # a checkpoint keeps the directions
    restored.load_state_dict(head.state_dict())
    torch.testing.assert_close(restored.eval()(clips), head.eval()(clips))
    assert len(create_head("linear", 4).nuisance_basis) == 0  # off unless asked for
    earlier = {k: v for k, v in head.state_dict().items() if k != "nuisance_basis"}
    create_head("linear", 4).load_state_dict(earlier)  # an earlier release's checkpoint loads
    with pytest.raises(ConfigError, match="nuisance must lie in"):
        create_head("linear", 4, nuisance=2)
