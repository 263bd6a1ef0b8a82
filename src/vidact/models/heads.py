"""Temporal heads: (B, T, F) frame features -> (B, D) clip features, chosen by name from a registry.

Recurrent heads read the frames in order and so can tell a video from its reverse; ``mean`` is the
order-free baseline (seed 003's "CNN only"), which cannot.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

_HEADS: dict[str, type[nn.Module]] = {}


def register_head(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    def decorator(cls: type[nn.Module]) -> type[nn.Module]:
        _HEADS[name] = cls
        return cls

    return decorator


def list_heads() -> list[str]:
    return sorted(_HEADS)


def create_head(name: str, in_features: int, **kwargs: Any) -> nn.Module:
    """Build the named head; unknown names and arguments fail with what is known."""
    try:
        cls = _HEADS[name]
    except KeyError:
        raise ValueError(f"unknown head {name!r}; known: {', '.join(list_heads())}") from None
    try:
        return cls(in_features, **kwargs)
    except TypeError as err:
        raise ValueError(f"head {name!r}: bad arguments {kwargs} ({err})") from None


class _RecurrentHead(nn.Module):
    """Shared body of the recurrent heads: the last layer's final hidden state is the clip."""

    rnn_type: type[nn.RNNBase]

    def __init__(
        self, in_features: int, hidden_size: int = 256, num_layers: int = 1, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.rnn = self.rnn_type(
            in_features,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,  # dropout sits between layers only
        )
        self.out_features = hidden_size

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        outputs, _ = self.rnn(features)  # (B, T, F) -> (B, T, H)
        return outputs[:, -1]  # (B, H)


@register_head("lstm")
class LSTMHead(_RecurrentHead):
    """LSTM (seeds 000-004). Args: hidden_size=256, num_layers=1, dropout=0 (between layers)."""

    rnn_type = nn.LSTM


@register_head("gru")
class GRUHead(_RecurrentHead):
    """GRU (seeds 000/001). Args: hidden_size=256, num_layers=1, dropout=0 (between layers)."""

    rnn_type = nn.GRU


@register_head("mean")
class MeanHead(nn.Module):
    """Average over time: the order-free baseline. No arguments."""

    def __init__(self, in_features: int) -> None:
        super().__init__()
        self.out_features = in_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features.mean(dim=1)  # (B, T, F) -> (B, F)
