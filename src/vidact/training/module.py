"""LightningModule: the network, the loss, the optimiser and the epoch metrics."""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn
from torchmetrics import CatMetric, MeanMetric
from torchmetrics.classification import MulticlassAccuracy

from vidact.config import TrainConfig
from vidact.data.index import VideoItem
from vidact.models.backbones import frame_span, weight_source
from vidact.models.checkpoint import INT8_KEY, METADATA_KEY, CheckpointInfo, int8_entry
from vidact.models.classifier import ClipClassifier, uses_pretrained
from vidact.models.heads import LinearProbeHead, Standardise
from vidact.models.open_set import FIT_VIDEOS, OPEN_SET_KEY, OpenSet
from vidact.progress import progress
from vidact.sampling import evenly_spread
from vidact.training import optim
from vidact.training.features import FeatureExtractor

log = logging.getLogger(__name__)

KNOWN_ACCEPTED = 0.95  # share of validation clips the calibrated open-set distance keeps
MIN_CALIBRATION = 8  # validation clips needed to calibrate it (fewer: mostly noise)
LEFT_OUT = 16  # groups left out in turn to calibrate it (held_out_group_threshold), at most

Batch = tuple[torch.Tensor | None, torch.Tensor | None, list[str]]


@dataclass(frozen=True)
class FeatureJob:
    """The videos whose frame features ``prepare_data`` caches, and how."""

    items: list[VideoItem]
    extractors: list[FeatureExtractor]  # one per cached view
    workers: int
    device: str = "cpu"


