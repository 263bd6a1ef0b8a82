"""Class -> category maps: UCF101's five action types and HMDB51's five body-part groups ship
with vidact (sources in the TSV headers' README, ../shared/data/categories); any dataset can bring
its own CSV or TSV of ``class, category`` rows.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

from vidact.data.index import DatasetError

BUILTIN = ("ucf101", "hmdb51")


def read_categories(path: str | Path) -> dict[str, str]:
    """``class, category`` rows from a CSV or TSV file; a header row is recognised and skipped."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: category file not found")
    text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's byte-order mark is not a name
    delimiter = "\t" if "\t" in text.splitlines()[0] else ","
    mapping: dict[str, str] = {}
    for line, row in enumerate(csv.reader(text.splitlines(), delimiter=delimiter), start=1):
        if not row or not "".join(row).strip():
            continue
        if len(row) != 2:
            raise DatasetError(f"{path}:{line}: expected 'class{delimiter}category', got {row}")
        name, category = row[0].strip(), row[1].strip()
        if line == 1 and name.lower() == "class":
            continue
        mapping[name] = category
    return mapping


def builtin_categories(name: str) -> dict[str, str]:
    if name not in BUILTIN:
        raise DatasetError(f"no built-in categories for {name!r}; known: {', '.join(BUILTIN)}")
    resource = files(__package__) / f"{name}.tsv"
    with resource.open() as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    return {row[0]: row[1] for row in rows[1:] if len(row) == 2}


def categories_for(classes: Sequence[str], path: str | Path | None = None) -> dict[str, str] | None:
    """The category map that applies: ``path`` if given (it must cover every class), else a
    built-in map that covers every class, else None."""
    if path is not None:
        mapping = read_categories(path)
        missing = [name for name in classes if name not in mapping]
        if missing:
            raise DatasetError(
                f"{path}: no category for {len(missing)} class(es): {', '.join(missing[:5])}"
            )
        return mapping
    for name in BUILTIN:
        mapping = builtin_categories(name)
        if all(cls in mapping for cls in classes):
            return mapping
    return None
