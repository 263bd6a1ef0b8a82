"""``train(config)``: one training run and its run directory (ARCHITECTURE.md, contract 2).

RUN/config.yaml      the resolved configuration
RUN/split.csv        the split actually used (path,split; feed it back with --split-file)
RUN/checkpoints/     best.ckpt (lowest val_loss) and last.ckpt, self-describing
RUN/metrics.csv      one row per epoch: train/val loss and accuracy, lr, seconds
RUN/curves.png       loss and accuracy curves
RUN/summary.json     best epoch, best validation figures, wall time, parameter counts
"""

from __future__ import annotations

import csv
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import yaml
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint

from vidact.config import TrainConfig, default_cache_dir
from vidact.data.cache import ArrayCache
from vidact.data.datamodule import VideoDataModule, default_workers
from vidact.data.index import DatasetError, VideoIndex
from vidact.data.sources import build_index
from vidact.data.transforms import resolve_augment
from vidact.models.classifier import config_frozen
from vidact.plots import plot_curves
from vidact.training.features import extract_features, feature_cache_for
from vidact.training.module import ClipClassifierModule

log = logging.getLogger(__name__)

EPOCH_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


class RunExistsError(FileExistsError):
    """The output directory already holds a run."""


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    summary: dict[str, Any]


class EpochRecorder(Callback):
    """Appends one row per epoch to metrics.csv, from the metrics the module logged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.rows: list[dict[str, float]] = []
        self._started = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        metrics = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch + 1}
        for name in EPOCH_COLUMNS[1:5]:
            row[name] = float(metrics[name]) if name in metrics else float("nan")
        row["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        row["seconds"] = round(time.perf_counter() - self._started, 3)
        self.rows.append(row)
        if trainer.is_global_zero:
            new = not self.path.exists()
            with self.path.open("a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=EPOCH_COLUMNS)
                if new:
                    writer.writeheader()
                writer.writerow(row)


def _prepare_run_dir(config: TrainConfig) -> Path:
    run_dir = Path(config.out)
    if (run_dir / "checkpoints").exists() or (run_dir / "metrics.csv").exists():
        if not config.overwrite:
            raise RunExistsError(
                f"{run_dir} already holds a run; choose another --out or pass --overwrite"
            )
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        for name in ("metrics.csv", "summary.json", "curves.png"):
            (run_dir / name).unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


class TooManyUnreadableVideos(DatasetError):
    """More of the dataset failed to decode than ``--max-bad-fraction`` allows."""


class UnreadableVideos(Callback):
    """Reports unreadable videos at the end of each epoch; stops training past the limit.

    A few damaged files in a large dataset should not cost a run; many mean something is wrong
    (a wrong folder, a missing codec), and training on what is left would mislead.
    """

    def __init__(self, max_fraction: float, index: VideoIndex) -> None:
        self.max_fraction = max_fraction
        self.total = len(index.subset("train")) + len(index.subset("val"))
        self.seen: set[str] = set()
        self._reported = 0

    def add(self, paths: list[str]) -> None:
        self.seen.update(paths)

    def check(self) -> None:
        if len(self.seen) > self._reported:
            shown = ", ".join(sorted(self.seen)[:10])
            log.warning("%d unreadable video(s) skipped so far: %s", len(self.seen), shown)
            self._reported = len(self.seen)
        if self.total and len(self.seen) / self.total > self.max_fraction:
            raise TooManyUnreadableVideos(
                f"{len(self.seen)} of {self.total} videos are unreadable (limit "
                f"{self.max_fraction:.0%}, --max-bad-fraction): {', '.join(sorted(self.seen))}"
            )

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        for paths in pl_module.unreadable.values():
            self.add(sorted(paths))
        self.check()


def _parse_devices(devices: str) -> int | str:
    return int(devices) if devices.isdigit() else devices


def train(config: TrainConfig) -> TrainResult:
    """Train a clip classifier as ``config`` says and write the run directory."""
    started = time.perf_counter()
    data = config.data
    augment = resolve_augment(data.augment, **data.augmentation())  # fail early on bad flags
    index = build_index(data, config.seed)
    if not index.subset("val"):
        raise ValueError("the split has no validation videos: set --val-fraction above 0")
    run_dir = _prepare_run_dir(config)
    index.write_split_csv(run_dir / "split.csv")
    (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))

    L.seed_everything(config.seed, workers=True, verbose=False)
    module = ClipClassifierModule(config, index.classes)
    spec = module.spec

    monitor = UnreadableVideos(data.max_bad_fraction, index)
    feature_cache = clip_cache = None
    if config.feature_cache and config_frozen(config.model):
        feature_cache = feature_cache_for(
            config.cache_dir or default_cache_dir(),
            config.model.backbone,
            module.info().weight_source,
            spec,
            config.max_cached_frames,
        )
        failed = extract_features(
            module.model.encoder,
            index.subset("train") + index.subset("val"),
            feature_cache,
            spec,
            config.max_cached_frames,
            workers=default_workers() if data.workers is None else data.workers,
        )
        monitor.add(failed)  # checked against the limit before the first epoch
        monitor.check()
    elif config.cache_dir is not None:
        clip_cache = ArrayCache(
            config.cache_dir,
            "clips",
            {"short_side": spec.short_side, "max_frames": config.max_cached_frames},
        )

    datamodule = VideoDataModule(
        index,
        spec,
        data.sampling(),
        data.batch_size,
        data.workers,
        augment,
        feature_cache,
        clip_cache,
        config.max_cached_frames,
    )
    checkpoint = ModelCheckpoint(
        dirpath=run_dir / "checkpoints",
        filename="best",
        monitor="val_loss",
        mode="min",
        save_top_k=1,
        save_last=True,
        auto_insert_metric_name=False,
    )
    recorder = EpochRecorder(run_dir / "metrics.csv")
    trainer = L.Trainer(
        max_epochs=config.epochs,
        accelerator=config.accelerator,
        devices=_parse_devices(config.devices),
        logger=False,
        callbacks=[
            checkpoint,
            EarlyStopping("val_loss", patience=config.patience),
            recorder,
            monitor,
        ],
        enable_progress_bar=config.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic="warn",
        log_every_n_steps=1,
    )
    trainer.fit(module, datamodule=datamodule)

    rows = recorder.rows
    best = min(rows, key=lambda row: row["val_loss"])
    parameters = sum(p.numel() for p in module.model.parameters())
    trainable = sum(p.numel() for p in module.model.parameters() if p.requires_grad)
    summary = {
        "best_epoch": best["epoch"],
        "best_val_loss": best["val_loss"],
        "best_val_acc": best["val_acc"],
        "epochs_run": len(rows),
        "stopped_early": len(rows) < config.epochs,
        "wall_seconds": round(time.perf_counter() - started, 2),
        "parameters": parameters,
        "trainable_parameters": trainable,
        "feature_cache": str(feature_cache.dir) if feature_cache else None,
        "clip_cache": str(clip_cache.dir) if clip_cache else None,
        "unreadable_videos": sorted(monitor.seen),
        "classes": list(index.classes),
        "num_videos": {split: len(index.subset(split)) for split in ("train", "val", "test")},
    }
    if trainer.is_global_zero:
        plot_curves(rows, run_dir / "curves.png")
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return TrainResult(
        run_dir,
        run_dir / "checkpoints" / "best.ckpt",
        run_dir / "checkpoints" / "last.ckpt",
        summary,
    )
