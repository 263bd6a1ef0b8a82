"""Lightning callbacks of a vidact run: checkpoints, the epoch table, unreadable videos, backbone
unfreezing."""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback, ModelCheckpoint

from vidact.errors import ConfigError, DatasetError

log = logging.getLogger(__name__)

EPOCH_COLUMNS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")


def read_epoch_rows(path: Path) -> list[dict[str, float]]:
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


class RunCheckpoint(ModelCheckpoint):
    """best.ckpt (lowest val_loss) and last.ckpt, always under those names, written atomically.

    Lightning's own callback versions a name that exists (best-v1.ckpt) and forgets the best score
    when the run directory has moved since the checkpoint was written; a resumed copy of a run
    then wrote best-v1/last-v1 and resumed from the stale last.ckpt next time. Here the state of
    a moved run is mapped onto its new folder, and each file is written beside its final name and
    renamed, so a kill during a save leaves the previous checkpoint whole. ``on_saved`` runs after
    every save (the run directory commits at the first).
    """

    def __init__(self, dirpath: Path, on_saved: Callable[[], None] | None = None) -> None:
        super().__init__(
            dirpath=dirpath,
            filename="best",
            monitor="val_loss",
            mode="min",
            save_top_k=1,
            save_last=True,
            auto_insert_metric_name=False,
            enable_version_counter=False,
        )
        self.on_saved = on_saved

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        here = Path(self.dirpath or ".")

        def moved(path: Any) -> Any:
            return str(here / Path(path).name) if path else path

        state = dict(state_dict)
        for key in ("best_model_path", "kth_best_model_path", "last_model_path"):
            state[key] = moved(state.get(key))
        state["best_k_models"] = {
            moved(path): score for path, score in state.get("best_k_models", {}).items()
        }
        state["dirpath"] = self.dirpath
        super().load_state_dict(state)

    # Lightning (2.6) writes last.ckpt only along with a new best; a resume must go on from the
    # epoch the run had reached, so it is written after every epoch, where Lightning saves
    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_epoch_end(trainer, pl_module)
        if self._should_save_on_train_epoch_end(trainer):
            self._save_last_every_epoch(trainer)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_validation_end(trainer, pl_module)
        if not self._should_save_on_train_epoch_end(trainer):
            self._save_last_every_epoch(trainer)

    def _save_last_every_epoch(self, trainer: L.Trainer) -> None:
        if not self._should_skip_saving_checkpoint(trainer):  # not saved with a new best
            self._save_last_checkpoint(trainer, self._monitor_candidates(trainer))

    def _save_checkpoint(self, trainer: L.Trainer, filepath: str) -> None:
        partial = f"{filepath}.partial"
        super()._save_checkpoint(trainer, partial)
        if trainer.is_global_zero:
            os.replace(partial, filepath)
        trainer.strategy.barrier("vidact_checkpoint")
        self._last_checkpoint_saved = filepath
        if self.on_saved is not None and trainer.is_global_zero:
            self.on_saved()


class EpochRecorder(Callback):
    """One row per epoch in metrics.csv, written before that epoch's checkpoint, and one log
    line per epoch when ``log_epochs`` (a log file, where Lightning's bar shows nothing).

    Lightning runs checkpoint callbacks last, so the row of an epoch is on disk before its
    checkpoint; a resumed run drops rows of epochs that no checkpoint holds (``done_epochs``), so
    the table stays continuous however the run was interrupted.
    """

    def __init__(self, path: Path, done_epochs: int = 0, log_epochs: bool = False) -> None:
        self.path = path
        self.log_epochs = log_epochs
        self.rows = [row for row in read_epoch_rows(path) if row["epoch"] <= done_epochs]
        self._started = 0.0
        self._rewrite = True

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._started = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = trainer.callback_metrics
        row = {"epoch": trainer.current_epoch + 1}
        for name in EPOCH_COLUMNS[1:5]:
            row[name] = float(metrics[name]) if name in metrics else float("nan")
        row["lr"] = trainer.optimizers[0].param_groups[0]["lr"]
        row["seconds"] = round(time.perf_counter() - self._started, 3)
        self.rows.append(row)
        if self.log_epochs and trainer.is_global_zero:
            log.info(
                "epoch %d/%d: train loss %.4f acc %.3f, val loss %.4f acc %.3f (%.0f s)",
                row["epoch"],
                trainer.max_epochs,
                *(row[name] for name in EPOCH_COLUMNS[1:5]),
                row["seconds"],
            )
        if trainer.is_global_zero:
            with self.path.open("w" if self._rewrite else "a", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=EPOCH_COLUMNS)
                if self._rewrite:
                    writer.writeheader()
                for out in self.rows if self._rewrite else [row]:
                    writer.writerow({k: int(v) if k == "epoch" else v for k, v in out.items()})
            self._rewrite = False


