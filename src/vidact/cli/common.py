"""What every command shares: logging set-up and turning expected failures into one-line errors."""

from __future__ import annotations

import functools
import logging
import sys
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from vidact.data.index import DatasetError
from vidact.io.reader import VideoReadError
from vidact.models.checkpoint import CheckpointError

F = TypeVar("F", bound=Callable[..., Any])

# failures caused by input (files, flags, data): the message is the whole story, no traceback
EXPECTED_ERRORS = (
    VideoReadError,
    DatasetError,
    CheckpointError,
    FileNotFoundError,
    FileExistsError,
    ValueError,
    IndexError,
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
    """Run the command; an expected failure prints ``error: ...`` and exits with status 2."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except EXPECTED_ERRORS as err:
            typer.secho(f"error: {err}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
