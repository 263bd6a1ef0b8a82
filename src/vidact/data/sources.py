"""Where videos and their split come from: a class-folder tree, or UCF101 / HMDB51's official
splits, read as their authors published them (``build_index`` picks by ``--dataset``).

UCF101 (``--annotations ucfTrainTestlist``): ``classInd.txt`` (``1 ApplyEyeMakeup`` .. 1-based),
``trainlist0N.txt`` (``Class/v_Class_gXX_cYY.avi N``) and ``testlist0N.txt`` (``Class/v_...avi``).
The class comes from the folder part of each line: the ``HandstandPushups`` folder holds files
named ``v_HandStandPushups_...``, so names taken from file names would not match classInd.txt.
Groups are the ``gXX`` ids; the official test folds hold g01-g07, g08-g14 and g15-g21.

HMDB51 (``--annotations testTrainMulti_7030_splits``): ``<class>_test_split<N>.txt`` with lines
``video.avi <id>``, 1 = train, 2 = test, 0 = unused (left out). Groups are the source film, the
part of the file name before ``_<class>_``, so clips of one film stay in one split when
validation is carved out of train.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from vidact.config import DataConfig
from vidact.data.index import (
    DatasetError,
    VideoIndex,
    VideoItem,
    carve_validation,
    check_split,
    folder_split_file,
    group_of,
    is_hidden,
    make_split,
    read_class_names,
    scan_folder,
    select_classes,
)

log = logging.getLogger(__name__)

DATASETS = ("folder", "ucf101", "hmdb51")
_HMDB_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<fold>[123])\.txt$")


def _check_fold(fold: int) -> None:
    if fold not in (1, 2, 3):
        raise DatasetError(f"--fold must be 1, 2 or 3, got {fold}")


def _lines(path: Path) -> list[list[str]]:
    if not path.is_file():
        raise DatasetError(f"{path}: annotation file not found")
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


class _Locator:
    """Finds listed videos under ROOT: as listed, by file name alone, or ignoring case."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._by_name: dict[str, Path] | None = None

    def find(self, relpath: str) -> Path | None:
        direct = self.root / relpath
        if direct.is_file():
            return direct
        if self._by_name is None:  # one scan, only when some file is not where the list says
            self._by_name = {
                p.name.lower(): p
                for p in self.root.rglob("*")
                if p.is_file() and not is_hidden(p.name)
            }
        return self._by_name.get(Path(relpath).name.lower())


def _resolve(
    root: Path,
    listed: list[tuple[str, int, str, str]],
    skip_missing: bool,
    classes: tuple[str, ...],
) -> VideoIndex:
    """Items for (relpath, label, group, split) rows that exist under ROOT."""
    locator = _Locator(root)
    items, missing = [], []
    for relpath, label, group, split in listed:
        path = locator.find(relpath)
        if path is None:
            missing.append(relpath)
            continue
        items.append(
            VideoItem(path.resolve(), path.relative_to(root).as_posix(), label, group, split)
        )
    if missing:
        shown = ", ".join(missing[:5])
        message = f"{root}: {len(missing)} of {len(listed)} listed videos are missing: {shown}"
        if not skip_missing:
            raise DatasetError(f"{message} (pass --skip-missing to go on without them)")
        log.warning("%s; going on without them", message)
    if not items:
        raise DatasetError(f"{root}: none of the listed videos were found")
    return VideoIndex(root, classes, tuple(items))


def ucf101_index(
    root: str | Path, annotations: str | Path, fold: int, skip_missing: bool = False
) -> VideoIndex:
    """UCF101 fold ``fold`` (train and test from the official lists)."""
    _check_fold(fold)
    root, annotations = Path(root).resolve(), Path(annotations)
    ids = {}
    for parts in _lines(annotations / "classInd.txt"):
        if len(parts) != 2 or not parts[0].isdigit():
            raise DatasetError(f"{annotations / 'classInd.txt'}: bad line {' '.join(parts)!r}")
        ids[parts[1]] = int(parts[0]) - 1  # 1-based in the file
    classes = tuple(sorted(ids, key=ids.get))
    listed = []
    for split, name in (("train", f"trainlist0{fold}.txt"), ("test", f"testlist0{fold}.txt")):
        for parts in _lines(annotations / name):
            relpath = parts[0]
            folder = relpath.split("/")[0]
            if folder not in ids:
                raise DatasetError(f"{annotations / name}: class {folder!r} not in classInd.txt")
            listed.append((relpath, ids[folder], group_of(relpath, None), split))
    return _resolve(root, listed, skip_missing, classes)


def hmdb51_index(
    root: str | Path, annotations: str | Path, fold: int, skip_missing: bool = False
) -> VideoIndex:
    """HMDB51 fold ``fold``: 1 = train, 2 = test, 0 = unused."""
    _check_fold(fold)
    root, annotations = Path(root).resolve(), Path(annotations)
    if not annotations.is_dir():
        raise DatasetError(f"{annotations}: annotation folder not found")
    files = {}
    for path in annotations.iterdir():
        match = _HMDB_FILE.match(path.name)
        if match and int(match["fold"]) == fold:
            files[match["cls"]] = path
    if not files:
        raise DatasetError(f"{annotations}: no <class>_test_split{fold}.txt files")
    classes = tuple(sorted(files))
    listed = []
    for label, name in enumerate(classes):
        for parts in _lines(files[name]):
            if len(parts) != 2 or parts[1] not in {"0", "1", "2"}:
                raise DatasetError(f"{files[name]}: bad line {' '.join(parts)!r}")
            if parts[1] == "0":
                continue
            video = parts[0]
            group = video.split(f"_{name}_")[0] if f"_{name}_" in video else video
            listed.append((f"{name}/{video}", label, group, "train" if parts[1] == "1" else "test"))
    return _resolve(root, listed, skip_missing, classes)


def build_index(data: DataConfig, seed: int) -> VideoIndex:
    """The split index a training run (or ``vidact dataset``) uses, validation included; only
    the ``--classes`` asked for, with the split they have in the whole dataset."""
    wanted = read_class_names(data.classes, data.classes_file)
    if data.dataset == "folder":
        if data.split_file is None and (unread := folder_split_file(data.root)) is not None:
            log.info("%s is not read: vidact draws its own split (--split-file reads it)", unread)
        index = make_split(
            scan_folder(data.root, data.extensions, data.group_regex, data.groups_file),
            data.split_file,
            data.val_fraction,
            data.test_fraction,
            seed,
        )
        if wanted is not None:
            index = select_classes(index, wanted)
            check_split(index)
        return index
    if data.dataset not in DATASETS:
        raise DatasetError(f"unknown --dataset {data.dataset!r}; known: {', '.join(DATASETS)}")
    if data.annotations is None:
        raise DatasetError(f"--dataset {data.dataset} needs --annotations DIR (the split files)")
    reader = ucf101_index if data.dataset == "ucf101" else hmdb51_index
    index = reader(data.root, data.annotations, data.fold, data.skip_missing)
    index = carve_validation(select_classes(index, wanted), data.val_fraction, seed)
    check_split(index)
    return index
