"""LightningModule: the network, the loss, the optimiser and the epoch metrics."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from torch import nn
from torchmetrics import MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from vidact.config import TrainConfig
from vidact.models.backbones import weight_source
from vidact.models.checkpoint import METADATA_KEY, CheckpointInfo
from vidact.models.classifier import ClipClassifier, uses_pretrained

Batch = tuple[torch.Tensor | None, torch.Tensor | None, list[str]]


class ClipClassifierModule(L.LightningModule):
    """Trains a ClipClassifier on pixel clips (B, T, 3, H, W) or cached features (B, T, F)."""

    def __init__(self, config: TrainConfig, classes: tuple[str, ...]) -> None:
        super().__init__()
        self.config = config
        self.classes = classes
        self.model = ClipClassifier(config.model, len(classes))
        self.spec = self.model.encoder.input_spec(config.data.size)
        self.loss = nn.CrossEntropyLoss()
        metrics = {}
        for split in ("train", "val"):
            metrics[f"{split}_loss"] = MeanMetric()
            metrics[f"{split}_acc"] = MulticlassAccuracy(len(classes), average="micro")
        self.metrics = nn.ModuleDict(metrics)
        # unreadable videos seen, per split; a callback reports them and enforces the limit
        self.unreadable: dict[str, set[str]] = {"train": set(), "val": set()}

    def info(self) -> CheckpointInfo:
        model = self.config.model
        return CheckpointInfo(
            classes=self.classes,
            model=model,
            weight_source=weight_source(model.backbone, uses_pretrained(model), model.weights),
            sampling=self.config.data.sampling(),
            input=self.spec,
        )

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.dim() == 3:  # (B, T, F) cached features
            return self.model.classify_features(batch)
        return self.model(batch)  # (B, T, 3, H, W) pixels

    def _step(self, batch: Batch, split: str) -> torch.Tensor | None:
        inputs, labels, unreadable = batch
        self.unreadable[split].update(unreadable)
        if inputs is None:  # every video of the batch was unreadable
            return None
        logits = self(inputs)
        loss = self.loss(logits, labels)
        self.metrics[f"{split}_loss"].update(loss.detach(), weight=len(labels))
        self.metrics[f"{split}_acc"].update(logits.detach(), labels)
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        return self._step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def on_train_epoch_start(self) -> None:
        for split in ("train", "val"):
            self.metrics[f"{split}_loss"].reset()
            self.metrics[f"{split}_acc"].reset()

    def on_validation_epoch_end(self) -> None:
        # validation runs after the epoch's last training step, so both splits are complete here;
        # logging them together lets callbacks read one consistent row per epoch
        if self.trainer.sanity_checking:
            return
        for name, metric in self.metrics.items():
            if metric.update_count:
                self.log(name, metric.compute(), prog_bar=name.startswith("val"))

    def configure_optimizers(self) -> dict[str, Any]:
        config = self.config
        params = [p for p in self.model.parameters() if p.requires_grad]
        if config.optimizer == "sgd":
            optimizer: torch.optim.Optimizer = torch.optim.SGD(
                params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
            )
        elif config.optimizer == "adam":
            optimizer = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
        else:
            raise ValueError(f"unknown optimizer {config.optimizer!r}; known: adam, sgd")
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=config.plateau_factor, patience=config.plateau_patience
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "monitor": "val_loss", "interval": "epoch"},
        }

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[METADATA_KEY] = self.info().to_dict()
        checkpoint["vidact_config"] = self.config.to_dict()
