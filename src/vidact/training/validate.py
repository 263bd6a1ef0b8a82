"""Check a whole training configuration before anything is written or computed.

A typo in ``--optimizer`` must not surface after an hour of feature extraction, and a bad option
must not cost the run directory it would replace. ``check_config`` looks at every setting against
its registry or range (the head and its arguments are built on the meta device, so nothing is
allocated) and raises one ConfigError naming the setting and what it accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, get_args

import timm
import torch
from lightning.fabric.connector import _PRECISION_INPUT_STR
from lightning.pytorch.strategies import StrategyRegistry

from vidact.config import (
    ENCODER_PRECISIONS,
    ENCODER_RUNTIMES,
    DataConfig,
    ModelConfig,
    TrainConfig,
)
from vidact.data.sources import DATASETS
from vidact.data.transforms import resolve_augment
from vidact.errors import ConfigError
from vidact.models.backbones import (
    FRAME_ENCODERS,
    OFFLINE_WEIGHTS,
    POOLS,
    encoder_names,
    has_trained_weights,
    reads_pairs,
    unknown_backbone,
)
from vidact.models.classifier import frozen_throughout
from vidact.models.heads import HEADS, TemporalInput, create_head, resolve_model
from vidact.models.pose import check_available as check_pose_available
from vidact.sampling import SAMPLERS, length_in_frames
from vidact.training.optim import OPTIMIZERS, SCHEDULERS

ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
PRECISIONS = tuple(get_args(_PRECISION_INPUT_STR))
FREEZE = (None, "all", "none")

Rule = tuple[str, Callable[[Any], bool], str]


def _positive(value: Any) -> bool:
    return value > 0


def _at_least(low: float) -> Callable[[Any], bool]:
    return lambda value: value >= low


def _fraction(value: Any) -> bool:
    return 0 <= value < 1


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


_DATA_RULES: list[Rule] = [
    ("frames", _positive, "at least 1"),
    ("interval", _positive, "at least 1"),
    ("size", _optional(_at_least(16)), "at least 16 pixels (or unset: the backbone's size)"),
    ("batch_size", _positive, "at least 1"),
    ("workers", _optional(_at_least(0)), "0 or more"),
    ("val_fraction", _fraction, "in [0, 1)"),
    ("test_fraction", _fraction, "in [0, 1)"),
    ("max_bad_fraction", lambda v: 0 <= v <= 1, "in [0, 1]"),
    ("fold", lambda v: v in (1, 2, 3), "1, 2 or 3"),
    ("dataset", lambda v: v in DATASETS, f"one of {', '.join(DATASETS)}"),
    ("extensions", bool, "at least one file suffix, e.g. .mp4,.avi"),
]
_MODEL_RULES: list[Rule] = [
    ("pool", lambda v: v in (None, *POOLS), " or ".join(POOLS)),
    ("temporal_input", lambda v: v in TemporalInput.MODES, " or ".join(TemporalInput.MODES)),
    ("appearance_dropout", _fraction, "in [0, 1)"),
    ("freeze", lambda v: v in FREEZE, "all or none"),
    ("mlp", lambda v: all(width >= 1 for width in v), "positive widths, e.g. 512,128"),
    ("dropout", _fraction, "in [0, 1)"),
    ("trainable_layers", _at_least(0), "0 or more"),
    ("unfreeze_epoch", _optional(_positive), "at least 1"),
    ("backbone_lr_mult", _at_least(0), "0 or more"),
    ("encoder_precision", lambda v: v in ENCODER_PRECISIONS, " or ".join(ENCODER_PRECISIONS)),
]
_TRAIN_RULES: list[Rule] = [
    ("epochs", _positive, "at least 1"),
    ("lr", _positive, "above 0"),
    ("momentum", _at_least(0), "0 or more"),
    ("weight_decay", _at_least(0), "0 or more"),
    ("weight_decay_scope", lambda v: v in ("all", "classifier"), "all or classifier"),
    ("lr_decay", _at_least(0), "0 or more"),
    ("label_smoothing", _fraction, "in [0, 1)"),
    ("warmup_epochs", _at_least(0), "0 or more"),
    ("patience", _at_least(0), "0 or more"),
    ("plateau_patience", _at_least(0), "0 or more"),
    ("plateau_factor", lambda v: 0 < v < 1, "in (0, 1)"),
    ("grad_clip", _optional(_positive), "above 0"),
    ("accumulate", _positive, "at least 1"),
    ("precision", lambda v: v in PRECISIONS, f"one of {', '.join(PRECISIONS)}"),
    ("seed", lambda v: 0 <= v < 2**32, "in [0, 2^32)"),
    ("accelerator", lambda v: v in ACCELERATORS, f"one of {', '.join(ACCELERATORS)}"),
    ("num_nodes", _positive, "at least 1"),
    ("max_cached_frames", _optional(_positive), "at least 1"),
    ("feature_views", _positive, "at least 1"),
    ("encoder_runtime", lambda v: v in ENCODER_RUNTIMES, f"one of {', '.join(ENCODER_RUNTIMES)}"),
]


def _apply(rules: list[Rule], settings: object) -> None:
    for name, check, wanted in rules:
        value = getattr(settings, name)
        if not check(value):
            raise ConfigError(f"--{name.replace('_', '-')} must be {wanted}, got {value!r}")


def check_config(config: TrainConfig) -> None:
    """Raise ConfigError for the first setting that cannot work; touch no file but inputs."""
    _apply(_DATA_RULES, config.data)
    _apply(_MODEL_RULES, resolve_model(config.model))
    _apply(_TRAIN_RULES, config)
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
    if config.optimizer == "lbfgs" and not frozen_throughout(config.model):
        raise ConfigError(
            "--optimizer lbfgs fits a head on fixed frame features (full batch, to convergence); "
            "this run trains the backbone: use adam, adamw or sgd"
        )
    if reads_pairs(config.model.backbone) and not config.feature_cache and config.cache_dir:
        raise ConfigError(
            f"--backbone {config.model.backbone} reads frame pairs, which the clip cache does not "
            "hold: leave --feature-cache on, or --cache-dir out"
        )


def _check_data(data: DataConfig) -> None:
    if data.val_fraction + data.test_fraction >= 1:
        raise ConfigError(
            f"--val-fraction {data.val_fraction} and --test-fraction {data.test_fraction} "
            "leave nothing to train on"
        )
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
            if name == "pose":
                check_pose_available()
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
