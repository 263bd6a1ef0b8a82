"""What every command shares: logging set-up and turning user errors into one-line messages."""

from __future__ import annotations

import functools
import inspect
import logging
import math
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Collection
from typing import Any, TypeVar

import typer

from vidact.errors import ConfigError, VidactError

F = TypeVar("F", bound=Callable[..., Any])

# the options that set how much a command holds at once, in the order an error names them
_MEMORY_OPTIONS = ("batch_size", "frames", "size", "clips", "crops")

_VERBOSE = inspect.Parameter(
    "verbose",
    inspect.Parameter.KEYWORD_ONLY,
    default=typer.Option(False, "--verbose", "-v", help="Debug logs, and tracebacks of errors."),
    annotation=bool,
)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it per command)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def setup_logging(verbose: bool = False) -> None:
    handler = _StderrHandler()
    handler.setFormatter(
        logging.Formatter("%(levelname)s %(name)s: %(message)s" if verbose else "%(message)s")
    )
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, handlers=[handler], force=True
    )
    for noisy in ("lightning", "lightning.pytorch", "lightning.fabric", "matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose else logging.WARNING)
    if not verbose:
        warnings.filterwarnings("ignore", module="lightning")
        warnings.filterwarnings("ignore", message=".*does not have many workers.*")


def friendly_errors(command: F) -> F:
    """Give the command ``-v/--verbose`` and set up logging; a user error (``VidactError``) or
    running out of memory prints ``error: ...`` and exits with status 2. Anything else is a bug
    and keeps its traceback."""

    signature = inspect.signature(command, eval_str=True)  # typer reads real annotations

    @functools.wraps(command)
    def wrapper(*args: Any, verbose: bool = False, **kwargs: Any) -> Any:
        setup_logging(verbose)
        try:
            _check_finite(kwargs)
            return command(*args, **kwargs)
        except VidactError as err:
            if verbose:
                traceback.print_exc()
            typer.secho(f"error: {err}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None
        except (MemoryError, RuntimeError) as err:  # torch's OutOfMemoryError is a RuntimeError
            said = _out_of_memory(err, signature.parameters)
            if said is None:
                raise
            if verbose:
                traceback.print_exc()
            typer.secho(f"error: {said}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), _VERBOSE]
    )
    return wrapper  # type: ignore[return-value]


def _out_of_memory(err: BaseException, options: Collection[str]) -> str | None:
    """What to say when ``err`` is the machine (or the GPU) running out of memory: settings,
    not a bug, so no traceback; None for any other error. Names those of the command's
    ``options`` that set how much is held at once."""
    text = str(err)
    if not (isinstance(err, MemoryError) or "allocate memory" in text or "out of memory" in text):
        return None
    asked = re.search(r"allocate (\d+) bytes", text)
    size = f" (asked for {int(asked.group(1)) / 2**30:.1f} GiB)" if asked else ""
    named = [f"--{name.replace('_', '-')}" for name in _MEMORY_OPTIONS if name in options]
    if not named:
        return f"out of memory{size}: run where there is more"
    lower = ", ".join(named[:-1]) + (" or " if len(named) > 1 else "") + named[-1]
    workers = " (or --workers)" if "workers" in options else ""
    return f"out of memory{size}: lower {lower}{workers}, or run where there is more"


def _check_finite(options: dict[str, Any]) -> None:
    """Every number option of every command is finite: ``nan`` or ``inf`` would turn limits off
    or poison results without a word."""
    for name, value in options.items():
        values = value if isinstance(value, list | tuple) else [value]
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise ConfigError(f"--{name.replace('_', '-')} {value}: give a finite number")
