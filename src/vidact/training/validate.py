"""Check a whole training configuration before anything is written or computed.

A typo in ``--optimizer`` must not surface after an hour of feature extraction, and a bad option
must not cost the run directory it would replace. ``check_config`` looks at every setting against
its registry or range (the head and its arguments are built on the meta device, so nothing is
allocated) and raises one ConfigError naming the setting and what it accepts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import get_args

import timm
import torch
from lightning.fabric.connector import _PRECISION_INPUT_STR
from lightning.pytorch.strategies import StrategyRegistry

from vidact.config import (
    DataConfig,
    ModelConfig,
    Rule,
    TrainConfig,
    check_rules,
    describe_settings,
)
from vidact.data.sources import DATASETS
from vidact.data.transforms import resolve_augment
from vidact.errors import ConfigError
from vidact.models.backbones import (
    FRAME_ENCODERS,
    OFFLINE_WEIGHTS,
    POOLS,
    encoder_names,
    encoder_traits,
    frame_span,
    has_trained_weights,
    unknown_backbone,
)
from vidact.models.classifier import frozen_throughout
from vidact.models.heads import HEADS, TemporalInput, create_head, resolve_model
from vidact.sampling import SAMPLERS, length_in_frames
from vidact.training.optim import OPTIMIZERS, SCHEDULERS, full_batch

PRECISIONS = tuple(get_args(_PRECISION_INPUT_STR))

# the choices that live in registries above config.py (its settings check their own ranges)
_DATA_CHOICES: list[Rule] = [("dataset", lambda v: v in DATASETS, f"one of {', '.join(DATASETS)}")]
_MODEL_CHOICES: list[Rule] = [
    ("pool", lambda v: v in (None, *POOLS), " or ".join(POOLS)),
    ("temporal_input", lambda v: v in TemporalInput.MODES, " or ".join(TemporalInput.MODES)),
]
_TRAIN_CHOICES: list[Rule] = [
    ("precision", lambda v: v in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
]


def check_config(config: TrainConfig) -> None:
    """Raise ConfigError for the first setting that cannot work; touch no file but inputs.
    A recipe with candidates: each candidate's settings, as each would train."""
    if not config.candidates:
        _check_settings(config)
        return
    for number, option in enumerate(config.candidate_configs(), start=1):
        try:
            _check_settings(option)
        except ConfigError as err:
            shown = describe_settings(config.candidates[number - 1])
            raise ConfigError(f"candidate {number} ({shown}): {err}") from None


def _check_settings(config: TrainConfig) -> None:
    check_rules(_DATA_CHOICES, config.data)
    check_rules(_MODEL_CHOICES, resolve_model(config.model))
    check_rules(_TRAIN_CHOICES, config)
    _check_data(config.data)
    _check_model(config.model)
    OPTIMIZERS.get(config.optimizer)
    SCHEDULERS.get(config.scheduler)
    _check_hardware(config)
    if config.feature_views > 1 and not (config.feature_cache and frozen_throughout(config.model)):
        raise ConfigError(
            "--feature-views caches augmented views of a frozen backbone's features; this run "
            "trains on pixels (a trainable backbone or --no-feature-cache), which are augmented "
            "anew every epoch already"
        )
    if config.model.encoder_precision == "int8" and not (
        config.feature_cache and frozen_throughout(config.model)
    ):
        raise ConfigError(
            "--encoder-precision int8 quantises a frozen encoder whose features are cached; "
            "this run trains the backbone or turns the feature cache off"
        )
    _check_full_batch(config)
    if config.model.head_args.get("nuisance") and not frozen_throughout(config.model):
        raise ConfigError(
            "--head-arg nuisance takes out directions fitted once from the frame features "
            "before training; this run trains the backbone, which moves them: freeze it "
            "(--freeze all) or leave nuisance out"
        )
    if frame_span(config.model.backbone) > 1 and not config.feature_cache and config.cache_dir:
        raise ConfigError(
            f"--backbone {config.model.backbone} reads frames around each sampled one, which "
            "the clip cache does not hold: leave --feature-cache on, or --cache-dir out"
        )


