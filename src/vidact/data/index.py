"""Which videos exist, their labels, their groups and the split each belongs to.

Groups are what must never be split: clips cut from one longer recording, or one actor and scene
(UCF101's ``_gNN_``). Every automatic split here keeps a group inside one split and is stratified by
class, so a test score never rewards memorising a scene seen in training.
"""

from __future__ import annotations

import csv
import difflib
import io
import logging
import os
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from vidact.config import VIDEO_EXTENSIONS
from vidact.errors import DatasetError
from vidact.io.tables import relative_path, table_rows

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")
UCF_GROUP_REGEX = r"_(g\d+)_"


@dataclass(frozen=True)
class VideoItem:
    path: Path  # absolute
    relpath: str  # relative to the dataset root, POSIX separators: the key in split files
    label: int
    group: str
    split: str | None = None


@dataclass(frozen=True)
class VideoIndex:
    """The videos of one dataset root with their classes (sorted names, index = label)."""

    root: Path
    classes: tuple[str, ...]
    items: tuple[VideoItem, ...]

    @property
    def groups_known(self) -> bool:
        """False when every video is its own group: clips sharing a person or scene cannot
        be kept together, and sharing across splits is invisible."""
        return not all(item.group == item.relpath for item in self.items)

    def subset(self, split: str) -> list[VideoItem]:
        return [item for item in self.items if item.split == split]

    def counts(self) -> dict[str, dict[str, int]]:
        """Videos per split and class."""
        table: dict[str, dict[str, int]] = {}
        for split in SPLITS:
            counter = Counter(self.classes[i.label] for i in self.items if i.split == split)
            table[split] = {name: counter.get(name, 0) for name in self.classes}
        return table

    def summary(self) -> dict[str, object]:
        """Classes, videos per split and class, groups per split, and any group that leaks."""
        groups = {split: len({i.group for i in self.items if i.split == split}) for split in SPLITS}
        leaks = self.leaking_groups()
        return {
            "root": str(self.root),
            "classes": list(self.classes),
            "videos": {split: len(self.subset(split)) for split in SPLITS},
            "counts": self.counts(),
            "groups": groups,
            "group_in_two_splits": bool(leaks),
            "leaking_groups": leaks,
        }

    def validation_report(self) -> dict[str, object]:
        """How independent validation is from training: a validation score on clips of the
        people or scenes seen in training says little about new ones (it reads 1.000 while the
        test on new people is at chance), and picks best.ckpt and early stopping blind."""
        train = {item.group for item in self.items if item.split == "train"}
        val = {item.group for item in self.items if item.split == "val"}
        return {
            "groups_known": self.groups_known,
            "val_groups": len(val),
            "groups_shared_with_train": sorted(train & val),
        }

    def leaking_groups(self) -> list[str]:
        """Groups found in more than one split (should always be empty)."""
        splits_of: dict[str, set[str]] = defaultdict(set)
        for item in self.items:
            if item.split is not None:
                splits_of[item.group].add(item.split)
        return sorted(group for group, splits in splits_of.items() if len(splits) > 1)

    def split_csv(self, column: str = "split") -> str:
        """Each split video's ``column`` (split or group) as CSV ``path,COLUMN``, sorted by path:
        the format ``--split-file`` (or ``--groups``) reads."""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["path", column])
        for item in sorted(self.items, key=lambda i: i.relpath):
            if item.split is not None:
                writer.writerow([item.relpath, getattr(item, column)])
        return buffer.getvalue()

    def write_split_csv(self, path: Path, column: str = "split") -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.split_csv(column))


def select_classes(index: VideoIndex, wanted: Sequence[str] | None) -> VideoIndex:
    """The videos of the ``wanted`` classes only, relabelled in the index's class order; splits
    already given (official lists, split files) stay as they are."""
    if wanted is None:
        return index
    unknown = [name for name in wanted if name not in index.classes]
    if unknown:
        hints = [
            f"{name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
            for name in unknown
            for close in [difflib.get_close_matches(name, index.classes, n=1, cutoff=0.6)]
        ]
        raise DatasetError(
            f"{index.root}: unknown class(es) {', '.join(hints)}; it has {len(index.classes)}: "
            f"{', '.join(index.classes[:20])}{' ...' if len(index.classes) > 20 else ''}"
        )
    if len(set(wanted)) < 2:
        raise DatasetError("--classes: name at least two different classes")
    kept = tuple(name for name in index.classes if name in set(wanted))
    label_of = {index.classes.index(name): i for i, name in enumerate(kept)}
    items = tuple(
        replace(item, label=label_of[item.label]) for item in index.items if item.label in label_of
    )
    return VideoIndex(index.root, kept, items)


