"""The seeds' from-scratch frame encoders, registered in timm's model registry.

Registering them with ``timm.models.register_model`` makes them ordinary timm names: the same
factory (``timm.create_model``), the same classifier reset and global pooling (``global_pool``
'avg' or 'max'), the same data config (ImageNet mean and std) as every other backbone.

- ``convnet`` (seed 001): four blocks of two 3x3 convolutions (64-128-256-512 channels) with batch
  norm and max pooling; the seed ended in global max pooling.
- ``lrcn_cnn`` (seed 003): 16-32-64-64 channel 3x3 convolutions with max pooling and dropout,
  for 64x64 frames.
- ``alexnet`` (seed 004, after Ullah et al. 2018): AlexNet's five convolutions, with batch norm.
"""

from __future__ import annotations

from typing import Any

import timm
import torch
from timm.layers import SelectAdaptivePool2d
from timm.models import register_model
from torch import nn

_IMAGENET = {"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}


class ScratchCNN(nn.Module):
    """A plain convolution stack with timm's classifier interface."""

    def __init__(
        self,
        features: nn.Sequential,
        num_features: int,
        input_size: int,
        num_classes: int = 1000,
        global_pool: str = "avg",
        drop_rate: float = 0.0,
        **_: Any,  # timm passes pretrained_cfg and friends to every model function
    ) -> None:
        super().__init__()
        self.features = features
        self.num_features = num_features
        self.num_classes = num_classes
        self.global_pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=True)
        self.head_drop = nn.Dropout(drop_rate)
        self.classifier = nn.Linear(num_features, num_classes) if num_classes else nn.Identity()
        self.pretrained_cfg = {
            "input_size": (3, input_size, input_size),
            "crop_pct": 1.0,
            "interpolation": "bilinear",
            **_IMAGENET,
        }

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            self.global_pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=True)
        self.num_classes = num_classes
        self.classifier = (
            nn.Linear(self.num_features, num_classes) if num_classes else nn.Identity()
        )

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)  # (N, 3, H, W) -> (N, C, h, w)

    def forward_head(self, features: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        pooled = self.head_drop(self.global_pool(features))  # (N, C, h, w) -> (N, C)
        return pooled if pre_logits else self.classifier(pooled)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(images))


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> list[nn.Module]:
    """Convolution + ReLU, 'same' padding for odd kernels (Keras padding='same')."""
    return [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2), nn.ReLU(inplace=True)]


@register_model
def convnet(pretrained: bool = False, **kwargs: Any) -> ScratchCNN:
    """Seed 001's CNN: [conv3x3, conv3x3, batch norm, max pool] x 4 at 64-128-256-512 channels."""
    layers: list[nn.Module] = []
    cin = 3
    for depth, width in enumerate((64, 128, 256, 512)):
        layers += [*_conv(cin, width), *_conv(width, width), nn.BatchNorm2d(width)]
        if depth < 3:  # the last block goes straight to global (max) pooling
            layers.append(nn.MaxPool2d(2))
        cin = width
    kwargs.setdefault("global_pool", "max")
    return ScratchCNN(nn.Sequential(*layers), 512, 224, **kwargs)


@register_model
def lrcn_cnn(pretrained: bool = False, **kwargs: Any) -> ScratchCNN:
    """Seed 003's LRCN encoder for 64x64 frames: 16-32-64-64 channels, pooling and dropout."""
    layers = [
        *_conv(3, 16), nn.Dropout(0.25),
        *_conv(16, 32), nn.MaxPool2d(4), nn.Dropout(0.25),
        *_conv(32, 64), nn.MaxPool2d(2), nn.Dropout(0.25),
        *_conv(64, 64), nn.MaxPool2d(2),
    ]  # fmt: skip
    return ScratchCNN(nn.Sequential(*layers), 64, 64, **kwargs)


@register_model
def alexnet(pretrained: bool = False, **kwargs: Any) -> ScratchCNN:
    """Seed 004's AlexNet: five convolutions, each followed by batch norm, three max pools."""
    # (out channels, kernel, stride, max pool after)
    plan = (
        (96, 11, 4, True),
        (256, 5, 1, True),
        (384, 3, 1, False),
        (384, 3, 1, False),
        (256, 3, 1, True),
    )
    layers: list[nn.Module] = []
    cin = 3
    for cout, kernel, stride, pool in plan:
        layers += [*_conv(cin, cout, kernel, stride), nn.BatchNorm2d(cout)]
        if pool:
            layers.append(nn.MaxPool2d(3, 2))
        cin = cout
    return ScratchCNN(nn.Sequential(*layers), 256, 224, **kwargs)


def scratch_backbones() -> list[str]:
    """The CNNs this module registered, as timm's own registry lists them."""
    return timm.list_models(module=__name__.rsplit(".", 1)[-1])
