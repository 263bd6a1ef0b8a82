"""``train(config)`` and ``resume(run)``: training runs and their directory (contract 2).

RUN/config.yaml      the resolved configuration
RUN/split.csv        the split actually used (path,split; feed it back with --split-file)
RUN/checkpoints/     best.ckpt (lowest val_loss) and last.ckpt, self-describing
RUN/metrics.csv      one row per epoch: train/val loss and accuracy, lr, seconds
RUN/curves.png       loss and accuracy curves
RUN/summary.json     best epoch, best validation figures, wall time, parameter counts
RUN/tensorboard/     the same curves for TensorBoard

Under DDP every process runs ``train``; only global rank 0 writes the run directory.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from vidact.config import TrainConfig, default_cache_dir
from vidact.data.cache import ArrayCache
from vidact.data.datamodule import VideoDataModule, default_workers
from vidact.data.index import DatasetError, VideoIndex
from vidact.data.sources import build_index
from vidact.data.transforms import Augment, resolve_augment
from vidact.models.classifier import frozen_throughout
from vidact.plots import plot_curves
from vidact.training.callbacks import EpochRecorder, UnfreezeBackbone, UnreadableVideos
from vidact.training.features import feature_cache_for
from vidact.training.module import ClipClassifierModule, FeatureJob

log = logging.getLogger(__name__)


class RunExistsError(FileExistsError):
    """The output directory already holds a run."""


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    summary: dict[str, Any]


def is_main_process() -> bool:
    """Global rank 0 (always true without DDP): the process that writes and prints."""
    return rank_zero_only.rank == 0


def _prepare_run_dir(config: TrainConfig) -> Path:
    run_dir = Path(config.out)
    if is_main_process() and (
        (run_dir / "checkpoints").exists() or (run_dir / "metrics.csv").exists()
    ):
        if not config.overwrite:
            raise RunExistsError(
                f"{run_dir} already holds a run; choose another --out, pass --overwrite, or "
                f"continue it with --resume {run_dir}"
            )
        for name in ("checkpoints", "tensorboard"):
            shutil.rmtree(run_dir / name, ignore_errors=True)
        for name in ("metrics.csv", "summary.json", "curves.png"):
            (run_dir / name).unlink(missing_ok=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def _epochs_done(checkpoint: Path) -> int:
    """Epochs a Lightning checkpoint completed (it stores the 0-based epoch it was saved in)."""
    # mmap: only the small "epoch" entry is read, not the weights Lightning loads itself later
    state = torch.load(checkpoint, map_location="cpu", weights_only=False, mmap=True)
    return int(state["epoch"]) + 1


def _parse_devices(devices: str) -> int | str:
    return int(devices) if devices.isdigit() else devices


def train(config: TrainConfig) -> TrainResult:
    """Train a clip classifier as ``config`` says and write the run directory."""
    index = build_index(config.data, config.seed)
    augment = _checked(config, index)
    run_dir = _prepare_run_dir(config)
    if is_main_process():
        index.write_split_csv(run_dir / "split.csv")
        (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    return _fit(config, index, run_dir, augment, checkpoint=None)


def resume(run: str | Path, epochs: int | None = None) -> TrainResult:
    """Continue an interrupted run from RUN/checkpoints/last.ckpt: same configuration and split,
    optimiser, scheduler and callback state restored; ``epochs`` may raise the total."""
    run_dir = Path(run)
    config_file, last = run_dir / "config.yaml", run_dir / "checkpoints" / "last.ckpt"
    if not config_file.is_file() or not last.is_file():
        raise FileNotFoundError(
            f"{run_dir}: nothing to resume (needs config.yaml and checkpoints/last.ckpt)"
        )
    config = TrainConfig.from_dict(yaml.safe_load(config_file.read_text()))
    if epochs is not None and epochs != config.epochs:
        config = TrainConfig.from_dict({**config.to_dict(), "epochs": epochs})
        if is_main_process():
            (run_dir / "config.yaml").write_text(yaml.safe_dump(config.to_dict(), sort_keys=False))
    index = build_index(config.data, config.seed)
    if index.split_csv() != (run_dir / "split.csv").read_text():
        raise DatasetError(
            f"{run_dir}: the dataset no longer gives the split in split.csv (videos added or "
            "removed?); resuming would mix splits"
        )
    return _fit(config, index, run_dir, _checked(config, index), checkpoint=last)


def _checked(config: TrainConfig, index: VideoIndex) -> Augment:
    """Fail on bad settings here, with a plain message, not later inside a DataLoader worker."""
    if not index.subset("val"):
        raise ValueError("the split has no validation videos: set --val-fraction above 0")
    config.data.sampling().indices(num_frames=100, fps=25.0)  # strategy, interval, stride
    return resolve_augment(config.data.augment, **config.data.augmentation())


def _fit(
    config: TrainConfig,
    index: VideoIndex,
    run_dir: Path,
    augment: Augment,
    checkpoint: Path | None,
) -> TrainResult:
    started = time.perf_counter()
    data = config.data
    L.seed_everything(config.seed, workers=True, verbose=False)
    module = ClipClassifierModule(config, index.classes)
    spec = module.spec
    workers = default_workers() if data.workers is None else data.workers
    feature_cache = clip_cache = None
    if config.feature_cache and frozen_throughout(config.model):
        feature_cache = feature_cache_for(
            config.cache_dir or default_cache_dir(),
            config.model.backbone,
            module.info().weight_source,
            spec,
            config.max_cached_frames,
        )
        module.feature_job = FeatureJob(
            index.subset("train") + index.subset("val"),
            feature_cache,
            config.max_cached_frames,
            workers,
            "cuda" if torch.cuda.is_available() and config.accelerator != "cpu" else "cpu",
        )
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

    done = _epochs_done(checkpoint) if checkpoint else 0
    recorder = EpochRecorder(run_dir / "metrics.csv", done_epochs=done)
    monitor = UnreadableVideos(
        data.max_bad_fraction, len(index.subset("train")) + len(index.subset("val"))
    )
    callbacks: list[Callback] = [
        ModelCheckpoint(
            dirpath=run_dir / "checkpoints",
            filename="best",
            monitor="val_loss",
            mode="min",
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
        ),
        EarlyStopping("val_loss", patience=config.patience),
        recorder,
        monitor,
    ]
    if config.model.unfreeze_epoch is not None:
        callbacks.append(UnfreezeBackbone(config.model.unfreeze_epoch))
    trainer = L.Trainer(
        max_epochs=config.epochs,
        accelerator=config.accelerator,
        devices=_parse_devices(config.devices),
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=config.precision,
        accumulate_grad_batches=config.accumulate,
        gradient_clip_val=config.grad_clip,
        logger=TensorBoardLogger(run_dir, name="tensorboard", version="")
        if config.tensorboard
        else False,
        callbacks=callbacks,
        enable_progress_bar=config.progress,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        deterministic="warn",
        log_every_n_steps=1,
    )
    trainer.fit(module, datamodule=datamodule, ckpt_path=checkpoint)

    rows = recorder.rows
    best = min(rows, key=lambda row: row["val_loss"])
    parameters = sum(p.numel() for p in module.model.parameters())
    trainable = sum(p.numel() for p in module.model.parameters() if p.requires_grad)
    summary = {
        "best_epoch": int(best["epoch"]),
        "best_val_loss": best["val_loss"],
        "best_val_acc": best["val_acc"],
        "epochs_run": len(rows),
        "stopped_early": len(rows) < config.epochs,
        "wall_seconds": round(time.perf_counter() - started, 2),
        "resumed_from_epoch": done if checkpoint else None,
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
