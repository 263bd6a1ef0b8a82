"""Every default of vidact in one place: frozen dataclasses that the CLI fills and runs record.

``None`` means "use the component's own default" (for example the backbone's input size).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import types
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

import yaml

from vidact.errors import ConfigError, quote
from vidact.sampling import ClipSampling

# the video files vidact looks for in a folder (dataset layouts, corpus tagging)
# what cameras and recorders write too: camcorders .mts / .m2ts, DVR exports and streams .ts,
# phones .3gp, Windows .wmv, Flash .flv (PyAV decodes them all)
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v", ".mts",
                    ".m2ts", ".ts", ".3gp", ".wmv", ".flv")  # fmt: skip
# where a frozen frame encoder runs (models.encoder_runtime): auto picks onnx where it can
ENCODER_RUNTIMES = ("auto", "torch", "onnx")
ENCODER_PRECISIONS = ("fp32", "int8")
ACCELERATORS = ("auto", "cpu", "gpu", "cuda", "mps", "tpu")
FREEZE = (None, "all", "none")
# how a decoded frame becomes the encoder's square (data.transforms): its centre, or all of it
# padded; None: the encoder's own (pose pads, image backbones crop)
FRAME_FITS = (None, "crop", "pad", "person")
CLASS_WEIGHTS = ("none", "balanced")  # the training loss's weight per class (TrainConfig)
# how a recipe's candidates are chosen between (training.trainer._choose)
CHOICE_RULES = ("validation", "person_in_view")

# (setting, check, what it accepts): ranges and fixed choices, which each settings class checks
# when made; choices that live in registries (heads, samplers, optimisers) are checked against
# them by training.validate.check_config
Rule = tuple[str, Callable[[Any], bool], str]


def _positive(value: Any) -> bool:
    return value > 0


def _at_least(low: float) -> Callable[[Any], bool]:
    return lambda value: value >= low


def _fraction(value: Any) -> bool:
    return 0 <= value < 1


def _optional(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda value: value is None or check(value)


def _one_of(choices: Sequence[Any]) -> Rule:
    """The check and wording of a setting with fixed ``choices``."""
    shown = [str(c) for c in choices if c is not None]
    wording = f"{', '.join(shown[:-1])} or {shown[-1]}" if len(shown) > 1 else shown[0]
    return (lambda value: value in choices, wording)  # type: ignore[return-value]


def check_rules(rules: Sequence[Rule], settings: object) -> None:
    """Raise a ConfigError naming the first setting of ``settings`` that breaks its rule (NaN
    breaks every range)."""
    for name, check, wanted in rules:
        value = getattr(settings, name)
        try:
            valid = bool(check(value))
        except TypeError:  # a value of another type (Python callers): not in range either
            valid = False
        if not valid:
            raise ConfigError(f"--{name.replace('_', '-')} must be {wanted}, got {quote(value)}")


def check_topk(values: int | Sequence[int], what: str = "--topk") -> list[int]:
    """The top-k value(s) asked for (predict, evaluate, report, grids, the web form), each a
    whole number of at least 1; otherwise a ConfigError naming ``what``."""
    given = [values] if isinstance(values, int) else list(values)
    if not given or not all(
        isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in given
    ):
        raise ConfigError(f"{what} must be at least 1 (whole numbers), got {quote(values)}")
    return given


# the largest input side: ImageNet networks learnt at 224-600, and at 1024 the stem alone
# outputs 34 MB a frame (a typo's 100000 asked for 240 GB and read as unreadable videos)
MAX_SIZE = 1024
_DATA_RULES: list[Rule] = [
    ("frames", _positive, "at least 1"),
    ("interval", _positive, "at least 1"),
    (
        "size",
        _optional(lambda v: 16 <= v <= MAX_SIZE),
        f"16 to {MAX_SIZE} pixels (or unset: the backbone's size)",
    ),
    ("frame_fit", *_one_of(FRAME_FITS)),
    ("batch_size", _positive, "at least 1"),
    ("workers", _optional(_at_least(0)), "0 or more"),
    ("val_fraction", _fraction, "in [0, 1)"),
    ("test_fraction", _fraction, "in [0, 1)"),
    ("max_bad_fraction", lambda v: 0 <= v <= 1, "in [0, 1]"),
    ("fold", *_one_of((1, 2, 3))),
    ("extensions", bool, "at least one file suffix, e.g. .mp4,.avi"),
]
_MODEL_RULES: list[Rule] = [
    ("appearance_dropout", _optional(_fraction), "in [0, 1)"),
    ("freeze", *_one_of(FREEZE)),
    ("mlp", _optional(lambda v: all(width >= 1 for width in v)), "positive widths, e.g. 512,128"),
    ("dropout", _fraction, "in [0, 1)"),
    ("trainable_layers", _at_least(0), "0 or more"),
    ("unfreeze_epoch", _optional(_positive), "at least 1"),
    ("backbone_lr_mult", _at_least(0), "0 or more"),
    ("encoder_precision", *_one_of(ENCODER_PRECISIONS)),
]
_TRAIN_RULES: list[Rule] = [
    ("epochs", _positive, "at least 1"),
    ("lr", _positive, "above 0"),
    ("momentum", _at_least(0), "0 or more"),
    ("weight_decay", _at_least(0), "0 or more"),
    ("weight_decay_scope", *_one_of(("all", "classifier"))),
    ("class_weight", *_one_of(CLASS_WEIGHTS)),
    ("lr_decay", _at_least(0), "0 or more"),
    ("label_smoothing", _fraction, "in [0, 1)"),
    ("warmup_epochs", _at_least(0), "0 or more"),
    ("patience", _at_least(0), "0 or more"),
    ("augmented_copies", _at_least(0), "0 or more"),
    ("plateau_patience", _at_least(0), "0 or more"),
    ("plateau_factor", lambda v: 0 < v < 1, "in (0, 1)"),
    ("grad_clip", _optional(_positive), "above 0"),
    ("accumulate", _positive, "at least 1"),
    ("seed", lambda v: 0 <= v < 2**32, "in [0, 2^32)"),
    ("accelerator", *_one_of(ACCELERATORS)),
    ("num_nodes", _positive, "at least 1"),
    ("max_cached_frames", _optional(_positive), "at least 1"),
    ("feature_views", _positive, "at least 1"),
    ("encoder_runtime", *_one_of(ENCODER_RUNTIMES)),
    ("choose", *_one_of(CHOICE_RULES)),
]


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
    groups_file: str | None = None  # CSV 'path,group': each video's group (source, person)
    extensions: tuple[str, ...] = VIDEO_EXTENSIONS
    # the sampling's settings, with ClipSampling's defaults (sampling.py says what each means)
    frames: int = ClipSampling.frames  # frames per clip (T)
    strategy: str = ClipSampling.strategy  # segment | uniform | stride | dense | window
    interval: int = ClipSampling.interval  # frames between picks (stride, dense, window)
    window_stride: str | None = ClipSampling.window_stride  # window starts: frames or seconds
    size: int | None = None  # crop size; None: the backbone's input size
    frame_fit: str | None = None  # crop | pad (the whole frame) | person; None: the encoder's own
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
    allow_images: bool = False  # read still images as one-frame videos (otherwise refused)
    classes: tuple[str, ...] | None = None  # a subset of the dataset's classes (names)
    classes_file: str | None = None  # the same, one name per line

    def __post_init__(self) -> None:
        check_rules(_DATA_RULES, self)
        if self.val_fraction + self.test_fraction >= 1:
            raise ConfigError(
                f"--val-fraction {self.val_fraction} and --test-fraction {self.test_fraction} "
                "leave nothing to train on"
            )

    def sampling(self, span: int = 1) -> ClipSampling:
        """``span``: frames the encoder reads for each sampled one (``backbones.frame_span``)."""
        return ClipSampling(self.frames, self.strategy, self.interval, self.window_stride, span)

    def augmentation(self) -> dict[str, Any]:
        """The individual augmentation overrides, for ``transforms.resolve_augment``."""
        names = ("flip", "rotation", "translate", "zoom", "color_jitter", "crop_scale")
        return {name: getattr(self, name) for name in names}


@dataclass(frozen=True)
class ModelConfig:
    """A model's settings. None means "the component's default" (as timm's create_model):
    models.heads.resolve_model makes each explicit from the head's traits when a run is
    planned or a model built, so config.yaml and checkpoints hold the values."""

    backbone: str = "tf_efficientnet_lite0"
    pretrained: bool | None = None  # None: offline ImageNet weights where the backbone has them
    weights: str | None = None  # a local state dict for backbones without offline weights
    head: str = "lstm"
    head_args: dict[str, Any] = field(default_factory=dict)  # e.g. {"hidden_size": 512}
    # raw | diff (features joined with their frame-to-frame change) | drift (joined with their
    # change since the clip's first frame) | centre | norm;
    # None: drift for heads that read frame order, raw for order-free heads and probes
    temporal_input: str | None = None
    # training only: the appearance half of a diff/drift/centre input is dropped per clip with
    # this probability; None: 0.5 for those inputs, 0 otherwise
    appearance_dropout: float | None = None
    # backbone pooling: avg | max | flatten (the whole feature map) | halves (left, right apart);
    # None: the backbone's own
    pool: str | None = None
    # hidden widths of the classifier, () for a single linear layer; None: (256,), but () for
    # the linear probe heads
    mlp: tuple[int, ...] | None = None
    dropout: float = 0.3
    freeze: str | None = None  # all | none; None: all when starting from trained weights
    trainable_layers: int = 0  # with freeze=all: unfreeze the last N parameterised layers
    unfreeze_epoch: int | None = None  # unfreeze the whole backbone from this epoch (1-based)
    backbone_lr_mult: float = 1.0  # the backbone's learning rate relative to the head's
    # fp32 | int8: a frozen CNN encoder quantised by onnxruntime (static, QDQ, per-channel
    # weights), calibrated on the training frames; the quantised copy travels in the checkpoint
    encoder_precision: str = "fp32"

    def __post_init__(self) -> None:
        check_rules(_MODEL_RULES, self)


@dataclass(frozen=True)
class TrainConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    out: str = "runs/run"
    epochs: int = 30
    lr: float = 1e-3
    optimizer: str = "adam"  # adam | adamw | sgd | lbfgs (full batch, to the optimum)
    momentum: float = 0.9  # sgd only
    nesterov: bool = False  # sgd only
    weight_decay: float = 0.0  # the seeds' L2 regularisation
    weight_decay_scope: str = "all"  # all | classifier (the seeds' L2 on Dense layers only)
    lr_decay: float = 0.0  # --scheduler decay: lr / (1 + lr_decay * step), Keras' old `decay`
    label_smoothing: float = 0.0
    # balanced: each class's training clips weigh as much in the loss as another's (weights
    # N / (K x clips of the class)), so the share of each class in training is no prior
    class_weight: str = "none"
    scheduler: str = "plateau"  # plateau | cosine | decay | none
    warmup_epochs: int = 0  # cosine only
    patience: int = 8  # early stopping on val_loss, in epochs
    # a full-batch fit only: after the run, fit the head again on training + validation videos
    # (rejection keeps the threshold calibrated while validation was held out)
    refit: bool = False
    # a full-batch fit only: it also learns from this many copies of each training video with
    # the encoder's feature-space augmentation (pose), drawn once so the objective stays fixed
    augmented_copies: int = 0
    plateau_patience: int = 3  # ReduceLROnPlateau on val_loss
    plateau_factor: float = 0.5
    grad_clip: float | None = None  # clip the gradient norm to this value
    accumulate: int = 1  # batches per optimiser step
    precision: str = "32-true"  # Lightning precision: 16-mixed, bf16-mixed on GPU
    seed: int = 0
    accelerator: str = "auto"
    devices: str | int = "auto"  # a count, ids "0,1", -1 (all), or "auto" (one device)
    num_nodes: int = 1
    strategy: str = "auto"  # Lightning strategy: ddp, ddp_spawn, fsdp, ...
    tensorboard: bool = True  # TensorBoard logs in RUN/tensorboard next to metrics.csv
    feature_cache: bool = True  # frozen backbone: train the head on cached frame features
    encoder_runtime: str = "auto"  # a frozen encoder's runtime: ENCODER_RUNTIMES
    cache_dir: str | None = None  # features: here or ~/.cache/vidact; clips: only when given
    # frames per video a cache keeps (evenly spread); None: what the sampling can read
    # (ClipSampling.frames_to_cache)
    max_cached_frames: int | None = None
    feature_views: int = 1  # cached views per video: the plain one, then augmented ones
    progress: bool = True
    overwrite: bool = False
    # settings to choose between, each a partial recipe over this one: the run trains the one
    # ``choose`` keeps (training.trainer._choose); an option given on the command line is no
    # candidate's
    candidates: tuple[dict[str, Any], ...] = ()
    # validation: the lowest validation loss when each is cross-validated on the training
    # groups; person_in_view: the first of two (the person's square) when one person is
    # steadily in view in most training videos, else the second (the whole scene)
    choose: str = "validation"

    def __post_init__(self) -> None:
        check_rules(_TRAIN_RULES, self)
        configs = self.candidate_configs()  # a candidate that is no valid recipe is refused now
        if self.choose == "person_in_view" and len(configs) not in (1, 2):
            raise ConfigError(
                "choose: person_in_view keeps the first of two candidates (the person's square) "
                f"or the second (the whole scene), got {len(configs)} candidates"
            )

    def candidate_configs(self) -> list[TrainConfig]:
        """The configuration each candidate trains with (without candidates: this one)."""
        if not self.candidates:
            return [self]
        base = {**self.to_dict(), "candidates": []}
        configs = []
        for number, candidate in enumerate(self.candidates, start=1):
            where = f"candidate {number} ({describe_settings(candidate)})"
            check_sections(candidate, where)
            if "candidates" in candidate:
                raise ConfigError(f"{where}: a candidate cannot hold candidates of its own")
            try:
                configs.append(TrainConfig.from_dict(merge(base, candidate)))
            except ConfigError as err:
                raise ConfigError(f"{where}: {err}") from None
        return configs

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> TrainConfig:
        raw = dict(raw)
        candidates = raw.get("candidates", ())
        if not isinstance(candidates, list | tuple) or not all(
            isinstance(c, dict) for c in candidates
        ):
            raise ConfigError(
                "candidates: a list of settings to choose between, each a partial recipe "
                f"(- data: {{frame_fit: pad}}), got {quote(candidates)}"
            )
        data = from_mapping(DataConfig, raw.pop("data", {}))
        model = from_mapping(ModelConfig, raw.pop("model", {}))
        return from_mapping(cls, {**raw, "data": data, "model": model})


def from_mapping(cls: type, raw: dict[str, Any]) -> Any:
    """Build dataclass ``cls`` from a plain mapping (YAML, JSON), rejecting unknown keys and
    values of the wrong type with a ConfigError that names the setting."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{cls.__name__}: expected a mapping of settings, got {quote(raw)}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(raw) - set(known))
    if unknown:
        near = {n: difflib.get_close_matches(n, known, n=1) for n in unknown}
        shown = ", ".join(f"{n} (did you mean {near[n][0]}?)" if near[n] else n for n in unknown)
        raise ConfigError(f"unknown {cls.__name__} settings: {shown}")
    hints = get_type_hints(cls)
    values = {}
    for name, value in raw.items():
        if isinstance(value, list) and _origin(hints[name]) is tuple:
            value = tuple(value)
        _check_type(name, value, hints[name])
        values[name] = value
    return cls(**values)


