from __future__ import annotations

import pytest
import torch

from vidact.config import ModelConfig
from vidact.models.classifier import ClipClassifier, config_frozen, uses_pretrained
from vidact.models.heads import create_head, list_heads

ORDER_AWARE = {"lstm", "gru"}


@pytest.mark.parametrize("name", list_heads())
def test_head_forward_backward(name: str) -> None:
    torch.manual_seed(0)
    head = create_head(name, 16)
    features = torch.randn(3, 5, 16, requires_grad=True)  # (B, T, F)
    out = head(features)
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
    assert same == (name not in ORDER_AWARE)


def test_head_arguments_and_errors() -> None:
    assert create_head("gru", 8, hidden_size=32, num_layers=2, dropout=0.1).out_features == 32
    with pytest.raises(ValueError, match="known: gru, lstm, mean"):
        create_head("nope", 8)
    with pytest.raises(ValueError, match="bad arguments"):
        create_head("mean", 8, hidden_size=3)


@pytest.mark.parametrize("head", list_heads())
def test_clip_classifier_end_to_end_trains_the_right_parameters(head: str) -> None:
    config = ModelConfig(
        backbone="test_efficientnet", pretrained=False, head=head, freeze_backbone=True
    )
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
    assert config_frozen(ModelConfig(backbone="tf_efficientnet_lite0"))
    assert not config_frozen(ModelConfig(backbone="resnet18"))
    assert not config_frozen(ModelConfig(backbone="tf_efficientnet_lite0", freeze_backbone=False))
    model = ClipClassifier(ModelConfig(backbone="test_efficientnet", pretrained=False), 3)
    assert all(p.requires_grad for p in model.encoder.parameters())