class ClipClassifierModule(L.LightningModule):
    """Trains a ClipClassifier on pixel clips (B, T, 3, H, W) or cached features (B, T, F)."""

    def __init__(self, config: TrainConfig, classes: tuple[str, ...]) -> None:
        super().__init__()
        self.config = config
        self.classes = classes
        self.model = ClipClassifier(config.model, len(classes), input_size=config.data.size)
        self.spec = self.model.encoder.input_spec(config.data.size)
        if config.data.frame_fit is not None:
            self.spec = self.spec.fitted(config.data.frame_fit)
        # --class-weight balanced: set from the training videos when training starts; a plain
        # attribute, not a buffer, so checkpoints keep their keys
        self.class_weights: torch.Tensor | None = None
        metrics = {}
        for split in ("train", "val"):
            metrics[f"{split}_loss"] = MeanMetric()
            metrics[f"{split}_acc"] = MulticlassAccuracy(len(classes), average="micro")
        self.metrics = nn.ModuleDict(metrics)
        # per validation epoch, all ranks: each validation clip's loss and embedding, and the
        # embeddings and labels of the training clips seen as evaluation
        collected = (
            "val_losses",
            "val_embeddings",
            "train_embeddings",
            "train_labels",
        )
        self.collected = nn.ModuleDict({name: CatMetric() for name in collected})
        self.open_set: OpenSet | None = None  # fitted on the latest validation epoch
        # the open-set threshold from training groups left out in turn, when the embedding
        # does not learn (held_out_group_threshold); else validation calibrates it
        self.group_threshold: float | None = None
        # each validation clip's loss, per epoch (1-based): the spread a comparison of
        # candidates needs (training.trainer._choose)
        self.val_video_losses: dict[int, torch.Tensor] = {}
        self.jumps: float | None = None  # share of training videos with a cut (io.shots)
        # unreadable videos seen, per split; a callback reports them and enforces the limit
        self.unreadable: dict[str, set[str]] = {"train": set(), "val": set(), "extraction": set()}
        self.feature_job: FeatureJob | None = None  # set when training on cached features
        self._rng_to_restore: dict[str, Any] | None = None  # set when resuming
        self.quantised: dict[str, bytes] | None = None  # --encoder-precision int8: the encoders

    def prepare_data(self) -> None:
        # Lightning calls this once per node, then waits for it on every process: the place
        # to fill the feature cache before any rank reads it
        job = self.feature_job
        if job is not None:
            for extractor in job.extractors:
                failed = extractor.extract(job.items, job.workers, job.device)
                self.unreadable["extraction"].update(failed)

    def info(self) -> CheckpointInfo:
        model = self.model.config  # every default resolved
        return CheckpointInfo(
            classes=self.classes,
            model=model,
            weight_source=weight_source(model.backbone, uses_pretrained(model), model.weights),
            sampling=self.config.data.sampling(frame_span(model.backbone)),
            input=self.spec,
            jumps=self.jumps,
        )

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.model.classifier(self.embed(batch))

    def embed(self, batch: torch.Tensor) -> torch.Tensor:
        """(B, T, F) cached features or (B, T, 3, H, W) pixels -> (B, D) clip embeddings."""
        return self.model.embed(batch if batch.dim() == 3 else self.model.encode(batch))

    def _step(self, batch: Batch, split: str) -> torch.Tensor | None:
        inputs, labels, unreadable = batch
        self.unreadable[split].update(unreadable)
        if inputs is None:  # every video of the batch was unreadable
            return None
        embeddings = self.embed(inputs)
        logits = self.model.classifier(embeddings)
        smoothing = self.config.label_smoothing
        if split == "val":  # unweighted, as tested; each clip's loss kept
            each = nn.functional.cross_entropy(
                logits.detach().float(), labels, reduction="none", label_smoothing=smoothing
            )
            loss = each.mean()
            self.collected["val_losses"].update(each)
            self.collected["val_embeddings"].update(embeddings.detach().float())
        else:
            weights = self.class_weights
            loss = nn.functional.cross_entropy(
                logits,
                labels,
                weight=None if weights is None else weights.to(logits),
                label_smoothing=smoothing,
            )
        self.metrics[f"{split}_loss"].update(loss.detach(), weight=len(labels))
        self.metrics[f"{split}_acc"].update(logits.detach(), labels)
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        return self._step(batch, "train")

    def validation_step(self, batch: Batch, batch_idx: int, dataloader_idx: int = 0) -> None:
        if dataloader_idx == 0:
            self._step(batch, "val")
            return
        inputs, labels, _ = batch  # training clips as evaluation sees them
        if inputs is not None:
            self.collected["train_embeddings"].update(self.embed(inputs).float())
            self.collected["train_labels"].update(labels.float())

    def on_validation_epoch_start(self) -> None:
        for metric in self.collected.values():
            metric.reset()

    def on_train_start(self) -> None:
        if self.config.class_weight == "balanced":
            counts = self.trainer.datamodule.index.counts()["train"]
            self.class_weights = balanced_weights([counts.get(c, 0) for c in self.classes])
            log.info(
                "class weights in the loss (--class-weight balanced): %s",
                ", ".join(
                    f"{c} {w:.2f}"
                    for c, w in zip(self.classes, self.class_weights.tolist(), strict=True)
                ),
            )
        self._fit_fixed_embedding()

    def _fit_fixed_embedding(self) -> None:
        """The ``linear`` head's nuisance directions and groups-left-out threshold, from the
        training clips before the first step."""
        head = self.model.head
        if not isinstance(head, LinearProbeHead):
            return
        datamodule = self.trainer.datamodule
        # a frozen encoder's features are cached, so its clips' embeddings stay put and a group
        # left out is measured as a new one would be; an encoder that trains moves them
        cached = datamodule.feature_cache is not None
        if not datamodule.index.groups_known:
            if head.nuisance:
                log.warning(
                    "the linear head's nuisance takes out how the training groups differ, but "
                    "no groups are known (--groups, --group-regex): nothing is taken out"
                )
            return
        if not (cached or head.nuisance):
            return
        # the threshold alone reads as many videos as the open set is fitted on
        gathered = self._training_statistics(head, None if head.nuisance else FIT_VIDEOS)
        if gathered is None:
            return
        statistics, labels, groups = gathered
        if head.nuisance:
            kept = head.fit_nuisance(statistics, labels, groups)
            log.info(
                "taking out %d direction(s) in which the %d training groups differ within a class",
                kept,
                len(set(groups)),
            )
        if cached:
            self.group_threshold = held_out_group_threshold(
                head, statistics, labels, groups, len(self.classes)
            )
        if self.group_threshold is not None:
            log.info(
                "open-set distance calibrated on the %d training groups, each left out in turn",
                len(set(groups)),
            )

    def _training_statistics(
        self, head: LinearProbeHead, most: int | None
    ) -> tuple[torch.Tensor, torch.Tensor, list[str]] | None:
        """The clip statistics of the training videos (``most`` of them at most, evenly spread)
        as evaluation reads them (features cached by now), their classes and groups, before the
        first step; None when none is readable."""
        datamodule = self.trainer.datamodule
        dataset = datamodule.dataset("train", most=most)  # evaluation views: no jitter, no copies
        statistics, labels, groups = [], [], []
        reads = self.model.temporal_input  # what the head reads per frame (--temporal-input)
        reads.eval()  # as evaluation reads it: no appearance dropout
        with torch.no_grad():
            items = dataset.items  # a progress line when it decodes; cached features take no time
            cached = datamodule.feature_cache is not None
            shown = items if cached else progress(items, "fitting the nuisance")
            for number, item in enumerate(shown):
                inputs, label = dataset[number]
                if inputs is None:  # unreadable: the epoch's report names it
                    continue
                inputs = inputs[None].to(self.device)
                frames = inputs if inputs.dim() == 3 else self.model.encode(inputs)
                statistics.append(head.statistics(reads(frames.float())))
                labels.append(label)
                groups.append(item.group)
        reads.train(self.training)
        if not statistics:
            return None
        return torch.cat(statistics), torch.tensor(labels), groups

    def on_train_epoch_start(self) -> None:
        if self._rng_to_restore is not None:  # the first epoch of a resumed run
            _set_rng_states(self._rng_to_restore)
            self._rng_to_restore = None
        for split in ("train", "val"):
            self.metrics[f"{split}_loss"].reset()
            self.metrics[f"{split}_acc"].reset()
        # the probes standardise with this epoch's training batches: exactly the training set's
        # statistics in a full-batch fit, and the encoder as it is now when it trains
        for layer in self.model.modules():
            if isinstance(layer, Standardise):
                layer.reset_running_stats()

    def on_validation_epoch_end(self) -> None:
        # validation runs after the epoch's last training step, so both splits are complete here;
        # logging them together lets callbacks read one consistent row per epoch
        if self.trainer.sanity_checking:
            return
        for name, metric in self.metrics.items():
            if metric.update_count:
                self.log(name, metric.compute(), prog_bar=name.startswith("val"))
        collected = {k: m.compute() for k, m in self.collected.items() if m.update_count}
        if "val_losses" in collected:
            self.val_video_losses[self.current_epoch + 1] = collected["val_losses"].cpu()
        if "val_embeddings" in collected and "train_embeddings" in collected:
            train, labels = collected["train_embeddings"], collected["train_labels"]
            validation = collected["val_embeddings"]
            self.open_set = fit_open_set(
                train, labels, len(self.classes), validation, self.group_threshold
            )

    def configure_optimizers(self) -> dict[str, Any]:
        # the backbone is its own group (its learning rate scaled) from the start, frozen or not:
        # frozen parameters get no gradients and stay put, and unfreezing needs no new group
        # the temporal input (temporal_input: norm's LayerNorm) learns with the head
        before = [*self.model.temporal_input.parameters(), *self.model.head.parameters()]
        head = [*before, *self.model.classifier.parameters()]
        groups: list[dict[str, Any]] = [{"params": head, "name": "head"}]
        if self.config.weight_decay_scope == "classifier":  # Keras-style L2 on the dense layers
            groups = [
                {"params": before, "name": "head", "weight_decay": 0.0},
                {"params": list(self.model.classifier.parameters()), "name": "classifier"},
            ]
        backbone = list(self.model.encoder.parameters())
        if backbone:
            lr = self.config.lr * self.config.model.backbone_lr_mult
            groups.append({"params": backbone, "lr": lr, "name": "backbone"})
            if self.config.weight_decay_scope == "classifier":
                groups[-1]["weight_decay"] = 0.0
        return optim.configure(groups, self.config)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[METADATA_KEY] = self.info().to_dict()
        checkpoint["vidact_config"] = self.config.to_dict()
        checkpoint["rng_states"] = _rng_states()
        if self.open_set is not None:
            checkpoint[OPEN_SET_KEY] = self.open_set.to_dict()
        if self.quantised is not None:
            checkpoint[INT8_KEY] = int8_entry(self.quantised)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # dropout and anything else drawing from the global generators continues where the
        # interrupted run was, from the next epoch's start (data order has its own seeds)
        self._rng_to_restore = checkpoint.get("rng_states")


