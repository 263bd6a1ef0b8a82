"""vidact: human activity recognition in video with a per-frame CNN and a temporal model."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("vidact")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"
