"""Decode every video of a dataset and list the ones that fail, without stopping at the first."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from torch.utils.data import DataLoader, Dataset

from vidact.data.index import VideoItem
from vidact.io.reader import VideoReader, VideoReadError


class _Verify(Dataset):
    def __init__(self, items: Sequence[VideoItem], allow_images: bool) -> None:
        self.items = list(items)
        self.allow_images = allow_images

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[str, str | None]:
        path = self.items[index].path
        try:
            with VideoReader(path, self.allow_images) as reader:
                reader.verify()
        except VideoReadError as err:
            return str(path), err.described
        return str(path), None


def verify_videos(
    items: Sequence[VideoItem], workers: int = 0, allow_images: bool = False
) -> Iterator[tuple[str, str | None]]:
    """Yield (path, problem or None) for every item, decoding in ``workers`` processes: a
    truncated file, a still image, a frame that fails to decode are each a problem."""
    loader = DataLoader(_Verify(items, allow_images), batch_size=None, num_workers=workers)
    yield from loader
