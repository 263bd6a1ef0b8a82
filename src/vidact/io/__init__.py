"""Reading and writing video files."""

from vidact.io.reader import VideoReader, VideoReadError, probe

__all__ = ["VideoReadError", "VideoReader", "probe"]
