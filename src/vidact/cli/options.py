"""Options several commands share, declared once, and turning typed values into config values.

Every option defaults to ``None``, meaning "not given": the value then comes from the recipe, or
from the config dataclasses (``vidact.config``), which hold every default. Help texts quote those
defaults rather than restating them.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any

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
AllowImages = Annotated[
    bool | None,
    typer.Option("--allow-images/--no-allow-images", help="Read still images as one-frame videos."),
]
Overwrite = Annotated[
    bool,
    typer.Option(
        "--overwrite", help="Replace an existing output file (never an input) instead of refusing."
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
Reject = Annotated[
    str,
    typer.Option(
        help="Answer unknown when the top probability is below: off, auto (the threshold the "
        "model was calibrated with when trained: 95% of its validation clips reach it) or P."
    ),
]
