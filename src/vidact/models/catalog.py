"""What can be built: backbones and heads with their sizes, for ``vidact models``."""

from __future__ import annotations

import fnmatch
from typing import Any

import timm
from torch import nn

from vidact.config import ModelConfig
from vidact.errors import ConfigError
from vidact.models.backbones import (
    FRAME_ENCODERS,
    OFFLINE_WEIGHTS,
    build_encoder,
    featured_backbones,
)
from vidact.models.classifier import build_mlp
from vidact.models.heads import create_head, head_traits, list_heads, resolve_model


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def backbone_rows(pattern: str | None = None) -> list[dict[str, Any]]:
    """The featured backbones with sizes; with ``pattern``, matching timm names (no sizes:
    building every timm model to count it would take minutes)."""
    if pattern:
        names = [n for n in timm.list_models() if fnmatch.fnmatch(n, pattern)]
        return [{"name": n, "weights": _weights(n)} for n in names]
    rows = []
    for name in featured_backbones():
        try:
            encoder = build_encoder(name)  # from scratch: only the shapes matter here
        except ConfigError as err:  # an optional extra (pose) that is not installed
            rows.append({"name": name, "weights": f"not installed: {err}"})
            continue
        rows.append(
            {
                "name": name,
                "weights": _weights(name),
                "parameters": _count(encoder),
                "features": encoder.num_features,
                "input_size": encoder.input_spec().size,
            }
        )
    return rows


def _weights(name: str) -> str:
    if name in FRAME_ENCODERS:
        return "trained (offline, frozen)"
    return "imagenet (offline)" if name in OFFLINE_WEIGHTS else "scratch or --weights"


def head_rows(in_features: int, num_classes: int, mlp: tuple[int, ...] | None = None) -> list[dict]:
    """Every temporal head with its parameters plus the classifier's, for ``num_classes``
    (each head's default classifier unless ``mlp`` is given)."""
    if num_classes < 1 or in_features < 1:
        raise ConfigError(
            f"--num-classes and --features must be at least 1, got {num_classes} and {in_features}"
        )
    rows = []
    for name in list_heads():
        head = create_head(name, in_features)
        widths = resolve_model(ModelConfig(head=name, mlp=mlp)).mlp or ()
        classifier = build_mlp(head.out_features, widths, num_classes, 0.0)
        rows.append(
            {
                "name": name,
                "order_aware": head_traits(name).reads_order,
                "out_features": head.out_features,
                "parameters": _count(head) + _count(classifier),
            }
        )
    return rows