def fit_open_set(
    train: torch.Tensor,
    labels: torch.Tensor,
    classes: int,
    validation: torch.Tensor,
    threshold: float | None = None,
) -> OpenSet | None:
    """The distance rejection (``models.open_set``) with ``threshold``, or else one keeping
    ``KNOWN_ACCEPTED`` of the validation clips; None without a threshold and with fewer than
    ``MIN_CALIBRATION`` validation clips."""
    if threshold is None and len(validation) < MIN_CALIBRATION:
        return None
    fitted = OpenSet.fit(train, labels, classes)
    if fitted is None:
        return None
    if threshold is None:
        return fitted.calibrated(validation, KNOWN_ACCEPTED)
    return replace(fitted, threshold=threshold)


def balanced_weights(counts: Sequence[int]) -> torch.Tensor:
    """N / (K x clips of each class), from each class's training clips (``VideoIndex.counts``),
    K the classes among them (1 for a class without clips, which no loss term reads): every
    class weighs alike in the loss, and a clip weighs 1 on average."""
    clips = torch.tensor(counts, dtype=torch.float64)
    present = clips > 0
    weights = clips.sum() / (present.sum() * clips.clamp_min(1))
    return torch.where(present, weights, torch.ones_like(weights)).float()


def held_out_group_threshold(
    head: LinearProbeHead,
    statistics: torch.Tensor,
    labels: torch.Tensor,
    groups: list[str],
    classes: int,
) -> float | None:
    """The distance that ``KNOWN_ACCEPTED`` of the training clips stay within when their group
    (camera, person) is left out: each group's clips measured against the head and the open
    set fitted on the other groups. A model of a few groups meets new ones; one or two
    validation groups set a threshold anywhere from a thirteenth to four times this one, and
    rejected 9-42% of the known clips of new sources on fight-dev against 3-4% (docs/
    measurements.md, "Rejection scores"). The ``linear`` head's embedding is its clips'
    standardised statistics, learnt from nothing but them, so leaving a group out needs no
    training. None with fewer than three groups or ``MIN_CALIBRATION`` clips measured."""
    if len(set(groups)) < 3:
        return None
    kept = evenly_spread(len(statistics), FIT_VIDEOS)  # as many as the open set is fitted on
    statistics, labels = statistics[torch.from_numpy(kept)], labels[torch.from_numpy(kept)]
    names = np.array(groups)[kept]
    every = sorted(set(names))
    distances = []
    for group in [every[i] for i in evenly_spread(len(every), LEFT_OUT)]:
        rest = torch.from_numpy(names != group)
        fitted, apart = head.embedded_apart(
            statistics[rest], labels[rest], list(names[rest.numpy()]), statistics[~rest]
        )
        open_set = OpenSet.fit(fitted, labels[rest], classes)
        if open_set is not None:  # every class left among the other groups
            distances.append(open_set.distance(apart).double())
    measured = torch.cat(distances) if distances else torch.zeros(0)
    if len(measured) < MIN_CALIBRATION:
        return None
    return float(torch.quantile(measured, KNOWN_ACCEPTED))


def _rng_states() -> dict[str, Any]:
    """The global generators' states, as tensors and plain values (weights-only loadable)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), position, has_gauss, gauss],
        "python": random.getstate(),
    }


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"].cpu())
    if states["cuda"] and torch.cuda.is_initialized():
        torch.cuda.set_rng_state_all([state.cpu() for state in states["cuda"]])
    kind, keys, position, has_gauss, gauss = states["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    random.setstate(states["python"])