def _origin(hint: Any) -> Any:
    """``tuple`` for ``tuple[int, ...]`` and ``tuple[...] | None``; the type itself otherwise."""
    args = [a for a in get_args(hint) if a is not type(None)] if _is_union(hint) else [hint]
    return get_origin(args[0]) or args[0] if len(args) == 1 else None


def _is_union(hint: Any) -> bool:
    return get_origin(hint) in (Union, types.UnionType)


def _check_type(name: str, value: Any, hint: Any) -> None:
    """Plain YAML values against a field's annotation (str, int, float, bool, tuple, dict, None)."""
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, hint):
            raise ConfigError(f"{name}: expected a mapping of settings, got {quote(value)}")
        return
    allowed = get_args(hint) if _is_union(hint) else (hint,)
    for option in allowed:
        origin = get_origin(option) or option
        if option is type(None) and value is None:
            return
        if origin is float and isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise ConfigError(f"{name}: expected a finite number, got {value!r}")
            return
        if origin is int and isinstance(value, int) and not isinstance(value, bool):
            return
        if origin in (str, bool, dict, Any) and (origin is Any or isinstance(value, origin)):
            return
        if origin is tuple and isinstance(value, tuple):
            item = get_args(option)[0] if get_args(option) else Any
            if all(item is Any or _fits(v, item) for v in value):
                return
    wanted = " or ".join(getattr(a, "__name__", str(a)) for a in allowed).replace(
        "NoneType", "none"
    )
    raise ConfigError(f"{name}: expected {wanted}, got {quote(value)}")