def read_class_names(classes: Sequence[str] | None, classes_file: str | None) -> list[str] | None:
    """Names from ``--classes`` or from a file (one per line, or comma-separated; # comments)."""
    if classes is not None and classes_file is not None:
        raise DatasetError("give --classes or --classes-file, not both")
    if classes_file is None:
        return list(classes) if classes is not None else None
    path = Path(classes_file)
    if not path.is_file():
        raise DatasetError(f"--classes-file {path}: not found")
    names = []
    for line in path.read_text().splitlines():
        names += [n.strip() for n in line.split("#")[0].split(",") if n.strip()]
    if not names:
        raise DatasetError(f"--classes-file {path}: no class names in it")
    return names


def is_hidden(name: str) -> bool:
    """Hidden files and folders (``.DS_Store``, macOS ``._clip.mp4`` resource forks) are not
    videos, whatever their suffix."""
    return name.startswith(".")


def video_files(folder: Path, suffixes: Sequence[str] = VIDEO_EXTENSIONS) -> list[Path]:
    """Video files anywhere under FOLDER, sorted, hidden files and folders left out.

    Linked folders are followed (a dataset assembled with ``ln -s``), each real folder once and
    none that holds FOLDER itself, so a link back up the tree neither loops nor wanders off."""
    wanted = {ext.lower() for ext in suffixes}
    root = os.path.realpath(folder)
    seen = {root}
    found: list[Path] = []
    for top, dirs, names in os.walk(folder, followlinks=True):
        kept = []
        for name in sorted(dirs):
            real = os.path.realpath(os.path.join(top, name))
            if is_hidden(name) or real in seen or os.path.commonpath([root, real]) == real:
                continue
            seen.add(real)
            kept.append(name)
        dirs[:] = kept
        found += [
            Path(top, name)
            for name in names
            if not is_hidden(name)
            and Path(name).suffix.lower() in wanted
            and os.path.isfile(os.path.join(top, name))
        ]
    return sorted(found)


def group_of(relpath: str, group_regex: str | None) -> str:
    """The group id of a video: the regex's first capture group, else the file itself.

    With no regex, UCF101-style ``_gNN_`` ids are used when present.
    """
    name = Path(relpath).name
    match = re.search(group_regex or UCF_GROUP_REGEX, name)
    return match.group(1) if match else relpath


def scan_folder(
    root: str | Path,
    extensions: Sequence[str] = VIDEO_EXTENSIONS,
    group_regex: str | None = None,
    groups_file: str | Path | None = None,
) -> VideoIndex:
    """Index ``ROOT/<class>/<video>``; classes are the sub-folder names, sorted. Each video's
    group comes from ``groups_file`` (CSV ``path,group``) when given, else from its name."""
    root = Path(root).expanduser().resolve()
    if root.is_file():
        raise DatasetError(f"{root}: a file, not a dataset folder (ROOT/<class>/<video>)")
    if not root.is_dir():
        raise DatasetError(f"{root}: dataset folder not found")
    if group_regex is not None:
        _check_group_regex(group_regex)
    suffixes = {ext.lower() if ext.startswith(".") else f".{ext.lower()}" for ext in extensions}
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not is_hidden(p.name))
    items: list[VideoItem] = []
    classes: list[str] = []
    for class_dir in class_dirs:
        videos = video_files(class_dir, sorted(suffixes))
        if not videos:
            continue
        label = len(classes)
        classes.append(class_dir.name)
        for video in videos:
            relpath = video.relative_to(root).as_posix()
            items.append(VideoItem(video, relpath, label, group_of(relpath, group_regex)))
    if len(classes) < 2:
        raise DatasetError(
            f"{root}: found {len(classes)} class folder(s) with videos "
            f"({', '.join(sorted(suffixes))}); "
            "expected ROOT/<class>/<video> with at least two classes"
        )
    if group_regex is not None and all(i.group == i.relpath for i in items):
        raise DatasetError(f"--group-regex {group_regex!r} matched none of the {len(items)} files")
    if groups_file is not None:
        groups = read_groups_file(groups_file)
        missing = [item.relpath for item in items if item.relpath not in groups]
        if missing:
            raise DatasetError(
                f"--groups {groups_file}: {len(missing)} video(s) under {root} are not listed "
                f"(each needs its group): {', '.join(missing[:5])}"
            )
        items = [replace(item, group=groups[item.relpath]) for item in items]
    return VideoIndex(root, tuple(classes), tuple(items))


