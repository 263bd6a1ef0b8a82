"""Options several commands share, declared once, and turning typed values into config values.

Every option defaults to ``None``, meaning "not given": the value then comes from the recipe, or
from the config dataclasses (``vidact.config``), which hold every default. Help texts quote those
defaults rather than restating them.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml

from vidact.config import (
    ENCODER_PRECISIONS,
    ENCODER_RUNTIMES,
    DataConfig,
    check_topk,
    from_mapping,
    nest_options,
)
from vidact.errors import ConfigError
from vidact.inference.timeline import TimelineSettings

F = TypeVar("F", bound=Callable[..., Any])

_DATA = DataConfig()

DataRoot = Annotated[Path, typer.Option("--data", help="Dataset root: ROOT/<class>/<video>.")]
DatasetKind = Annotated[
    str | None,
    typer.Option(
        "--dataset", help=f"folder, ucf101 or hmdb51 (official splits). [{_DATA.dataset}]"
    ),
]
Annotations = Annotated[
    Path | None,
    typer.Option(help="Official split files: ucfTrainTestlist/ or testTrainMulti_7030_splits/."),
]
Fold = Annotated[int | None, typer.Option(help=f"Official split 1, 2 or 3. [{_DATA.fold}]")]
SkipMissing = Annotated[
    bool | None,
    typer.Option(
        "--skip-missing/--no-skip-missing", help="Go on without listed videos that are missing."
    ),
]
SplitFile = Annotated[Path | None, typer.Option(help="CSV 'path,split' (train/val/test).")]
ValFraction = Annotated[
    float | None,
    typer.Option(help=f"Validation share carved from train, by group. [{_DATA.val_fraction}]"),
]
TestFraction = Annotated[
    float | None,
    typer.Option(help=f"Test share when nothing else gives one. [{_DATA.test_fraction}]"),
]
GroupRegex = Annotated[
    str | None,
    typer.Option(help="Regex with one capture group: a video's group (default: UCF _gNN_)."),
]
Groups = Annotated[
    Path | None,
    typer.Option(
        "--groups", help="CSV 'path,group': each video's group (source, person), kept in one split."
    ),
]
Extensions = Annotated[
    str | None,
    typer.Option(
        help=f"Video file suffixes to index, comma-separated. [{','.join(_DATA.extensions)}]"
    ),
]
Categories = Annotated[
    Path | None, typer.Option(help="CSV/TSV 'class,category' for per-category accuracy.")
]
Classes = Annotated[
    str | None,
    typer.Option(help="Only these classes, comma-separated names (official splits still apply)."),
]
ClassesFile = Annotated[
    Path | None, typer.Option(help="Only the classes named in this file, one per line.")
]
Workers = Annotated[int | None, typer.Option(help="DataLoader workers (default: CPU cores).")]
MaxBadFraction = Annotated[
    float | None,
    typer.Option(
        help=f"Stop when more than this share of videos is unreadable. [{_DATA.max_bad_fraction}]"
    ),
]
AllowImages = Annotated[
    bool | None,
    typer.Option("--allow-images/--no-allow-images", help="Read still images as one-frame videos."),
]
Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace an existing output file (never an input), or write a report into a "
        "folder holding other files, instead of refusing.",
    ),
]
Device = Annotated[
    str | None, typer.Option(help="cpu, cuda or cuda:N (default: cuda when available).")
]


def parse_head_args(pairs: list[str]) -> dict[str, Any]:
    """``["hidden_size=512", "num_layers=2"]`` -> {"hidden_size": 512, "num_layers": 2}."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--head-arg {pair!r}: expected KEY=VALUE, e.g. hidden_size=512")
        try:
            parsed[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise ConfigError(f"--head-arg {pair!r}: cannot read the value {value!r}") from None
    return parsed


def parse_widths(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ConfigError(
            f"--mlp {text!r}: expected comma-separated widths, e.g. 512,128"
        ) from None


def config_values(options: dict[str, Any]) -> dict[str, Any]:
    """Typed command-line values -> config values (paths as text, lists parsed); options not
    given (None, or an empty repeatable option) are left out."""
    values: dict[str, Any] = {}
    for name, value in options.items():
        if value is None or value == [] or value == ():
            continue
        if isinstance(value, Path):
            value = str(value)
        if name in ("extensions", "classes"):
            value = tuple(e.strip() for e in value.split(",") if e.strip())
        elif name == "head_arg":
            value = parse_head_args(value)
        elif name == "mlp":
            value = parse_widths(value)
        values[name] = value
    if "freeze_backbone" in values:  # shorthand for --freeze all / none
        values["freeze"] = "all" if values.pop("freeze_backbone") else "none"
    return values


_DATA_OPTIONS = {f.name for f in fields(DataConfig)} | {"data", "groups"}  # root, groups_file


def data_config(params: dict[str, Any], **fixed: Any) -> DataConfig:
    """A DataConfig from a command's parsed options (``ctx.params``; its dataset flags only, None
    meaning the dataclass default), with ``fixed`` values that the command decides itself."""
    chosen = {k: v for k, v in {**params, **fixed}.items() if k in _DATA_OPTIONS}
    return from_mapping(DataConfig, nest_options(config_values(chosen)).get("data", {}))


def parse_topk(text: str) -> list[int]:
    """``"1,2,5"`` -> [1, 2, 5]."""
    try:
        ks = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--topk {text!r}: give whole numbers separated by commas") from None
    return check_topk(ks, f"--topk {text!r}: each k")


# how window scores become segments (predict, watch): inference.timeline and inference.events
Smooth = Annotated[int, typer.Option(help="Smooth window probabilities over N windows.")]
SmoothMode = Annotated[str, typer.Option(help="Smoothing: median or mean.")]
Hold = Annotated[
    float, typer.Option(help="Seconds a new activity must lead before its segment opens.")
]
MinSegment = Annotated[float, typer.Option(help="Seconds; a shorter segment joins its neighbour.")]
Raw = Annotated[
    bool,
    typer.Option(
        "--raw",
        help="Segments are runs of the windows' own top labels: no smoothing, hold, minimum.",
    ),
]
Cuts = Annotated[
    str,
    typer.Option(
        help="Timeline windows inside the shots of an edited video (none straddles a cut): "
        "on, off, or auto (when the model's training videos had no such jumps).",
    ),
]
FrameFit = Annotated[
    str | None,
    typer.Option(
        "--frame-fit",
        help="How a frame becomes the encoder's square: crop (its centre), pad (all of it, "
        "padded with black) or person (the square of 4 torso lengths around the person MediaPipe "
        "finds in the clip). [the encoder's own: pose pads, image encoders crop]",
    ),
]
EncoderRuntime = Annotated[
    str | None,
    typer.Option(
        "--encoder-runtime",
        help=f"Where a frozen frame encoder runs: {', '.join(ENCODER_RUNTIMES)} (auto: "
        "onnxruntime when the onnx extra is installed and the encoder exports, on a CPU; "
        "else PyTorch). Fine-tuned encoders run in PyTorch. [auto]",
    ),
]
EncoderPrecision = Annotated[
    str | None,
    typer.Option(
        "--encoder-precision",
        help=f"{' or '.join(ENCODER_PRECISIONS)}: int8 quantises a frozen CNN encoder with "
        "onnxruntime, calibrated on 16 training videos; the checkpoint carries it. [fp32]",
    ),
]
RunProgress = Annotated[
    bool,
    typer.Option(
        "--progress/--no-progress",
        help="Each run's training progress: a line per epoch in a log file, a bar on a terminal.",
    ),
]
Reject = Annotated[
    str,
    typer.Option(
        help="When to answer unknown: off; auto (the model's calibration from training: farther "
        "from its classes' clip embeddings than 95% of its validation clips; a model trained "
        "with fewer than 8 validation clips has no such distance and never rejects); or P: a top "
        "probability below P (evaluate --unknown-dir prints the P for a chosen false-accept "
        "rate)."
    ),
]


def _with_options(
    block: dict[str, tuple[Any, Any]], after: str, into: str | None = None
) -> Callable[[F], F]:
    """Add the options of ``block`` (name: (annotated type, default)) to a command's signature
    after its parameter ``after``, so a group of options is declared once for every command
    that takes it. With ``into``, the command gets their values as one dict argument of that
    name; otherwise it reads them from ``ctx.params``."""

    def decorate(command: F) -> F:
        signature = inspect.signature(command, eval_str=True)  # typer reads real annotations
        params = [p for p in signature.parameters.values() if p.name != into]
        at = [p.name for p in params].index(after) + 1
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        added = [inspect.Parameter(n, kind, default=d, annotation=t) for n, (t, d) in block.items()]

        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> Any:
            chosen = {name: kwargs.pop(name) for name in block if name in kwargs}
            if into is not None:
                kwargs[into] = chosen
            return command(*args, **kwargs)

        run.__signature__ = signature.replace(  # type: ignore[attr-defined]
            parameters=[*params[:at], *added, *params[at:]]
        )
        return run  # type: ignore[return-value]

    return decorate


# the dataset options, in the order --help lists them after --data
_DATASET_OPTIONS: dict[str, Any] = {
    "dataset": DatasetKind,
    "annotations": Annotations,
    "fold": Fold,
    "skip_missing": SkipMissing,
    "split_file": SplitFile,
    "val_fraction": ValFraction,
    "test_fraction": TestFraction,
    "group_regex": GroupRegex,
    "groups": Groups,
    "extensions": Extensions,
    "classes": Classes,
    "classes_file": ClassesFile,
    "allow_images": AllowImages,
}


def dataset_options(*leave_out: str) -> Callable[[F], F]:
    """The dataset options (all but ``leave_out``) after the command's ``--data``; the command
    reads them from ``ctx.params`` (``data_config``)."""
    chosen = {n: (t, None) for n, t in _DATASET_OPTIONS.items() if n not in leave_out}
    return _with_options(chosen, after="data")


def decoding_options(command: F) -> F:
    """How window scores become segments (``TimelineSettings``' smoothing, hold, minimum and
    raw), after the command's ``--stride``; the command gets them as ``decoding``."""
    block = {
        "smooth": (Smooth, TimelineSettings.smooth),
        "smooth_mode": (SmoothMode, TimelineSettings.smooth_mode),
        "hold": (Hold, TimelineSettings.hold),
        "min_segment": (MinSegment, TimelineSettings.min_segment),
        "raw": (Raw, TimelineSettings.raw),
    }
    return _with_options(block, after="stride", into="decoding")(command)