def _fits(value: Any, kind: type) -> bool:
    if kind is float:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )
    kind = get_origin(kind) or kind  # dict[str, Any] -> dict
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


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
    "groups": ("data", "groups_file"),
    "head_arg": ("model", "head_args"),
    "sampling": ("data", "strategy"),  # --strategy is Lightning's
}
_SECTIONS = {"data": DataConfig, "model": ModelConfig}


def nest_options(options: dict[str, Any]) -> dict[str, Any]:
    """Flat command-line values -> a partial TrainConfig mapping; ``None`` means "not given",
    so the recipe's value (or the dataclass default) stays."""
    nested: dict[str, Any] = {"data": {}, "model": {}}
    for name, value in options.items():
        if value is None:
            continue
        if name in _OPTION_FIELDS:
            section, key = _OPTION_FIELDS[name]
            nested[section][key] = value
        elif name in {f.name for f in fields(TrainConfig)} - set(_SECTIONS):
            nested[name] = value  # first: --strategy is Lightning's, not data.strategy
        else:
            section = next(
                (key for key, cls in _SECTIONS.items() if name in {f.name for f in fields(cls)}),
                None,
            )
            if section is None:
                raise KeyError(f"option {name!r} has no place in TrainConfig")
            nested[section][name] = value
    return {k: v for k, v in nested.items() if v != {}}


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``, section by section (``data``, ``model``)."""
    merged = {**base, **{k: v for k, v in update.items() if k not in _SECTIONS}}
    for section in _SECTIONS:
        if section in base or section in update:
            merged[section] = {**base.get(section, {}), **update.get(section, {})}
    return merged


def override(recipe: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """Settings ``given`` (command-line options, a grid's values) over a recipe, and taken out
    of its candidates: what the user fixed is not chosen for them. A candidate whose every
    ``data`` setting was given another value is a view of the footage the user ruled out, and
    goes with all it sets (people_rgb.yaml's square reads another motion picture than the
    whole frame). Candidates left the same are kept once; with one left, there is nothing to
    choose and it joins the recipe."""
    merged = merge(recipe, given)
    candidates = merged.get("candidates")
    if not isinstance(candidates, list):
        return merged
    kept: list[dict[str, Any]] = []
    for candidate in candidates:
        if isinstance(candidate, dict) and _ruled_out(candidate, given):
            continue
        left = _without(candidate, given) if isinstance(candidate, dict) else candidate
        if left not in kept:
            kept.append(left)
    if not kept:
        return {**merged, "candidates": []}
    if len(kept) == 1 and isinstance(kept[0], dict):
        return merge({**merged, "candidates": []}, kept[0])
    return {**merged, "candidates": kept}


def _ruled_out(candidate: dict[str, Any], given: dict[str, Any]) -> bool:
    view, fixed = candidate.get("data"), given.get("data", {})
    if not isinstance(view, dict) or not view:
        return False
    return all(key in fixed and fixed[key] != value for key, value in view.items())


def _without(candidate: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    left: dict[str, Any] = {}
    for key, value in candidate.items():
        if key in _SECTIONS and isinstance(value, dict):
            section = {k: v for k, v in value.items() if k not in given.get(key, {})}
            if section:
                left[key] = section
        elif key not in given:
            left[key] = value
    return left


def describe_settings(settings: dict[str, Any]) -> str:
    """``{"data": {"frame_fit": "pad", "size": 288}}`` -> ``frame_fit=pad, size=288``."""
    if not isinstance(settings, dict):
        return quote(settings)
    flat: dict[str, Any] = {}
    for key, value in settings.items():
        flat.update(value if key in _SECTIONS and isinstance(value, dict) else {key: value})
    return ", ".join(f"{k}={v}" for k, v in flat.items()) or "the recipe as it is"


MAX_YAML_BYTES = 1_000_000  # recipes and grids are a few hundred bytes
MAX_YAML_VALUES = 100_000  # values once aliases are expanded (an alias bomb is billions)


def read_yaml(path: str | Path, what: str) -> dict[str, Any]:
    """A YAML mapping from ``path`` with limits: at most 1 MB, and at most 100,000 values once
    aliases are expanded (a few hundred bytes of nested aliases otherwise expand to gigabytes
    the moment anything prints or copies them)."""
    path = Path(path)
    if path.stat().st_size > MAX_YAML_BYTES:
        raise ConfigError(f"{path}: over {MAX_YAML_BYTES // 1000} kB; {what} is a short YAML file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" line {where.line + 1}" if where is not None else ""
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        raise ConfigError(f"{path}:{line} is not valid YAML ({quote(problem)})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a text file; {what} is YAML") from None
    if _expanded_size(raw, MAX_YAML_VALUES) > MAX_YAML_VALUES:
        raise ConfigError(
            f"{path}: expands to over {MAX_YAML_VALUES} values (nested YAML aliases?); refused"
        )
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: {what} is a YAML mapping of settings")
    return raw


def _expanded_size(value: Any, limit: int) -> int:
    """How many values ``value`` holds when every alias is counted in full, stopping past
    ``limit`` (so the count itself stays cheap)."""
    count, stack = 0, [value]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
    return count


def check_sections(raw: dict[str, Any], where: str | Path) -> None:
    """Recipe form: ``data`` and ``model`` are mappings."""
    for section in _SECTIONS:
        if section in raw and not isinstance(raw[section], dict):
            raise ConfigError(
                f"{where}: {section!r} must be a mapping of settings, not {quote(raw[section])}"
            )


def load_recipe(path: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """A recipe file: a (partial) TrainConfig as YAML, sections ``data`` and ``model``.

    ``_base_: other.yaml`` (a path relative to the recipe, or a list of them) starts from those
    recipes, so a family of experiments is one base and small overrides."""
    path = Path(path)
    if path.resolve() in _seen:
        raise ConfigError(f"{path}: recipes include each other (_base_ loop)")
    if not path.is_file():
        raise ConfigError(f"{path}: recipe not found (--config)")
    raw = read_yaml(path, "a recipe")
    check_sections(raw, path)
    bases = raw.pop("_base_", [])
    bases = [bases] if isinstance(bases, str) else bases
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(
            f"{path}: _base_ names a recipe file or a list of them, not {quote(bases)}"
        )
    merged: dict[str, Any] = {}
    for base in bases:
        merged = merge(merged, load_recipe(path.parent / base, (*_seen, path.resolve())))
    raw = merge(merged, raw)
    try:
        TrainConfig.from_dict(raw)  # reject unknown keys and wrong types now, naming the file
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}") from None
    return raw


def resolve_config(recipe: str | Path | None, options: dict[str, Any]) -> TrainConfig:
    """Every default from the dataclasses, overridden by the recipe, overridden by the options
    the user gave (``None`` = not given)."""
    config = TrainConfig.from_dict(
        override(load_recipe(recipe) if recipe else {}, nest_options(options))
    )
    if not config.data.root:
        raise ConfigError("say where the videos are: --data ROOT (or a --config that sets it)")
    return config
