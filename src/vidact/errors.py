"""One family of user errors: what went wrong with the user's input, and how to fix it.

Everything a user can get wrong (settings, data, videos, checkpoints, caches, run directories)
raises a ``VidactError`` subclass whose message is one line naming the thing and the fix. The
command line prints that line; any other exception is a bug in vidact and keeps its traceback.
"""

from __future__ import annotations

import reprlib
from typing import Any


class VidactError(Exception):
    """A problem with the user's input; the message is the whole story."""


class ConfigError(VidactError):
    """A setting (flag, recipe, argument) is invalid."""


class DatasetError(VidactError):
    """The dataset on disk or its split description is unusable."""


class CheckpointError(VidactError):
    """A file is not a usable vidact checkpoint."""


class CacheError(VidactError):
    """A cache folder or entry cannot be used."""


class RunError(VidactError):
    """A run directory cannot be written or resumed (held by another process, already a run)."""


def quote(value: Any, limit: int = 200) -> str:
    """``repr(value)`` cut to ``limit`` characters: error messages never carry a huge value."""
    shorter = reprlib.Repr()
    shorter.maxstring = shorter.maxother = limit
    shorter.maxlevel, shorter.maxdict, shorter.maxlist = 3, 8, 8
    text = shorter.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
