"""Progress of long steps (encoding, decoding checks, evaluation, epochs) on a terminal and in logs.

On a terminal it is a tqdm bar; when stderr is a file or a pipe (a batch job's log), a bar's
carriage returns make one unreadable line, so it logs a line at every tenth of the work instead.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import TypeVar

from tqdm import tqdm

T = TypeVar("T")

log = logging.getLogger("vidact.progress")


def on_terminal() -> bool:
    """Whether progress goes to a person watching (a bar) rather than to a log file (lines)."""
    return sys.stderr.isatty()


def progress(
    items: Iterable[T], desc: str, total: int | None = None, unit: str = "videos"
) -> Iterator[T]:
    """Yield ``items`` while showing how far along they are."""
    if total is None:
        total = len(items) if hasattr(items, "__len__") else None  # type: ignore[arg-type]
    if on_terminal():
        yield from tqdm(items, desc=desc, total=total, unit=unit, leave=False)
        return
    started, next_mark = time.perf_counter(), 0.1
    done = 0
    for done, item in enumerate(items, start=1):
        yield item
        if total and (done / total >= next_mark or done == total):
            elapsed = time.perf_counter() - started
            log.info(
                "%s: %d/%d %s (%.0f%%, %.0f s)",
                desc,
                done,
                total,
                unit,
                100 * done / total,
                elapsed,
            )
            next_mark = (int(done / total * 10) + 1) / 10
