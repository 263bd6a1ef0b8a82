"""The CSV files a user writes by hand or in a spreadsheet (groups, splits, true timelines).

A spreadsheet saves UTF-8 with a byte-order mark and may pad names with spaces, and a file
written on Windows names videos with backslashes; none of that changes what the file says, so
none may turn a correct file into "expected a CSV with header ..." or "not listed".
"""

from __future__ import annotations

import csv
import posixpath
from collections.abc import Iterator
from pathlib import Path

from vidact.errors import VidactError


def table_rows(
    path: Path, columns: tuple[str, ...], what: str, error: type[VidactError]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV that has ``columns`` (others are ignored), each name and
    value stripped; ``error`` names ``what`` (e.g. ``--groups FILE``) and the problem."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            names = [name.strip() for name in next(reader, [])]
            if not set(columns) <= set(names):
                raise error(f"{what}: expected a CSV with header '{','.join(columns)}'")
            for line, values in enumerate(reader, start=2):
                if any(value.strip() for value in values):
                    row = dict(zip(names, (value.strip() for value in values), strict=False))
                    yield line, {name: row.get(name, "") for name in columns}
    except (UnicodeDecodeError, csv.Error) as err:
        raise error(f"{what}: not a readable CSV ({err})") from None


def relative_path(text: str) -> str:
    """A video's path below the dataset root as the index writes it: ``.\\walk\\a.mp4`` and
    ``./walk/a.mp4`` are ``walk/a.mp4``."""
    return posixpath.normpath(text.replace("\\", "/")) if text else text
