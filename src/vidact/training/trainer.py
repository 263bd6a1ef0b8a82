"""``train(config)`` and ``resume(run)``: training runs and their directory (contract 2).

RUN/config.yaml      the resolved configuration, as the run was started (never rewritten)
RUN/resumed.yaml     settings changed when resuming (--epochs, --workers, devices), if any
RUN/split.csv        the split actually used (path,split; feed it back with --split-file)
RUN/groups.csv       each video's group, when groups are known (path,group; --groups reads it)
RUN/checkpoints/     best.ckpt (lowest val_loss) and last.ckpt, self-describing
RUN/metrics.csv      one row per epoch: train/val loss and accuracy, lr, seconds
RUN/curves.png       loss and accuracy curves
RUN/summary.json     best epoch, best validation figures, wall time, parameter counts
RUN/candidates.json  a recipe with candidates: each one's validation figures, and the one kept
RUN/tensorboard/     the same curves for TensorBoard

Everything is checked (settings, dataset, split, model) before the run directory is touched;
the directory is locked while a process writes it (``training.rundir``). Under DDP every process
runs ``train``; only global rank 0 writes the run directory.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import Callback, EarlyStopping
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.rank_zero import rank_zero_only

from vidact.config import (
    TrainConfig,
    default_cache_dir,
    describe_settings,
    merge,
    nest_options,
)
from vidact.data.bodies import share_in_view
from vidact.data.cache import ArrayCache
from vidact.data.datamodule import VideoDataModule
from vidact.data.datasets import default_workers
from vidact.data.index import VideoIndex, deal_groups
from vidact.data.sources import build_index
from vidact.data.transforms import AUGMENT_PRESETS, Augment, PersonSquare, resolve_augment
from vidact.errors import CheckpointError, ConfigError, DatasetError, RunError
from vidact.io.shots import share_with_jumps
from vidact.models.backbones import encoder_names, frame_span, weight_source
from vidact.models.checkpoint import read_checkpoint
from vidact.models.classifier import frozen_throughout, uses_pretrained
from vidact.models.encoder_runtime import install_int8, quantise_encoder, use_encoder_runtime
from vidact.models.heads import resolve_model
from vidact.models.open_set import FIT_VIDEOS, OPEN_SET_KEY, OpenSet
from vidact.models.view_cache import ViewFeatureCache
from vidact.plots import plot_curves
from vidact.progress import on_terminal
from vidact.sampling import ClipSampling
from vidact.training.callbacks import (
    EpochRecorder,
    RunCheckpoint,
    UnfreezeBackbone,
    UnreadableVideos,
)
from vidact.training.features import (
    FeatureExtractor,
    FeatureStore,
    FeatureView,
    SharedViews,
    calibration_frames,
    feature_augmenter,
)
from vidact.training.module import ClipClassifierModule, FeatureJob
from vidact.training.optim import full_batch
from vidact.training.rundir import RunDirectory
from vidact.training.validate import check_config, training_processes

log = logging.getLogger(__name__)

CANDIDATES_FILE = "candidates.json"
# folds of the training groups that compare a recipe's candidates: each group validates once,
# for 3 fits per candidate, where one validation split is a person or two (docs/measurements.md,
# "Choosing the frame fit")
CHOICE_FOLDS = 3
# share of the training videos showing one person steadily in view from which ``choose:
# person_in_view`` keeps the person's square: 0.96-1.00 in the runs on rendered gestures,
# 0.27-0.33 in those on fight-dev
IN_VIEW = 0.75
# what --resume may change: how long and where the run goes on, never what it trains
RESUMABLE = ("epochs", "workers", "progress", "accelerator", "devices", "num_nodes", "strategy")


@dataclass(frozen=True)
class TrainResult:
    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    summary: dict[str, Any]


@dataclass
class RunPlan:
    """A configuration that passed every check, with what checking it built."""

    config: TrainConfig
    index: VideoIndex
    augment: Augment
    module: ClipClassifierModule


def is_main_process() -> bool:
    """Global rank 0 (always true without DDP): the process that writes and prints."""
    return rank_zero_only.rank == 0


def plan(config: TrainConfig) -> RunPlan:
    """Check everything a run needs (settings, dataset and split, model and weights) and build
    it, writing nothing: a failure here leaves every file as it was. The plan's config says
    what each default resolved to (``resolve_model``): config.yaml records that."""
    check_config(config)
    config = replace(config, model=resolve_model(config.model))
    index = build_index(config.data, config.seed)
    _check_split(index, config)
    augment = resolve_augment(config.data.augment, **config.data.augmentation())
    L.seed_everything(config.seed, workers=True, verbose=False)  # model initialisation repeats
    return RunPlan(config, index, augment, ClipClassifierModule(config, index.classes))


def _check_split(index: VideoIndex, config: TrainConfig) -> None:
    if not index.subset("train"):
        raise DatasetError(f"{index.root}: the split leaves no training videos")
    if index.subset("val"):
        report = index.validation_report()
        if report["groups_shared_with_train"]:
            shared = report["groups_shared_with_train"]
            log.warning(
                "validation shares %d group(s) with training (%s): its scores will look better "
                "than on new people or scenes, and best.ckpt is chosen on them. Carve validation "
                "by group instead (leave val rows out of the split file; --val-fraction)",
                len(shared),
                ", ".join(shared[:5]),
            )
        return
    fraction = config.data.val_fraction
    if fraction <= 0:
        raise DatasetError("the split has no validation videos: set --val-fraction above 0")
    train = index.subset("train")
    groups = {item.group for item in train}
    raise DatasetError(
        f"no group of videos fits a --val-fraction {fraction} validation share: the "
        f"{len(train)} training videos come in {len(groups)} group(s), each too large for it. "
        "Raise --val-fraction, give finer groups (--group-regex), or a --split-file with val rows"
    )


def _run_directory(path: Path, overwrite: bool = False, resume: bool = False) -> Any:
    """The run directory, held by the process that writes it (a no-op on other DDP ranks)."""
    if is_main_process():
        return RunDirectory(path, overwrite=overwrite, resume=resume)
    return contextlib.nullcontext()


def train(config: TrainConfig) -> TrainResult:
    """Train a clip classifier as ``config`` says and write the run directory. A recipe with
    candidates compares them first (``_choose``) and trains the one kept (config.yaml records
    its settings, candidates.json the comparison)."""
    plans = _plan_candidates(config)
    with _run_directory(Path(config.out), overwrite=config.overwrite) as directory:
        run_dir = Path(config.out)
        run, compared = (plans[0], None) if len(plans) == 1 else _choose(config, plans)
        if is_main_process():
            run.index.write_split_csv(run_dir / "split.csv")
            if run.index.groups_known:  # evaluating the run's split draws intervals over them
                run.index.write_split_csv(run_dir / "groups.csv", "group")
            stored = replace(run.config, candidates=config.candidates)
            (run_dir / "config.yaml").write_text(yaml.safe_dump(stored.to_dict(), sort_keys=False))
            if compared is not None:
                (run_dir / CANDIDATES_FILE).write_text(json.dumps(compared, indent=2))
        return _fit(run, run_dir, checkpoint=None, directory=directory)


def _plan_candidates(config: TrainConfig) -> list[RunPlan]:
    """A plan per candidate (or the one), every one checked before anything is written; they
    must share the split, since they are compared on its validation videos."""
    plans = [plan(option) for option in config.candidate_configs()]
    if len(plans) > 1:
        processes = training_processes(config)
        if processes > 1:
            raise ConfigError(
                f"a recipe's candidates are compared in one process, not {processes} (devices, "
                "num_nodes or torchrun): give the setting on the command line (--frame-fit pad "
                "--size 288, say), which leaves the candidates out"
            )
        splits = [run.index.split_csv() for run in plans]
        if any(split != splits[0] for split in splits[1:]):
            raise ConfigError(
                "the candidates split the videos differently (a split setting among them?): "
                "they are compared on the same validation videos, so leave the split out of them"
            )
    return plans


def _choose(config: TrainConfig, plans: list[RunPlan]) -> tuple[RunPlan, dict[str, Any]]:
    """A fresh plan of the candidate ``config.choose`` keeps, with what decided it."""
    if config.choose == "person_in_view":
        return _choose_by_view(config, plans)
    return _choose_by_validation(config, plans)


def _choose_by_view(config: TrainConfig, plans: list[RunPlan]) -> tuple[RunPlan, dict[str, Any]]:
    """The first candidate, the person's square, when one person is steadily in view in
    ``IN_VIEW`` of the training and validation videos (the square's own test, over its looks);
    else the second, the whole scene. The square wins with one person in view and loses on
    scenes of several people; validating each on folds of two or three people kept the other
    kind's in 6 of 51 folds, while the share tells the two kinds of dataset apart without
    training (docs/measurements.md, "Choosing by who is in view")."""
    index = plans[0].index
    videos = [item.path for item in index.subset("train") + index.subset("val")]
    spec = plans[0].module.spec
    share = share_in_view(videos, PersonSquare.LOOKS, spec.fitted("person").short_side)
    kept = 0 if share >= IN_VIEW else 1
    shown = [describe_settings(candidate) for candidate in config.candidates]
    log.info(
        "one person steadily in view in %.0f%% of the %d training and validation videos: "
        "kept candidate %d (%s)",
        100 * share, len(videos), kept + 1, shown[kept],
    )  # fmt: skip
    tried = [{"settings": c, "shown": s} for c, s in zip(config.candidates, shown, strict=True)]
    figures = {"rule": config.choose, "in_view": share, "videos": len(videos)}
    return plan(plans[kept].config), {"kept": kept + 1, **figures, "candidates": tried}


def _choose_by_validation(
    config: TrainConfig, plans: list[RunPlan]
) -> tuple[RunPlan, dict[str, Any]]:
    """Compare the candidates by cross-validation on the training and validation groups (each
    trains, without refit, on all folds but one and validates on that one, in a scratch folder)
    and return a fresh plan of the one with the lowest pooled validation loss, with the figures.
    One validation split would hold one or two people or sources: too few to choose by."""
    splits = choice_splits(plans[0].index, config.seed)
    tried, losses = [], []  # losses: each candidate's per-video validation losses, all folds
    with tempfile.TemporaryDirectory(prefix="vidact-candidates-") as scratch:
        for number, (candidate, each) in enumerate(zip(config.candidates, plans, strict=True), 1):
            shown = describe_settings(candidate)
            log.info(
                "candidate %d/%d (%s): %d training runs, each validating on other groups",
                number, len(plans), shown, len(splits),
            )  # fmt: skip
            folds, hits = [], 0.0
            for fold, index in enumerate(splits, start=1):
                folder = Path(scratch) / f"{number}-{fold}"
                folder.mkdir()
                trial = replace(each.config, out=str(folder), refit=False, tensorboard=False)
                fresh = replace(plan(trial), index=index)  # a new model, seeded, per trial
                summary = _fit(fresh, folder, None, None).summary
                folds.append(fresh.module.val_video_losses[summary["best_epoch"]])
                hits += summary["best_val_acc"] * len(folds[-1])
            losses.append(torch.cat(folds))
            tried.append(
                {
                    "settings": candidate,
                    "shown": shown,
                    "val_loss": float(losses[-1].mean()),
                    "val_acc": hits / len(losses[-1]),
                    "folds": len(splits),
                }
            )
    kept = _keep(tried, losses)
    return plan(plans[kept].config), {"kept": kept + 1, "rule": config.choose, "candidates": tried}


def _keep(tried: list[dict[str, Any]], losses: list[torch.Tensor]) -> int:
    """The candidate with the lowest pooled validation loss (the first of equals). Each other
    one's entry gets ``difference_se``, the standard error of its per-video loss difference to
    the kept one, to tell a close call from a clear one (None where they validated on
    different videos: one read a video the other could not), and a close call is said."""
    kept = min(range(len(tried)), key=lambda i: tried[i]["val_loss"])
    log.info(
        "kept candidate %d (%s): validation loss %s",
        kept + 1,
        tried[kept].get("shown"),
        " against ".join(f"{t['val_loss']:.4f}" for t in tried),
    )
    for number, (entry, other) in enumerate(zip(tried, losses, strict=True), 1):
        if number == kept + 1:
            continue
        paired = len(other) == len(losses[kept]) > 1
        error = float((other - losses[kept]).std() / math.sqrt(len(other))) if paired else None
        entry["difference_se"] = error
        if error is not None and entry["val_loss"] - tried[kept]["val_loss"] <= error:
            log.warning(
                "candidate %d (%s) validated within one standard error (%.4f) of the one kept: "
                "these groups cannot tell the two apart; if you know which suits your videos, "
                "give that setting on the command line",
                number, entry.get("shown"), error,
            )  # fmt: skip
    return kept


def choice_splits(index: VideoIndex, seed: int) -> list[VideoIndex]:
    """The splits candidates are compared on: the training and validation videos dealt into
    up to ``CHOICE_FOLDS`` folds of whole groups, each fold validating once while the others
    train (the test videos untouched); the split as given when there are too few groups."""
    learning = index.subset("train") + index.subset("val")
    fold_of = deal_groups(learning, CHOICE_FOLDS, len(index.classes), seed)
    splits = []
    for fold in sorted(set(fold_of.values())):
        moved = {
            item.relpath: replace(item, split="val" if fold_of[item.group] == fold else "train")
            for item in learning
        }
        splits.append(replace(index, items=tuple(moved.get(i.relpath, i) for i in index.items)))
    return splits if len(splits) > 1 else [index]


def resume(run: str | Path, options: dict[str, Any] | None = None) -> TrainResult:
    """Continue an interrupted run from RUN/checkpoints/last.ckpt, wherever RUN now lives: same
    configuration and split; optimiser, scheduler, callbacks and random generators restored.
    ``options`` (None = not given) may change only ``RESUMABLE`` settings, e.g. raise epochs."""
    run_dir = Path(run)
    config_file, last = run_dir / "config.yaml", run_dir / "checkpoints" / "last.ckpt"
    if not config_file.is_file() or not last.is_file():
        raise RunError(
            f"{run_dir}: nothing to resume (needs config.yaml and checkpoints/last.ckpt)"
        )
    changes = {name: value for name, value in (options or {}).items() if value is not None}
    refused = sorted(set(changes) - set(RESUMABLE))
    if refused:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in refused)
        raise ConfigError(
            f"--resume continues {run_dir} as it was configured and cannot change {flags}; "
            f"to train differently, start a new run: --config {config_file} ... --out NEW_RUN"
        )
    try:
        original = yaml.safe_load(config_file.read_text())
        resumed_file = run_dir / "resumed.yaml"
        earlier = yaml.safe_load(resumed_file.read_text()) if resumed_file.is_file() else {}
    except yaml.YAMLError as err:
        raise RunError(f"{run_dir}: config.yaml or resumed.yaml is damaged ({err})") from None
    settings = {**(earlier or {}), **changes}
    config = TrainConfig.from_dict(
        merge(original, nest_options({**settings, "out": str(run_dir), "overwrite": False}))
    )
    done = _epochs_done(last)
    if config.epochs < done:
        raise ConfigError(
            f"{run_dir} has trained {done} epochs already; --epochs {config.epochs} would undo "
            f"them (pass more than {done} to train further)"
        )
    run_plan = plan(config)
    if run_plan.index.split_csv() != (run_dir / "split.csv").read_text():
        raise DatasetError(
            f"{run_dir}: the dataset no longer gives the split in split.csv (videos added or "
            "removed?); resuming would mix splits"
        )
    with _run_directory(run_dir, resume=True) as directory:
        held_out = run_dir / "checkpoints" / "held_out.ckpt"
        if held_out.is_file() and is_main_process():
            # a refit run: its epochs go on choosing against the held-out model, not the refit
            os.replace(held_out, held_out.with_name("best.ckpt"))
        if changes and is_main_process():
            resumed_file.write_text(yaml.safe_dump(settings, sort_keys=False))
            shown = ", ".join(f"{name}={value}" for name, value in changes.items())
            log.info("resuming %s after epoch %d with %s", run_dir, done, shown)
        return _fit(run_plan, run_dir, checkpoint=last, directory=directory, done=done)


def _epochs_done(checkpoint: Path) -> int:
    """Epochs a Lightning checkpoint completed (it stores the 0-based epoch it was saved in)."""
    try:
        # mmap: only the small "epoch" entry is read, not the weights Lightning loads later
        state = torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=True)
        return int(state["epoch"]) + 1
    except Exception as err:  # torch raises many types for a damaged file
        raise CheckpointError(
            f"{checkpoint}: cannot be read (truncated or damaged: {str(err).splitlines()[0]}); "
            "the run cannot resume from it"
        ) from None


def _parse_devices(devices: str | int) -> int | str:
    """Lightning's ``devices``. ``auto`` is one device (a GPU when there is one), not
    Lightning's every GPU: DDP starts copies of the whole command, which only ``vidact train``
    is written for (``demo``, ``compare`` and ``crossval`` train run after run in one process),
    and a frozen encoder's cached features train in seconds on one device."""
    text = str(devices)
    if text == "auto":
        return 1
    return int(text) if text.lstrip("-").isdigit() else text


@dataclass
class _Inputs:
    """What the run's batches come from: the feature extractors of a frozen encoder (one per
    cached view) or a clip cache of decoded pixels, or neither (decode every epoch)."""

    extractors: list[FeatureExtractor]
    clip_cache: ArrayCache | None
    cached_frames: int  # frames per video a cache keeps

    @property
    def stores(self) -> list[FeatureStore]:
        return [extractor.store for extractor in self.extractors]


def _fit(
    run: RunPlan,
    run_dir: Path,
    checkpoint: Path | None,
    directory: RunDirectory | None,
    done: int = 0,
) -> TrainResult:
    """Train ``run`` into ``run_dir``; resuming, from ``checkpoint`` after ``done`` epochs."""
    started = time.perf_counter()
    config = run.config
    sampling = config.data.sampling(frame_span(config.model.backbone))
    # a full-batch fit (L-BFGS) minimises one fixed objective: every training video at its
    # evaluation positions, unaugmented, in one batch
    fixed = full_batch(config.optimizer)
    cached_frames = config.max_cached_frames or sampling.frames_to_cache(jitter=not fixed)
    inputs = _inputs(run, cached_frames, sampling if fixed else None)
    datamodule = _datamodule(run, sampling, inputs, fixed, done)
    if datamodule.augmented_copies:
        log.info(
            "full-batch fit on %d training videos and %d augmented copies of each",
            len(run.index.subset("train")),
            datamodule.augmented_copies,
        )
    recorder = EpochRecorder(
        run_dir / "metrics.csv", done_epochs=done, log_epochs=config.progress and not on_terminal()
    )
    validation = [str(item.path) for item in run.index.subset("val")]
    monitor = UnreadableVideos(
        config.data.max_bad_fraction,
        len(run.index.subset("train")) + len(validation),
        validation,
    )
    callbacks: list[Callback] = [
        RunCheckpoint(run_dir / "checkpoints", directory.commit if directory else None),
        monitor,  # before early stopping, which fails without validation's loss
        EarlyStopping("val_loss", patience=config.patience),
        recorder,
    ]
    if config.model.unfreeze_epoch is not None:
        callbacks.append(UnfreezeBackbone(config.model.unfreeze_epoch))
    trainer = _lightning_trainer(config, run_dir, callbacks)
    # whether a jump between frames is part of what the model learned (timelines, --cuts auto)
    run.module.jumps = share_with_jumps([item.path for item in run.index.subset("train")])
    trainer.fit(run.module, datamodule=datamodule, ckpt_path=checkpoint, weights_only=True)
    summary = _summary(run, recorder.rows, inputs, sorted(monitor.seen))
    if config.refit:
        summary["refit"] = _refit(run, run_dir, inputs, sampling, summary["best_epoch"])
    if (run_dir / CANDIDATES_FILE).is_file():  # (also when resumed)
        summary["candidates"] = json.loads((run_dir / CANDIDATES_FILE).read_text())
    summary.update(
        wall_seconds=round(time.perf_counter() - started, 2),
        resumed_from_epoch=done if checkpoint else None,
    )
    if trainer.is_global_zero:
        plot_curves(recorder.rows, run_dir / "curves.png")
        (run_dir / "summary.json").write_text(json.dumps(summary, indent=2))
    return TrainResult(
        run_dir,
        run_dir / "checkpoints" / "best.ckpt",
        run_dir / "checkpoints" / "last.ckpt",
        summary,
    )


def _refit(
    run: RunPlan, run_dir: Path, inputs: _Inputs, sampling: ClipSampling, epochs: int
) -> dict[str, Any]:
    """Fit a fresh model on the training and validation videos together, for the epochs of
    the one chosen, and make it best.ckpt (the chosen one stays as held_out.ckpt): with a few
    people or cameras, the one validation held out is a share of what there is to learn from.
    The open-set distance keeps the threshold calibrated while validation was held out; the figures
    in summary.json are the held-out model's."""
    config, index = run.config, run.index
    validation = index.subset("val")
    both = replace(index, items=(*index.items, *(replace(i, split="train") for i in validation)))
    log.info(
        "refitting on %d training + %d validation videos for %d epoch(s)",
        len(index.subset("train")),
        len(validation),
        epochs,
    )
    L.seed_everything(config.seed, workers=True, verbose=False)
    module = ClipClassifierModule(config, index.classes)
    module.jumps, module.quantised = run.module.jumps, run.module.quantised
    datamodule = _datamodule(replace(run, index=both, module=module), sampling, inputs, True, 0)
    quiet = replace(config, epochs=epochs, tensorboard=False)
    trainer = _lightning_trainer(quiet, run_dir, [], checkpoints=False)
    trainer.fit(module, datamodule=datamodule)
    # validation was trained on now: its clips sit closer than new ones, so the thresholds
    # calibrated on it while it was held out are kept (a distance counts in whitened units),
    # unless the refit calibrated on its groups left out in turn (validation's among them)
    checkpoints = run_dir / "checkpoints"
    held_out = read_checkpoint(checkpoints / "best.ckpt")
    stored = held_out.get(OPEN_SET_KEY)
    if module.open_set is not None and module.group_threshold is None:
        if stored is None:
            module.open_set = None
        else:
            threshold = OpenSet.from_dict(stored, len(index.classes)).threshold
            module.open_set = replace(module.open_set, threshold=threshold)
    trainer.strategy.barrier("vidact_refit")
    if trainer.is_global_zero:
        os.replace(checkpoints / "best.ckpt", checkpoints / "held_out.ckpt")
    partial = checkpoints / "best.ckpt.partial"  # a kill while saving leaves held_out.ckpt
    trainer.save_checkpoint(partial)
    if trainer.is_global_zero:
        os.replace(partial, checkpoints / "best.ckpt")
    trainer.strategy.barrier("vidact_refit_saved")
    return {"videos": len(index.subset("train")) + len(validation), "epochs": epochs}


def _inputs(run: RunPlan, cached_frames: int, fixed: ClipSampling | None = None) -> _Inputs:
    """A frozen encoder's feature caches (int8 calibration and the encoder runtime chosen first,
    since they decide the features) and the job that fills them, or a clip cache, or neither.
    ``fixed``: a full-batch fit's sampling, whose evaluation views it shares (``SharedViews``)."""
    config, module, spec = run.config, run.module, run.module.spec
    if not (config.feature_cache and frozen_throughout(config.model)):
        clip_cache = None
        if config.cache_dir is not None:
            settings = {"short_side": spec.short_side, "cached_frames": cached_frames}
            clip_cache = ArrayCache(config.cache_dir, "clips", settings)
        return _Inputs([], clip_cache, cached_frames)
    model, data = config.model, config.data
    sources = [
        weight_source(name, uses_pretrained(model), model.weights)
        for name in encoder_names(model.backbone)
    ]
    device = "cuda" if torch.cuda.is_available() and config.accelerator != "cpu" else "cpu"
    if model.encoder_precision == "int8":  # calibrated on the training frames, kept
        frames = calibration_frames(
            run.index.subset("train"), spec, frame_span(model.backbone), data.allow_images
        )
        module.quantised = quantise_encoder(module.model, spec.size, frames)
        install_int8(module.model, module.quantised)
    runtime = use_encoder_runtime(module.model, config.encoder_runtime, spec.size, device)
    log.info("frame encoder: %s, frozen, run by %s", model.backbone, runtime)
    # view 0: the evaluation transform (validation reads it); views 1..K-1: augmented
    views = [None] + [
        FeatureView(i, run.augment, config.seed) for i in range(1, config.feature_views)
    ]
    encoder = module.model.encoder
    root = config.cache_dir or default_cache_dir()
    shared, info = None, module.info()
    single = len(encoder.members) == 1  # a fusion caches each member apart
    if fixed is not None and single and ViewFeatureCache.applies(module.model, info):
        shared = SharedViews(ViewFeatureCache(root, module.model, info, 1, 1), fixed, cached_frames)
    extractors = [
        FeatureExtractor(
            encoder,
            FeatureStore(root, encoder, sources, spec, cached_frames, view),
            spec,
            cached_frames,
            data.allow_images,
            view,
            shared if view is None else None,
        )
        for view in views
    ]
    workers = default_workers() if data.workers is None else data.workers
    videos = run.index.subset("train") + run.index.subset("val")
    module.feature_job = FeatureJob(videos, extractors, workers, device)
    return _Inputs(extractors, None, cached_frames)


def _datamodule(
    run: RunPlan, sampling: ClipSampling, inputs: _Inputs, fixed: bool, done: int
) -> VideoDataModule:
    data, stores = run.config.data, inputs.stores
    copies = run.config.augmented_copies if stores and fixed else 0
    return VideoDataModule(
        run.index,
        run.module.spec,
        sampling,
        batch_size=(
            max(data.batch_size, len(run.index.items) * (1 + copies)) if fixed else data.batch_size
        ),
        workers=data.workers,
        augment=AUGMENT_PRESETS.get("none") if fixed else run.augment,
        feature_cache=stores or None,
        clip_cache=inputs.clip_cache,
        cached_frames=inputs.cached_frames,
        seed=run.config.seed,
        allow_images=data.allow_images,
        rebuild_features=[extractor.rebuild for extractor in inputs.extractors] or None,
        start_epoch=done,
        feature_augment=(
            feature_augmenter(run.module.model.encoder)
            if stores and (copies or not fixed)
            else None
        ),
        jitter=not fixed,
        open_set_videos=FIT_VIDEOS,
        augmented_copies=copies,
    )


def _lightning_trainer(
    config: TrainConfig, run_dir: Path, callbacks: list[Callback], checkpoints: bool = True
) -> L.Trainer:
    logger = TensorBoardLogger(run_dir, name="tensorboard", version="")
    return L.Trainer(
        max_epochs=config.epochs,
        accelerator=config.accelerator,
        devices=_parse_devices(config.devices),
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=config.precision,
        accumulate_grad_batches=config.accumulate,
        gradient_clip_val=config.grad_clip,
        logger=logger if config.tensorboard else False,
        callbacks=callbacks,
        enable_progress_bar=config.progress and on_terminal(),
        enable_model_summary=False,
        enable_checkpointing=checkpoints,
        num_sanity_val_steps=0,
        deterministic="warn",
        log_every_n_steps=1,
        use_distributed_sampler=False,  # the datamodule's samplers shard and order (data.sampler)
    )


def _summary(
    run: RunPlan, rows: list[dict[str, float]], inputs: _Inputs, unreadable: list[str]
) -> dict[str, Any]:
    """summary.json's figures of a finished run (contract 2)."""
    config, index, model = run.config, run.index, run.module.model
    best = min(rows, key=lambda row: row["val_loss"])
    stores = inputs.stores
    return {
        "best_epoch": int(best["epoch"]),
        "best_val_loss": best["val_loss"],
        "best_val_acc": best["val_acc"],
        "epochs": config.epochs,
        "epochs_run": len(rows),
        "stopped_early": len(rows) < config.epochs,
        "parameters": sum(p.numel() for p in model.parameters()),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "feature_cache": stores[0].description if stores else None,
        "feature_views": len(stores),
        "cached_frames": inputs.cached_frames if stores or inputs.clip_cache else None,
        "clip_cache": str(inputs.clip_cache.dir) if inputs.clip_cache else None,
        "unreadable_videos": unreadable,
        "classes": list(index.classes),
        "num_videos": {split: len(index.subset(split)) for split in ("train", "val", "test")},
        "validation": index.validation_report(),
    }
