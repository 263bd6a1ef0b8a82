"""Batch prediction: every video of a list once, decoded by worker processes while the model
runs (``load_batches``, what ``predict_many`` reads); a corpus's files, shards and rows are in
``inference.corpus``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset

from vidact.data.transforms import worker_start
from vidact.errors import ConfigError
from vidact.inference.timeline import TimelineSettings
from vidact.inference.views import ViewLoader, is_long
from vidact.io.reader import VideoReader, VideoReadError
from vidact.progress import progress


@dataclass
class LoadedVideo:
    video: str
    views: torch.Tensor | None  # (V, T, 3, S, S); None when unreadable
    error: str | None = None
    duration: float = 0.0
    long: bool = False  # gets a timeline of its own


class _VideoViews(Dataset):
    def __init__(
        self,
        videos: Sequence[str | Path],
        load_views: ViewLoader,
        settings: TimelineSettings,
    ) -> None:
        self.videos = list(videos)
        self.load_views = load_views
        self.settings = settings

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, index: int) -> LoadedVideo:
        video = self.videos[index]
        try:
            with VideoReader(video, self.load_views.allow_images) as reader:
                views = self.load_views(reader)
                return LoadedVideo(
                    str(video), views, None, reader.num_frames / reader.fps,
                    is_long(reader, self.settings),
                )  # fmt: skip
        except VideoReadError as err:
            return LoadedVideo(str(video), None, str(err))


def load_batches(
    videos: Sequence[str | Path],
    load_views: ViewLoader,
    settings: TimelineSettings,
    workers: int,
    batch_size: int,
) -> Iterator[list[LoadedVideo]]:
    """Batches of decoded videos in order, with a progress bar (or log lines) over the videos."""
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {batch_size}")
    if workers < 0:
        raise ConfigError(f"--workers must be 0 or more, got {workers}")
    loader = DataLoader(
        _VideoViews(videos, load_views, settings),
        batch_size=batch_size,
        num_workers=workers,
        multiprocessing_context=worker_start(load_views.input, workers),
        collate_fn=list,
    )
    if len(loader) == 1:  # one call: nothing to follow
        yield from loader
        return
    yield from progress(loader, "predicting", total=len(loader), unit="batches")
