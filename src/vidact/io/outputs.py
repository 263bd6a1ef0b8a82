"""The output rule: one check for every file a command writes at a path the user named.

- never one of the command's inputs (videos, checkpoints): paths compared after following
  symlinks, and as files (hard links), so ``--output in.mp4`` cannot destroy ``in.mp4``;
- an existing file is replaced only when asked (``--overwrite``); a folder never; a report
  folder (``--out``) is new, empty or one vidact wrote, unless asked (``check_folder``);
- checked before any expensive work: the folder it goes in must exist (or be creatable) and be
  writable;
- written to a hidden temporary file beside it and renamed at the end (``replacing``), so a
  failure half-way leaves the old file as it was and never a half-written one under its name.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from vidact.errors import ConfigError

REPORT_MARK = ".vidact-report"  # in every folder vidact writes a report in


def check_output(
    path: str | Path,
    reads: Iterable[str | Path] = (),
    overwrite: bool = False,
    option: str = "--output",
    suffixes: Iterable[str] | None = None,
) -> Path:
    """``path`` if a command may write it (the rule above), else a ConfigError naming it.

    ``reads``: the files the command reads (never written); ``suffixes``: the endings allowed.
    """
    path = Path(path)
    shown = f"{option} {path}"
    for given in reads:
        if _same_file(path, Path(given)):
            raise ConfigError(
                f"{shown}: that is an input of this command ({given}); choose another name"
            )
    if path.is_dir():
        raise ConfigError(f"{shown}: is a folder; name a file")
    allowed = tuple(suffixes) if suffixes is not None else None
    if allowed is not None and path.suffix.lower() not in allowed:
        raise ConfigError(f"{shown}: the file must end in {' or '.join(allowed)}")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise ConfigError(
                f"{shown} exists; pass --overwrite to replace it, or choose another name"
            )
        if not path.is_file():
            raise ConfigError(f"{shown}: not a regular file; it is not replaced")
    _check_writable(path.parent, shown)
    return path


def check_folder(path: str | Path, overwrite: bool = False, option: str = "--out") -> Path:
    """A report folder a command may write into: new, empty, one vidact wrote (its mark,
    ``report_folder``: a crossval or a grid goes on from its finished runs), or any folder
    with ``overwrite``; never a file, and in a writable place. Writes nothing."""
    path = Path(path)
    shown = f"{option} {path}"
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{shown}: is a file; name a folder for the report")
    _check_writable(path, shown)
    if not overwrite and path.is_dir() and any(path.iterdir()) and not _marked(path):
        raise ConfigError(
            f"{shown}: holds files vidact did not write; name a new folder, or pass "
            "--overwrite to write the report among them"
        )
    return path


def report_folder(path: str | Path) -> Path:
    """``path`` made (if new) and marked as a vidact report, once the work that writes it
    starts (``check_folder`` then lets vidact write there again)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if not _marked(path):
        (path / REPORT_MARK).write_text("a folder vidact writes its reports in\n")
    return path


def _marked(folder: Path) -> bool:
    mark = folder / REPORT_MARK
    return mark.is_file() and not mark.is_symlink()


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except (OSError, RuntimeError):  # a symlink loop, an unreadable folder: not the same file
        return False


def _check_writable(folder: Path, shown: str) -> None:
    """The nearest existing folder above the output takes a new file (probed, not guessed:
    permissions, read-only mounts and /proc all answer the same way)."""
    existing = folder if str(folder) else Path(".")
    while not existing.exists():
        if existing.is_symlink() or existing.parent == existing:
            raise ConfigError(f"{shown}: its folder {folder} cannot be created")
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError(f"{shown}: {existing} is a file, not a folder")
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".vidact-probe-")
    except OSError as err:
        raise ConfigError(f"{shown}: cannot write in {existing} ({err.strerror})") from None
    os.close(handle)
    os.unlink(probe)


@contextlib.contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` (same suffix, so writers pick the same format) that
    becomes ``path`` when the block ends without an error; removed otherwise."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(f"{path}: cannot create its folder ({err.strerror})") from None
    partial = path.with_name(f".{path.stem}.{secrets.token_hex(4)}.partial{path.suffix}")
    try:
        yield partial
        if not partial.exists():
            raise ConfigError(f"{path}: nothing was written")
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)