class TooManyUnreadableVideos(DatasetError):
    """More of the dataset failed to decode than ``--max-bad-fraction`` allows, or all of
    validation."""


def gather_paths(trainer: L.Trainer, paths: set[str]) -> set[str]:
    """The union of ``paths`` over every DDP process (each sees only its share of the videos)."""
    if trainer.world_size > 1 and torch.distributed.is_initialized():
        everyone: list[Any] = [None] * trainer.world_size
        torch.distributed.all_gather_object(everyone, sorted(paths))
        return set().union(*everyone)
    return set(paths)


class UnreadableVideos(Callback):
    """Reports unreadable videos at the end of each epoch; stops training past the limit, or
    when no validation video (``validation``, their paths) can be read.

    A few damaged files in a large dataset should not cost a run; many mean something is wrong
    (a wrong folder, a missing codec), and training on what is left would mislead; without a
    readable validation video nothing chooses the epoch. Under DDP the processes pool what they
    found first, so the limit and the report cover the whole dataset.
    """

    def __init__(self, max_fraction: float, total: int, validation: Collection[str] = ()) -> None:
        self.max_fraction = max_fraction
        self.total = total
        self.validation = set(validation)
        self.seen: set[str] = set()
        self._reported = 0

    def check(self) -> None:
        if len(self.seen) > self._reported:
            shown = ", ".join(sorted(self.seen)[:10])
            log.warning("%d unreadable video(s) skipped so far: %s", len(self.seen), shown)
            self._reported = len(self.seen)
        if self.total and len(self.seen) / self.total > self.max_fraction:
            allowed = math.floor(self.max_fraction * self.total + 1e-9)
            raise TooManyUnreadableVideos(
                f"{len(self.seen)} of {self.total} videos are unreadable, more than "
                f"--max-bad-fraction allows ({allowed}): {', '.join(sorted(self.seen))}"
            )
        if self.validation and self.validation <= self.seen:
            raise TooManyUnreadableVideos(
                f"no validation video can be read ({len(self.validation)} unreadable: "
                f"{', '.join(sorted(self.validation)[:10])}), so nothing can choose the epoch: "
                "replace them, or give validation other videos (--split-file, --val-fraction)"
            )

    def _collect(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        found: set[str] = set().union(*pl_module.unreadable.values())
        self.seen |= gather_paths(trainer, found)
        self.check()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._collect(trainer, pl_module)  # found while caching features

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._collect(trainer, pl_module)


class UnfreezeBackbone(Callback):
    """Makes the whole backbone trainable from epoch ``epoch`` (1-based) on.

    The backbone already sits in the optimiser as its own parameter group (with its learning-rate
    multiplier), so unfreezing only turns gradients on: schedules keep working, and a resumed
    run past that epoch unfreezes again at its start.
    """

    def __init__(self, epoch: int) -> None:
        if epoch < 1:
            raise ConfigError(f"--unfreeze-epoch must be at least 1, got {epoch}")
        self.epoch = epoch

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        encoder = pl_module.model.encoder
        frozen = not all(p.requires_grad for p in encoder.parameters())
        if trainer.current_epoch + 1 >= self.epoch and frozen:
            log.info("epoch %d: unfreezing the backbone", trainer.current_epoch + 1)
            encoder.requires_grad_(True)
            pl_module.model.train()  # its batch norm layers resume updating
