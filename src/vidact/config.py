"""Every default of vidact in one place: frozen dataclasses that the CLI fills and runs record.

``None`` means "use the component's own default" (for example the backbone's input size).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from vidact.sampling import ClipSampling


@dataclass(frozen=True)
class DataConfig:
    root: str = ""
    dataset: str = "folder"  # folder | ucf101 | hmdb51
    annotations: str | None = None  # the official split files (ucf101, hmdb51)
    fold: int = 1  # official split 1, 2 or 3
    skip_missing: bool = False  # go on when listed videos are missing (reporting them)
    split_file: str | None = None
    val_fraction: float = 0.15  # used when there is no split file, or it has no val rows
    test_fraction: float = 0.15  # used when there is no split file
    group_regex: str | None = None  # None: UCF101-style _gNN_ ids where present
    extensions: tuple[str, ...] = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v")
    frames: int = 8  # frames per clip (T)
    strategy: str = "segment"  # segment | uniform | stride | dense | window
    interval: int = 1  # frames between picks (stride, dense, window)
    window_stride: str | None = None  # window starts, frames ("16") or seconds ("0.5s")
    size: int | None = None  # crop size; None: the backbone's input size
    batch_size: int = 8
    workers: int | None = None  # None: the number of CPU cores
    augment: str = "light"  # none | light | seeds | strong; the fields below override it
    flip: bool | None = None
    rotation: float | None = None
    translate: float | None = None
    zoom: float | None = None
    color_jitter: float | None = None
    crop_scale: float | None = None
    max_bad_fraction: float = 0.05  # training stops when more videos than this are unreadable

    def sampling(self) -> ClipSampling:
        return ClipSampling(self.frames, self.strategy, self.interval, self.window_stride)

    def augmentation(self) -> dict[str, Any]:
        """The individual augmentation overrides, for ``transforms.resolve_augment``."""
        names = ("flip", "rotation", "translate", "zoom", "color_jitter", "crop_scale")
        return {name: getattr(self, name) for name in names}


@dataclass(frozen=True)
class ModelConfig:
    backbone: str = "tf_efficientnet_lite0"
    pretrained: bool | None = None  # None: offline ImageNet weights where the backbone has them
    weights: str | None = None  # a local state dict for backbones without offline weights
    head: str = "lstm"
    head_args: dict[str, Any] = field(default_factory=dict)  # e.g. {"hidden_size": 512}
    pool: str | None = None  # backbone global pooling, avg | max; None: the backbone's own
    mlp: tuple[int, ...] = (256,)  # hidden widths of the classifier; () for a single linear layer
    dropout: float = 0.3
    freeze: str | None = None  # all | none; None: all when starting from trained weights
    trainable_layers: int = 0  # with freeze=all: unfreeze the last N parameterised layers
    unfreeze_epoch: int | None = None  # unfreeze the whole backbone from this epoch (1-based)
    backbone_lr_mult: float = 1.0  # the backbone's learning rate relative to the head's


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    out: str = "runs/run"
    epochs: int = 30
    lr: float = 1e-3
    optimizer: str = "adam"  # adam | adamw | sgd
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: float = 0.0  # the seeds' L2 regularisation
    label_smoothing: float = 0.0
    scheduler: str = "plateau"  # plateau | cosine | none
    warmup_epochs: int = 0  # cosine only
    patience: int = 8  # early stopping on val_loss, in epochs
    plateau_patience: int = 3  # ReduceLROnPlateau on val_loss
    plateau_factor: float = 0.5
    grad_clip: float | None = None  # clip the gradient norm to this value
    accumulate: int = 1  # batches per optimiser step
    precision: str = "32-true"  # Lightning precision: 16-mixed, bf16-mixed on GPU
    seed: int = 0
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"  # Lightning strategy: ddp, ddp_spawn, fsdp, ...
    tensorboard: bool = True  # TensorBoard logs in RUN/tensorboard next to metrics.csv
    feature_cache: bool = True  # frozen backbone: train the head on cached frame features
    cache_dir: str | None = None  # features: here or ~/.cache/vidact; clips: only when given
    max_cached_frames: int = 64  # frames per video whose features are cached (evenly spread)
    progress: bool = True
    overwrite: bool = False

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        raw = dict(raw)
        data = from_mapping(DataConfig, raw.pop("data", {}))
        model = from_mapping(ModelConfig, raw.pop("model", {}))
        return from_mapping(cls, {**raw, "data": data, "model": model})


def from_mapping(cls: type, raw: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from a plain mapping (YAML, JSON), rejecting unknown keys."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        raise ValueError(f"unknown {cls.__name__} keys: {', '.join(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
    return cls(**values)


def _plain(value: Any) -> Any:
    """Tuples to lists and paths to strings, so the dict dumps cleanly to YAML and JSON."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def default_cache_dir() -> Path:
    return Path.home() / ".cache" / "vidact"


# command-line options whose config field has another name
_OPTION_FIELDS = {
    "data": ("data", "root"),
    "head_arg": ("model", "head_args"),
    "sampling": ("data", "strategy"),  # --strategy is Lightning's
}


def load_recipe(path: str | Path) -> dict[str, Any]:
    """A recipe file: a (partial) TrainConfig as YAML, sections ``data`` and ``model``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: recipe not found")
    raw = yaml.safe_load(path.read_text()) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: a recipe is a YAML mapping of settings")
    try:
        TrainConfig.from_dict(raw)  # reject unknown keys now, naming the file
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}") from None
    return raw


def merge_recipe(recipe: dict[str, Any], options: TrainConfig, explicit: set[str]) -> TrainConfig:
    """The recipe, with every option the user typed (``explicit``) taken from ``options``."""
    merged = {
        **recipe,
        "data": dict(recipe.get("data", {})),
        "model": dict(recipe.get("model", {})),
    }
    chosen = options.to_dict()
    sections = {
        "data": {f.name for f in fields(DataConfig)},
        "model": {f.name for f in fields(ModelConfig)},
    }
    top = {f.name for f in fields(TrainConfig)} - set(sections)
    for name in explicit:
        if name in _OPTION_FIELDS:
            section, key = _OPTION_FIELDS[name]
            merged[section][key] = chosen[section][key]
        elif name in sections["data"] or name in sections["model"]:
            section = "data" if name in sections["data"] else "model"
            merged[section][name] = chosen[section][name]
        elif name in top:
            merged[name] = chosen[name]
    config = TrainConfig.from_dict(merged)
    if not config.data.root:
        raise ValueError("the recipe sets no dataset: pass --data ROOT")
    return config
