"""ClipClassifier: frame encoder -> temporal head -> MLP classifier."""

from __future__ import annotations

import torch
from torch import nn

from vidact.config import ModelConfig
from vidact.models.backbones import build_encoder, has_trained_weights
from vidact.models.heads import TemporalInput, create_head, resolve_model
from vidact.models.open_set import OpenSet


def build_mlp(
    in_features: int, hidden: tuple[int, ...], num_classes: int, dropout: float
) -> nn.Sequential:
    """Dropout -> (Linear -> ReLU -> Dropout) per hidden width -> Linear to the classes."""
    layers: list[nn.Module] = []
    width = in_features
    for size in hidden:
        layers += [nn.Dropout(dropout), nn.Linear(width, size), nn.ReLU(inplace=True)]
        width = size
    layers += [nn.Dropout(dropout), nn.Linear(width, num_classes)]
    return nn.Sequential(*layers)


class ClipClassifier(nn.Module):
    """(B, T, 3, H, W) clips -> (B, K) logits; ``classify_features`` starts from (B, T, F)."""

    def __init__(
        self,
        config: ModelConfig,
        num_classes: int,
        load_weights: bool = True,
        input_size: int | None = None,
    ) -> None:
        """``load_weights=False`` skips the starting weights: a checkpoint's state follows.
        ``input_size`` (frame crop size) matters only to a flattening encoder."""
        super().__init__()
        self.config = config = resolve_model(config)
        self.encoder = build_encoder(
            config.backbone,
            pretrained=load_weights and uses_pretrained(config),
            weights=config.weights if load_weights else None,
            pool=config.pool,
            input_size=input_size,
        )
        self.temporal_input = TemporalInput(
            config.temporal_input, self.encoder.num_features, config.appearance_dropout
        )
        width = self.temporal_input.out_features(self.encoder.num_features)
        self.head = create_head(config.head, width, **config.head_args)
        self.classifier = build_mlp(self.head.out_features, config.mlp, num_classes, config.dropout)
        if freeze_policy(config) == "all":
            self.encoder.requires_grad_(False)
            if config.trainable_layers:
                for layer in parameterised_layers(self.encoder)[-config.trainable_layers :]:
                    layer.requires_grad_(True)

    open_set: OpenSet | None = None  # its open-set distance, set when loaded with one

    @property
    def open_set_threshold(self) -> float | None:
        """The distance beyond which a clip is none of its classes (``models.open_set``)."""
        return None if self.open_set is None else self.open_set.threshold

    def classify_with_distance(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, T, F) frame features -> (B, K) logits and (B,) open-set distances."""
        if self.open_set is None:
            raise ValueError("this model has no open-set distance")
        embeddings = self.embed(features)
        return self.classifier(embeddings), self.open_set.distance(embeddings)

    @property
    def fully_frozen(self) -> bool:
        return not any(p.requires_grad for p in self.encoder.parameters())

    def train(self, mode: bool = True) -> ClipClassifier:
        super().train(mode)
        if self.fully_frozen:
            self.encoder.eval()  # a fixed feature extractor: no dropout, no statistics updates
            return self
        for module in self.encoder.modules():
            # batch norm in frozen parts keeps its (ImageNet) statistics
            if isinstance(module, nn.modules.batchnorm._BatchNorm) and not any(
                p.requires_grad for p in module.parameters()
            ):
                module.eval()
        return self

    def encode(self, clips: torch.Tensor) -> torch.Tensor:
        return self.encoder.encode_clips(clips)  # (B, T, C, H, W) -> (B, T, F)

    def embed(self, features: torch.Tensor) -> torch.Tensor:
        """(B, T, F) frame features -> (B, D) the clip embedding (what open-set distances are
        measured on: ``models.open_set``)."""
        return self.head(self.temporal_input(features))  # (B, T, F) -> (B, T, F') -> (B, D)

    def classify_features(self, features: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.embed(features))  # (B, D) -> (B, K)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.classify_features(self.encode(clips))


def uses_pretrained(config: ModelConfig) -> bool:
    """Offline ImageNet weights: as asked, else whenever the backbone has them."""
    if config.pretrained is not None:
        return config.pretrained
    return config.weights is None and has_trained_weights(config.backbone)


def freeze_policy(config: ModelConfig) -> str:
    """``all`` or ``none``: as asked, else ``all`` when the backbone starts from trained weights."""
    if config.freeze is not None:  # ModelConfig checked it is one of the two
        return config.freeze
    return "all" if uses_pretrained(config) or config.weights is not None else "none"


def frozen_throughout(config: ModelConfig) -> bool:
    """Whether the backbone never trains in this run: then its features can be cached."""
    return (
        freeze_policy(config) == "all"
        and not config.trainable_layers
        and config.unfreeze_epoch is None
    )


def parameterised_layers(module: nn.Module) -> list[nn.Module]:
    """Modules that own parameters themselves (convolutions, norms, linears), in definition
    order: what Keras counts as layers when the seeds unfreeze "the last N layers"."""
    return [m for m in module.modules() if any(True for _ in m.parameters(recurse=False))]
