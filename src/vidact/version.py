"""The installed package's version, in a module of its own so every layer can name it without
importing the package's façade (``vidact.load``), which sits above them all."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vidact")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