def read_groups_file(path: str | Path) -> dict[str, str]:
    """``path,group`` CSV (paths relative to the dataset root) -> {path: group}."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"--groups {path}: file not found")
    groups = {}
    for line, row in table_rows(path, ("path", "group"), f"--groups {path}", DatasetError):
        if not row["path"] or not row["group"]:
            raise DatasetError(f"--groups {path}:{line}: a path and a group are needed")
        groups[relative_path(row["path"])] = row["group"]
    return groups


def _check_group_regex(group_regex: str) -> None:
    try:
        pattern = re.compile(group_regex)
    except re.error as err:
        raise DatasetError(f"--group-regex {group_regex!r} is not a valid regex: {err}") from err
    if pattern.groups != 1:
        raise DatasetError(
            f"--group-regex {group_regex!r} must have exactly one capture group, "
            f"e.g. '_(g\\d+)_'; it has {pattern.groups}"
        )


def read_split_file(index: VideoIndex, split_file: str | Path) -> VideoIndex:
    """Assign splits from a ``path,split`` CSV; videos it does not list are left out."""
    split_file = Path(split_file)
    if not split_file.is_file():
        raise DatasetError(f"{split_file}: split file not found")
    by_path = {item.relpath: item for item in index.items}
    assigned: dict[str, str] = {}
    unknown: list[str] = []
    for line, row in table_rows(split_file, ("path", "split"), str(split_file), DatasetError):
        path, split = relative_path(row["path"]), row["split"]
        if split not in SPLITS:
            raise DatasetError(
                f"{split_file}:{line}: split {split!r} is not one of {', '.join(SPLITS)}"
            )
        if path not in by_path:
            unknown.append(path)
        assigned[path] = split
    if unknown:
        shown = ", ".join(unknown[:5])
        raise DatasetError(
            f"{split_file}: {len(unknown)} listed video(s) not found under {index.root}: {shown}"
        )
    left_out = len(index.items) - len(assigned)
    if left_out:
        log.info(
            "%s lists %d of the %d videos under %s; the other %d are not used",
            split_file,
            len(assigned),
            len(index.items),
            index.root,
            left_out,
        )
    items = tuple(
        replace(item, split=assigned[item.relpath])
        for item in index.items
        if item.relpath in assigned
    )
    return replace(index, items=items)


def split_by_groups(
    items: Sequence[VideoItem],
    fractions: dict[str, float],
    num_classes: int,
    seed: int,
    rest: str = "train",
) -> list[VideoItem]:
    """Assign whole groups to splits so each split holds ``fraction`` of every class.

    Groups are visited in a seeded random order, larger first by powers of two (sizes 4-7
    before 2-3, so small groups fill the gaps; strictly largest first made the order, and so
    the split, the same for every seed when no two groups have one size), and each goes to the
    split whose per-class quota it fills best; ``rest`` takes what is left.
    """
    total = sum(fractions.values())
    if any(f < 0 for f in fractions.values()) or total >= 1:
        raise DatasetError(f"split fractions must be >= 0 and sum below 1, got {fractions}")
    members: dict[str, list[VideoItem]] = defaultdict(list)
    for item in items:
        members[item.group].append(item)
    per_class = np.bincount([i.label for i in items], minlength=num_classes)
    targets = {split: per_class * frac for split, frac in fractions.items()}
    filled = {split: np.zeros(num_classes) for split in fractions}
    rng = np.random.default_rng(seed)
    order = sorted(members)
    rng.shuffle(order)
    order.sort(key=lambda g: -len(members[g]).bit_length())  # stable: ties keep the seeded order
    assignment: dict[str, str] = {}
    for group in order:
        counts = np.bincount([i.label for i in members[group]], minlength=num_classes)
        best, best_gain = rest, 0.0
        for split in fractions:
            deficit = np.clip(targets[split] - filled[split], 0, None)
            # gain: videos that land where the quota still wants them minus those overshooting
            gain = float(
                np.minimum(counts, deficit).sum() - np.clip(counts - deficit, 0, None).sum()
            )
            if gain > best_gain:
                best, best_gain = split, gain
        assignment[group] = best
        if best in filled:
            filled[best] += counts
    return [replace(item, split=assignment[item.group]) for item in items]


def deal_groups(
    items: Sequence[VideoItem], folds: int, num_classes: int, seed: int
) -> dict[str, int]:
    """Group -> fold (1..``folds``): whole groups, each fold about 1/K of every class (with few
    groups a fold may stay empty)."""
    shares = {f"{k}": 1 / folds for k in range(1, folds)}
    dealt = split_by_groups(items, shares, num_classes, seed, rest=str(folds))
    return {item.group: int(item.split or folds) for item in dealt}


def carve_validation(index: VideoIndex, val_fraction: float, seed: int) -> VideoIndex:
    """Move ``val_fraction`` of the train videos, whole groups, to validation (if none yet)."""
    if val_fraction <= 0 or index.subset("val"):
        return index
    carved = {
        item.relpath: item
        for item in split_by_groups(
            index.subset("train"), {"val": val_fraction}, len(index.classes), seed
        )
    }
    return replace(index, items=tuple(carved.get(i.relpath, i) for i in index.items))


def folder_split_file(root: str | Path) -> Path | None:
    """The ``split.csv`` a dataset folder holds (as ``vidact synth`` writes), if any: read only
    when given as ``--split-file``, which the commands that skip it say."""
    path = Path(root) / "split.csv"
    return path if path.is_file() else None


def make_split(
    index: VideoIndex,
    split_file: str | Path | None = None,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
) -> VideoIndex:
    """The split to use: from ``split_file`` if given, else a group-aware stratified one.

    A split file without ``val`` rows gets validation carved out of its train rows, group-aware.
    A split file that puts a known group both in test and elsewhere is refused (validation
    sharing groups with training is only warned about: the run records it).
    """
    made_by_vidact = split_file is None
    if split_file is not None:
        given = read_split_file(index, split_file)
        test = {item.group for item in given.subset("test")}
        leaks = sorted(test & {item.group for item in given.items if item.split != "test"})
        if index.groups_known and leaks:  # the file itself puts a source on both sides of the test
            raise DatasetError(
                f"{split_file}: {len(leaks)} group(s) sit on both sides of the split "
                f"({', '.join(leaks[:5])}): their clips share people or scenes, so the test "
                "figures would flatter the model; keep each group in one split"
            )
        made_by_vidact = bool(
            val_fraction > 0 and given.subset("train") and not given.subset("val")
        )
        index = carve_validation(given, val_fraction, seed)
    else:
        fractions = {"test": test_fraction, "val": val_fraction}
        items = tuple(split_by_groups(index.items, fractions, len(index.classes), seed))
        index = replace(index, items=items)
    if made_by_vidact and not index.groups_known:  # only when vidact draws the lines itself
        log.warning(
            "no group ids found in the file names: each video is its own group. If clips share "
            "an actor or a scene, pass --groups groups.csv or --group-regex (e.g. "
            "'(person\\d+)_') so they stay in one split: otherwise %s holds the people or scenes "
            "of training",
            "validation" if split_file is not None else "validation and test",
        )
    check_split(index)
    return index


def check_split(index: VideoIndex) -> None:
    """Warn about groups a split file put on both sides (training refuses an empty training
    split itself: a split file of test videos alone is what evaluation may be given)."""
    leaks = index.leaking_groups()
    if leaks:
        log.warning(
            "%d group(s) sit in more than one split (from the split file): %s",
            len(leaks),
            ", ".join(leaks[:5]),
        )