def _check_full_batch(config: TrainConfig) -> None:
    """What a full-batch fit (L-BFGS on fixed features) and only it can do: refit, and learn
    from augmented copies of its clips drawn once."""
    if config.optimizer == "lbfgs" and not frozen_throughout(config.model):
        raise ConfigError(
            "--optimizer lbfgs fits a head on fixed frame features (full batch, to convergence); "
            "this run trains the backbone: use adam, adamw or sgd"
        )
    if config.refit and not full_batch(config.optimizer):
        raise ConfigError(
            f"--refit fits the head again on training + validation videos, for the epochs a "
            f"full-batch fit takes to its optimum; --optimizer {config.optimizer} stops on "
            "validation, which a refit has no longer held out: use --optimizer lbfgs"
        )
    if config.augmented_copies and not full_batch(config.optimizer):
        raise ConfigError(
            "--augmented-copies adds augmented copies of the training videos to a full-batch "
            f"fit's one fixed batch; --optimizer {config.optimizer} draws new augmentation every "
            "epoch already: use --optimizer lbfgs, or --augmented-copies 0"
        )
    augments = any(t.feature_augment for t in encoder_traits(config.model.backbone).values())
    if config.augmented_copies and not augments:
        raise ConfigError(
            "--augmented-copies augments cached frame features, which pose encoders know how to "
            f"do; --backbone {config.model.backbone} has no feature-space augmentation: use "
            "--augmented-copies 0"
        )
    if config.augmented_copies and not config.feature_cache:
        raise ConfigError(
            "--augmented-copies augments cached frame features: leave --feature-cache on, or "
            "use --augmented-copies 0"
        )
    processes = training_processes(config)
    if full_batch(config.optimizer) and processes > 1:
        raise ConfigError(
            f"--optimizer {config.optimizer} fits the whole training set as one batch in one "
            f"process (its line search needs the whole loss); {processes} processes would each "
            "fit a share and wait on each other forever: use --devices 1 and --num-nodes 1, "
            "without torchrun or srun (the fit takes seconds on cached features)"
        )
    if config.feature_views > 1 and full_batch(config.optimizer):
        raise ConfigError(
            f"--optimizer {config.optimizer} fits one fixed batch of each video's plain view; "
            f"the {config.feature_views - 1} augmented view(s) --feature-views would cache are "
            "never read: use --feature-views 1 (pose encoders: --augmented-copies)"
        )


def _check_data(data: DataConfig) -> None:
    SAMPLERS.get(data.strategy)
    if data.window_stride is not None:
        length_in_frames(data.window_stride, 25.0, "--window-stride")
    data.sampling().indices(num_frames=100, fps=25.0)
    resolve_augment(data.augment, **data.augmentation())
    for name in ("split_file", "annotations"):
        value = getattr(data, name)
        if value is not None and not Path(value).exists():
            raise ConfigError(f"--{name.replace('_', '-')} {value}: not found")


def _check_model(model: ModelConfig) -> None:
    names = encoder_names(model.backbone)
    for name in names:
        if name in FRAME_ENCODERS:
            installed = FRAME_ENCODERS.traits(name).check_installed
            if installed is not None:
                installed()
            continue
        if not timm.is_model(name):
            raise unknown_backbone(name)
    fused = len(names) > 1
    if (fused or model.backbone in FRAME_ENCODERS) and (
        model.weights is not None
        or model.freeze == "none"
        or model.trainable_layers
        or model.unfreeze_epoch is not None
        or model.pretrained is False
    ):
        raise ConfigError(
            f"--backbone {model.backbone} is a frozen encoder: it takes no --weights, "
            "--no-pretrained, --freeze none, --trainable-layers or --unfreeze-epoch"
        )
    if fused and not has_trained_weights(model.backbone):
        raise ConfigError(
            f"--backbone {model.backbone}: every fused encoder needs offline weights "
            f"({', '.join([*OFFLINE_WEIGHTS, *FRAME_ENCODERS.names()])})"
        )
    if model.pretrained and model.weights is None and not has_trained_weights(model.backbone):
        raise ConfigError(
            f"--pretrained: no offline ImageNet weights for {model.backbone!r} (available: "
            f"{', '.join(OFFLINE_WEIGHTS)}); pass --weights FILE or --no-pretrained"
        )
    if model.weights is not None and not Path(model.weights).is_file():
        raise ConfigError(f"--weights {model.weights}: file not found")
    HEADS.get(model.head)
    with torch.device("meta"):  # arguments are checked by building the head, allocating nothing
        create_head(model.head, 64, **model.head_args)


def training_processes(config: TrainConfig) -> int:
    """How many training processes the settings ask for (``auto`` is one device), or the
    launcher (torchrun) started."""
    devices = str(config.devices).strip().rstrip(",")
    if devices == "-1":  # every device there is
        asked = torch.cuda.device_count() if config.accelerator != "cpu" else 1
    else:
        asked = int(devices) if devices.isdigit() else len(devices.split(","))
    return max(asked * config.num_nodes, int(os.environ.get("WORLD_SIZE", "1") or 1))


def check_in_process(config: TrainConfig, command: str) -> None:
    """``command`` (compare, crossval, demo) trains its runs one after another in this process: DDP
    would start copies of the whole command, each writing the same reports."""
    processes = training_processes(config)
    if processes > 1:
        raise ConfigError(
            f"vidact {command} trains its runs one after another in this process, on one device "
            f"each; {processes} processes (devices, num_nodes or torchrun) would each run the "
            "whole command: leave devices at auto, or train one run on several devices with "
            "vidact train"
        )


def _check_hardware(config: TrainConfig) -> None:
    if config.accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"--accelerator {config.accelerator}: PyTorch sees no CUDA GPU on this machine; "
            "use --accelerator cpu (or auto)"
        )
    devices = str(config.devices).strip()
    parts = [p.strip() for p in devices.rstrip(",").split(",")]
    if devices not in ("auto", "-1") and not all(p.isdigit() for p in parts):
        raise ConfigError(
            f"--devices must be a count (2), 'auto', -1 or device ids (0,1), got {devices!r}"
        )
    if devices.isdigit() and int(devices) < 1:
        raise ConfigError("--devices must be at least 1")
    known = ("auto", *StrategyRegistry.available_strategies())
    if config.strategy not in known:
        raise ConfigError(f"unknown --strategy {config.strategy!r}; known: {', '.join(known)}")
