"""A small-data split of a synthetic set: 7 groups (21 clips) per class to train, 2 to validate,
the rest (33 per class with ``--videos-per-class 60``) to test, the same groups for every class.

    vidact synth data/small --videos-per-class 60 --size 128 --seed 101
    python docs/experiments/small_data_split.py data/small 101   # writes data/small/small.csv
"""

from __future__ import annotations

import csv
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

TRAIN_GROUPS, VAL_GROUPS = 7, 2


def main(root: Path, seed: int) -> None:
    rows = list(csv.DictReader((root / "split.csv").open()))
    groups: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        found = re.match(r"(\w+)/v_\w+_g(\d+)_c", row["path"])
        assert found, row["path"]
        groups[found[1]][found[2]].append(row["path"])
    chosen = []
    for by_group in groups.values():
        keys = sorted(by_group)
        random.Random(seed).shuffle(keys)  # the same order for every class
        for rank, key in enumerate(keys):
            split = (
                "train"
                if rank < TRAIN_GROUPS
                else "val"
                if rank < TRAIN_GROUPS + VAL_GROUPS
                else "test"
            )
            chosen += [(path, split) for path in by_group[key]]
    with (root / "small.csv").open("w") as handle:
        handle.write("path,split\n")
        handle.writelines(f"{path},{split}\n" for path, split in chosen)
    print(Counter(split for _, split in chosen))


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]))
