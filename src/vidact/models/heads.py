"""Temporal heads: (B, T, F) frame features -> (B, D) clip features, chosen by name from a registry.

Recurrent and attention heads read the frames in order and so can tell a video from its reverse;
``mean`` and ``max`` are the order-free baselines (seed 003's "CNN only"), which cannot.

| head          | arguments (defaults)                                              | seeds      |
| ------------- | ----------------------------------------------------------------- | ---------- |
| lstm, gru     | hidden_size=256, num_layers=1, dropout=0 (between layers)         | 000-004    |
| bilstm, bigru | hidden_sizes=[256] (stacked, e.g. [256, 128, 64]), dropout=0      | 004        |
| rnn           | hidden_size=256, num_layers=1, nonlinearity=tanh (or relu)        | 002        |
| mean, max     | none                                                              | 003        |
| stats, linear | segments=1 (means of as many stretches; linear standardises: the probe) | ours |
| stats, linear | acceleration=false (adds each feature's mean absolute 2nd difference) | ours |
| linear        | nuisance=0 (share of how training groups differ, taken out)       | ours       |
| linear_sequence | frames=16 (resampled, flattened, standardised: the sequence probe) | ours     |
| transformer   | dim=256, depth=2, heads=4, dropout=0.1, max_frames=256, norm=layer | 004's next |
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vidact.config import ModelConfig
from vidact.errors import ConfigError
from vidact.registry import Registry

HeadFactory = Callable[..., nn.Module]
HEADS: Registry[HeadFactory] = Registry("head")

_CELLS: dict[str, type[nn.RNNBase]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


@dataclass(frozen=True)
class HeadTraits:
    """What vidact needs to know of a head without building it."""

    reads_order: bool = True  # can tell a video from its reverse
    probe: bool = False  # a linear probe: one linear layer (unless mlp is given) on raw features

    @property
    def default_input(self) -> str:
        """The temporal input when none is asked for: motion for heads that read order, the
        features themselves for order-free heads and probes."""
        return "drift" if self.reads_order and not self.probe else "raw"

    @property
    def default_mlp(self) -> tuple[int, ...]:
        return () if self.probe else (256,)


def register_head(name: str, factory: HeadFactory, traits: HeadTraits | None = None) -> None:
    HEADS.register(name, factory, traits or HeadTraits())


def head_traits(name: str) -> HeadTraits:
    return HEADS.traits(name)


def heads_with_input(mode: str) -> list[str]:
    """The heads whose default temporal input is ``mode``."""
    return [name for name in list_heads() if head_traits(name).default_input == mode]


def resolve_model(model: ModelConfig) -> ModelConfig:
    """``model`` with each None that means "the head's default" made explicit (classifier
    widths, temporal input, appearance dropout), so config.yaml and checkpoints say what the
    model was and a later change of default never changes a saved model."""
    traits = head_traits(model.head)
    mode = model.temporal_input or traits.default_input
    dropout = model.appearance_dropout
    if dropout is None:
        dropout = 0.5 if mode in TemporalInput.CHANGE_MODES else 0.0
    mlp = traits.default_mlp if model.mlp is None else model.mlp
    return replace(model, mlp=mlp, temporal_input=mode, appearance_dropout=dropout)


def list_heads() -> list[str]:
    return HEADS.names()


def create_head(name: str, in_features: int, **kwargs: Any) -> nn.Module:
    """Build the named head; unknown names and arguments fail with what is known."""
    factory = HEADS.get(name)
    try:
        return factory(in_features, **kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"head {name!r}: bad arguments {kwargs} ({err})") from None


class RecurrentHead(nn.Module):
    """Stacked recurrent layers; the clip is the last layer's final hidden state.

    Bidirectional layers give the forward state at the last frame joined with the backward state
    at the first frame (both directions' summaries of the whole clip), as Keras' Bidirectional.
    """

    def __init__(
        self,
        in_features: int,
        cell: str = "lstm",
        bidirectional: bool = False,
        hidden_size: int = 256,
        num_layers: int = 1,
        hidden_sizes: Sequence[int] | None = None,
        dropout: float = 0.0,
        nonlinearity: str = "tanh",
    ) -> None:
        super().__init__()
        sizes = list(hidden_sizes) if hidden_sizes is not None else [hidden_size] * num_layers
        if not sizes or min(sizes) < 1:
            raise TypeError(f"hidden sizes must be positive, got {sizes}")
        extra = {"nonlinearity": nonlinearity} if cell == "rnn" else {}
        directions = 2 if bidirectional else 1
        layers, width = [], in_features
        for size in sizes:
            layers.append(
                _CELLS[cell](width, size, batch_first=True, bidirectional=bidirectional, **extra)
            )
            width = size * directions
        self.layers = nn.ModuleList(layers)
        self.dropout = nn.Dropout(dropout)  # between layers, as nn.LSTM's own dropout
        self.bidirectional = bidirectional
        self.out_features = width

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        sequence = features
        for depth, layer in enumerate(self.layers):
            if depth:
                sequence = self.dropout(sequence)
            sequence, state = layer(sequence)  # (B, T, F) -> (B, T, H * directions)
        final = state[0] if isinstance(state, tuple) else state  # h_n: (directions, B, H)
        if self.bidirectional:
            return torch.cat([final[0], final[1]], dim=-1)  # (B, 2H)
        return final[-1]  # (B, H)


class PoolHead(nn.Module):
    """Order-free pooling over time (mean or max): a baseline that ignores frame order."""

    def __init__(self, in_features: int, mode: str = "mean") -> None:
        super().__init__()
        if mode not in ("mean", "max"):
            raise TypeError(f"mode must be mean or max, got {mode!r}")
        self.mode = mode
        self.out_features = in_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.mode == "mean":
            return features.mean(dim=1)  # (B, T, F) -> (B, F)
        return features.amax(dim=1)


class StatsHead(nn.Module):
    """Temporal statistics of each feature: mean (how things look), standard deviation and mean
    absolute frame-to-frame change (how much they move). Order-free like ``mean``, but it sees
    motion, which carries over to new people and cameras better than appearance does. With
    ``segments`` above 1 the mean is taken over each of that many equal stretches of the clip
    instead: coarse order (an arm raised in the first half, lowered in the second) that still
    does not depend on exactly when in the clip the action happens. ``acceleration`` adds each
    feature's mean absolute second difference: how much the motion itself changes, which sets
    a swing to and fro (a wave) apart from a sweep as fast (a raised arm)."""

    def __init__(self, in_features: int, segments: int = 1, acceleration: bool = False) -> None:
        super().__init__()
        if segments < 1:
            raise ValueError(f"segments must be at least 1, got {segments}")
        if not isinstance(acceleration, bool):
            raise ValueError(f"acceleration must be true or false, got {acceleration!r}")
        self.segments = segments
        self.acceleration = acceleration
        self.out_features = (segments + 2 + acceleration) * in_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        means = F.adaptive_avg_pool1d(features.transpose(1, 2), self.segments)  # (B, F, segments)
        spread = features.std(dim=1, unbiased=False)
        parts = [*means.unbind(-1), spread, _mean_change(features, 1)]
        if self.acceleration:
            parts.append(_mean_change(features, 2))
        return torch.cat(parts, dim=-1)  # (B, out_features)


def _mean_change(features: torch.Tensor, order: int) -> torch.Tensor:
    """(B, T, F) -> (B, F): the mean absolute ``order``-th difference over time (0 for clips
    too short to have one)."""
    if features.shape[1] <= order:
        return features.new_zeros(features.shape[0], features.shape[2])
    return torch.diff(features, n=order, dim=1).abs().mean(dim=1)


class Standardise(nn.BatchNorm1d):
    """What a StandardScaler does before a logistic regression: each feature standardised with
    the training clips' mean and spread (a batch norm with no learnt scale or shift). The
    statistics kept for evaluation are the plain average over an epoch's training batches
    (``momentum`` None; the training module restarts them each epoch), so after a full-batch
    fit they are the training set's own; with a momentum, a fit that converged in a few passes
    kept part of the initial 0 and 1 and standardised new clips otherwise than the training
    clips."""

    def __init__(self, features: int) -> None:
        super().__init__(features, affine=False, momentum=None)


class LinearProbeHead(StatsHead):
    """The linear probe as a head, a baseline for every comparison: ``stats`` (each feature's
    mean, spread and mean change over the clip) standardised (``Standardise``). Its classifier
    defaults to one linear layer (``mlp: []``).

    ``nuisance`` above 0: the directions in which the training groups (cameras, people) differ
    within a class are taken out of every clip, that share of them, largest first
    (``fit_nuisance``; nuisance attribute projection, the channel compensation of speaker
    verification): what sets one camera apart from another while the class stays the same does
    not tell the class of a new camera's clip."""

    def __init__(
        self,
        in_features: int,
        segments: int = 1,
        nuisance: float = 0.0,
        acceleration: bool = False,
    ) -> None:
        super().__init__(in_features, segments, acceleration)
        if not 0 <= nuisance <= 1:
            raise ValueError(f"nuisance must lie in [0, 1], got {nuisance}")
        self.nuisance = nuisance
        self.standardise = Standardise(self.out_features)
        self.register_buffer("nuisance_basis", torch.zeros(0, self.out_features))

    def statistics(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, F) -> (B, out_features): the clip's statistics, before standardising."""
        return super().forward(features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return without(self.standardise(self.statistics(features)), self.nuisance_basis)

    @torch.no_grad()
    def fit_nuisance(
        self, statistics: torch.Tensor, labels: torch.Tensor, groups: Sequence[str]
    ) -> int:
        """Set the directions to take out from the training clips' ``statistics`` (unstandardised,
        standardised here as their own), classes and groups (``nuisance_directions``). Returns
        how many."""
        clips = F.batch_norm(statistics, None, None, training=True, eps=self.standardise.eps)
        basis = nuisance_directions(clips, labels, groups, self.nuisance)
        self.nuisance_basis = basis.to(self.nuisance_basis)
        return len(basis)

    @torch.no_grad()
    def embedded_apart(
        self,
        statistics: torch.Tensor,
        labels: torch.Tensor,
        groups: Sequence[str],
        others: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The embeddings of clips ``statistics`` and ``others`` (unstandardised) as this head
        would give them had it been fitted on the first alone: standardised with their mean and
        spread, less their own nuisance directions. What a group left out of training would
        look like to the model (``training.module.held_out_group_threshold``)."""
        mean, variance = statistics.mean(0), statistics.var(0)  # as evaluation standardises
        scale = (variance + self.standardise.eps).rsqrt()
        fitted, apart = (statistics - mean) * scale, (others - mean) * scale
        basis = nuisance_directions(fitted, labels, groups, self.nuisance)
        return without(fitted, basis), without(apart, basis)

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        # as many directions as the fit found; none in a checkpoint of an earlier release
        basis = state_dict.setdefault(prefix + "nuisance_basis", self.nuisance_basis[:0])
        self.nuisance_basis = torch.empty_like(basis)
        super()._load_from_state_dict(state_dict, prefix, *args)


def without(clips: torch.Tensor, basis: torch.Tensor) -> torch.Tensor:
    """(B, D) clips less their parts along the (K, D) orthonormal ``basis`` (none: as they are)."""
    return clips - (clips @ basis.T) @ basis if len(basis) else clips


def nuisance_directions(
    clips: torch.Tensor, labels: torch.Tensor, groups: Sequence[str], share: float
) -> torch.Tensor:
    """(kept, D): from standardised ``clips`` with their classes and groups, each (group, class)
    mean less its class mean, weighted by the square root of its clips; the largest ``share`` of
    their directions (nuisance attribute projection)."""
    codes = {group: code for code, group in enumerate(sorted(set(groups)))}
    names = torch.tensor([codes[group] for group in groups])
    deviations = []
    for label in labels.unique():
        own = labels == label
        for group in names[own].unique():
            chosen = own & (names == group)
            part = clips[chosen].mean(0) - clips[own].mean(0)
            deviations.append(part * chosen.sum().sqrt())
    _, values, directions = torch.linalg.svd(torch.stack(deviations), full_matrices=False)
    rank = int((values > values[0] * 1e-6).sum()) if len(values) and values[0] > 0 else 0
    return directions[: round(share * rank)]


class SequenceProbeHead(nn.Module):
    """The linear probe of the whole sequence: the clip resampled to ``frames`` frames (linear
    interpolation over time) and flattened, every feature of every frame side by side, then
    standardised over the training clips. Unlike ``linear`` it reads frame order: a logistic
    regression on the flattened, resampled sequence (what beat the pose recipe on arm gestures)."""

    def __init__(self, in_features: int, frames: int = 16) -> None:
        super().__init__()
        if frames < 1:
            raise ValueError(f"frames must be at least 1, got {frames}")
        self.frames = frames
        self.out_features = frames * in_features
        self.standardise = Standardise(self.out_features)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if features.shape[1] != self.frames:  # (B, T, F) -> (B, frames, F)
            features = F.interpolate(
                features.transpose(1, 2), self.frames, mode="linear", align_corners=True
            ).transpose(1, 2)
        return self.standardise(features.flatten(1))  # (B, frames * F)


class TransformerHead(nn.Module):
    """Temporal self-attention (BERT-style): projected frames plus learned positions, a learned
    class token in front, pre-norm encoder layers; the class token's output is the clip."""

    def __init__(
        self,
        in_features: int,
        dim: int = 256,
        depth: int = 2,
        heads: int = 4,
        dropout: float = 0.1,
        max_frames: int = 256,
        norm: str = "layer",
    ) -> None:
        super().__init__()
        # normalised frame features and sinusoid-initialised (then learned) positions start on
        # the same scale: with the usual tiny random positions, CNN features drown the order.
        # ``layer`` normalises each frame on its own; ``batch`` standardises each feature over
        # the training clips, so the small changes of a ``diff`` or ``drift`` input weigh as
        # much as appearance (measured with ``diff``: a wash; README)
        if norm not in ("layer", "batch"):
            raise TypeError(f"norm must be layer or batch, got {norm!r}")
        scale = nn.LayerNorm(in_features) if norm == "layer" else nn.BatchNorm1d(in_features)
        self.project = nn.Sequential(scale, nn.Linear(in_features, dim))
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.trunc_normal_(self.class_token, std=0.02)
        self.positions = nn.Parameter(_sinusoids(max_frames + 1, dim)[None])
        layer = nn.TransformerEncoderLayer(
            dim,
            heads,
            dim_feedforward=4 * dim,
            dropout=dropout,
            batch_first=True,
            norm_first=True,
            activation="gelu",
        )
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.max_frames = max_frames
        self.out_features = dim

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        batch, time = features.shape[:2]
        if time > self.max_frames:
            raise ValueError(f"clips of {time} frames exceed max_frames={self.max_frames}")
        scale, linear = self.project
        frames = features.flatten(0, 1)  # (B * T, F)
        if isinstance(scale, nn.BatchNorm1d) and self.training and frames.shape[0] == 1:
            # one frame has no spread to standardise by: use the running statistics
            frames = F.batch_norm(
                frames, scale.running_mean, scale.running_var, scale.weight, scale.bias
            )
        else:
            frames = scale(frames)
        tokens = linear(frames).unflatten(0, (batch, time))  # (B, T, D)
        tokens = torch.cat([self.class_token.expand(batch, -1, -1), tokens], dim=1)  # (B, 1+T, D)
        tokens = tokens + self.positions[:, : time + 1]
        return self.norm(self.encoder(tokens)[:, 0])  # class token: (B, D)


def _sinusoids(length: int, dim: int) -> torch.Tensor:
    """The Transformer's sine/cosine position table (Vaswani et al., 2017): (length, dim)."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    rate = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    table = torch.zeros(length, dim)
    table[:, 0::2] = torch.sin(position * rate)
    table[:, 1::2] = torch.cos(position * rate[: dim // 2])
    return table


for _name, _cell, _bidirectional in (
    ("lstm", "lstm", False),
    ("gru", "gru", False),
    ("rnn", "rnn", False),
    ("bilstm", "lstm", True),
    ("bigru", "gru", True),
):
    register_head(_name, functools.partial(RecurrentHead, cell=_cell, bidirectional=_bidirectional))
_ORDER_FREE = HeadTraits(reads_order=False)
register_head("mean", functools.partial(PoolHead, mode="mean"), _ORDER_FREE)
register_head("max", functools.partial(PoolHead, mode="max"), _ORDER_FREE)
register_head("stats", StatsHead, _ORDER_FREE)
register_head("linear", LinearProbeHead, HeadTraits(reads_order=False, probe=True))
register_head("linear_sequence", SequenceProbeHead, HeadTraits(probe=True))
register_head("transformer", TransformerHead)


class TemporalInput(nn.Module):
    """What a head reads per frame: the features (``raw``); the features joined with their
    change since the previous frame (``diff``) or since the clip's first frame (``drift``), both
    (B, T, F) -> (B, T, 2F), so a head sees motion directly while appearance stays available;
    each frame's departure from the clip's mean joined with that mean (``centre``), which
    separates what changes over the clip from what the scene or person looks like; or the
    features layer-normalised per frame (``norm``), which puts any encoder's features on one scale.

    ``appearance_dropout``: in training, the appearance half of a change-reading input (the
    features, or centre's mean) is zeroed for a whole clip with this probability, so the head
    learns to name a class from how things change wherever that suffices, instead of memorising
    the few scenes or people of a small training set (measured: README)."""

    MODES = ("raw", "diff", "drift", "centre", "norm")
    CHANGE_MODES = ("diff", "drift", "centre")

    def __init__(
        self, mode: str = "raw", in_features: int = 0, appearance_dropout: float = 0.0
    ) -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ConfigError(
                f"--temporal-input must be one of {', '.join(self.MODES)}, got {mode!r}"
            )
        if appearance_dropout and mode not in self.CHANGE_MODES:
            raise ConfigError(
                f"--appearance-dropout needs an input with a change half "
                f"({', '.join(self.CHANGE_MODES)}), not --temporal-input {mode}"
            )
        self.mode = mode
        self.appearance_dropout = appearance_dropout
        self.norm = nn.LayerNorm(in_features) if mode == "norm" else None

    def out_features(self, in_features: int) -> int:
        return in_features * (2 if self.mode in self.CHANGE_MODES else 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        if self.norm is not None:
            return self.norm(features)
        if self.mode == "raw":
            return features
        if self.mode == "centre":
            appearance = features.mean(dim=1, keepdim=True).expand_as(features)  # (B, T, F)
            change = features - appearance
        elif self.mode == "drift":
            appearance, change = features, features - features[:, :1]  # (B, T, F), first zero
        else:
            appearance = features
            change = torch.diff(features, dim=1, prepend=features[:, :1])  # first zero
        if self.training and self.appearance_dropout:
            drawn = torch.rand(features.shape[0], 1, 1, device=features.device)
            appearance = appearance * (drawn >= self.appearance_dropout)  # per clip
        if self.mode == "centre":
            return torch.cat([change, appearance], dim=-1)
        return torch.cat([appearance, change], dim=-1)
