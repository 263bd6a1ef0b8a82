"""Official split readers, on annotation folders written the way UCF101 and HMDB51 ship them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from vidact.config import DataConfig
from vidact.data.categories import builtin_categories, categories_for, read_categories
from vidact.data.index import DatasetError
from vidact.data.sources import build_index, hmdb51_index, ucf101_index

UCF_CLASSES = ["ApplyEyeMakeup", "Biking", "HandstandPushups"]
TEST_GROUPS = {1: range(1, 8), 2: range(8, 15), 3: range(15, 22)}


def write_ucf101(tmp_path: Path, clips: int = 2) -> tuple[Path, Path, dict[int, tuple[int, int]]]:
    """Videos ROOT/<Class>/v_<File>_gXX_cYY.avi and ucfTrainTestlist/, 25 groups per class."""
    root, notes = tmp_path / "UCF-101", tmp_path / "ucfTrainTestlist"
    notes.mkdir(parents=True)
    (notes / "classInd.txt").write_text(
        "".join(f"{i} {name}\n" for i, name in enumerate(UCF_CLASSES, start=1))
    )
    expected = {}
    for fold, test_groups in TEST_GROUPS.items():
        train, test = [], []
        for label, name in enumerate(UCF_CLASSES, start=1):
            file_name = "HandStandPushups" if name == "HandstandPushups" else name  # the trap
            for group in range(1, 26):
                for clip in range(1, clips + 1):
                    rel = f"{name}/v_{file_name}_g{group:02d}_c{clip:02d}.avi"
                    (root / rel).parent.mkdir(parents=True, exist_ok=True)
                    (root / rel).write_bytes(b"x")
                    if group in test_groups:
                        test.append(f"{rel}\n")
                    else:
                        train.append(f"{rel} {label}\n")
        (notes / f"trainlist0{fold}.txt").write_text("".join(train))
        (notes / f"testlist0{fold}.txt").write_text("".join(test))
        expected[fold] = (len(train), len(test))
    return root, notes, expected


def write_hmdb51(tmp_path: Path) -> tuple[Path, Path]:
    root, notes = tmp_path / "hmdb51", tmp_path / "testTrainMulti_7030_splits"
    notes.mkdir(parents=True)
    for name in ("brush_hair", "cartwheel"):
        for fold in (1, 2, 3):
            lines = []
            for film in range(10):
                video = f"Film{film}_{name}_u_nm_np1_fr_goo_{film % 3}.avi"
                (root / name / video).parent.mkdir(parents=True, exist_ok=True)
                (root / name / video).write_bytes(b"x")
                code = "0" if film == 9 else ("2" if (film + fold) % 3 == 0 else "1")
                lines.append(f"{video} {code} \n")
            (notes / f"{name}_test_split{fold}.txt").write_text("".join(lines))
    return root, notes


@pytest.mark.parametrize("fold", [1, 2, 3])
def test_ucf101_official_folds(tmp_path: Path, fold: int) -> None:
    root, notes, expected = write_ucf101(tmp_path)
    index = ucf101_index(root, notes, fold)
    assert index.classes == tuple(UCF_CLASSES)  # classInd order, labels 0-based
    assert (len(index.subset("train")), len(index.subset("test"))) == expected[fold]
    assert index.leaking_groups() == []
    test_groups = {int(i.group[1:]) for i in index.subset("test")}
    assert test_groups == set(TEST_GROUPS[fold])
    handstand = [i for i in index.items if "HandStand" in i.relpath]
    assert handstand and all(index.classes[i.label] == "HandstandPushups" for i in handstand)


def test_ucf101_validation_is_carved_from_train_by_group(tmp_path: Path) -> None:
    root, notes, expected = write_ucf101(tmp_path)
    data = DataConfig(
        root=str(root), dataset="ucf101", annotations=str(notes), fold=1, val_fraction=0.2
    )
    index = build_index(data, seed=0)
    assert len(index.subset("test")) == expected[1][1]
    assert len(index.subset("train")) + len(index.subset("val")) == expected[1][0]
    assert index.subset("val") and index.leaking_groups() == []
    summary = index.summary()
    assert summary["group_in_two_splits"] is False
    assert summary["videos"]["test"] == expected[1][1]


def test_missing_videos_are_counted_or_skipped(tmp_path: Path) -> None:
    root, notes, expected = write_ucf101(tmp_path)
    gone = sorted(root.rglob("*.avi"))[:3]
    for path in gone:
        path.unlink()
    with pytest.raises(DatasetError, match=r"3 of \d+ listed videos are missing.*--skip-missing"):
        ucf101_index(root, notes, 1)
    index = ucf101_index(root, notes, 1, skip_missing=True)
    assert len(index.items) == sum(expected[1]) - 3


def test_flat_layout_is_found_by_file_name(tmp_path: Path) -> None:
    root, notes, expected = write_ucf101(tmp_path)
    flat = tmp_path / "flat"
    flat.mkdir()
    for path in root.rglob("*.avi"):
        path.rename(flat / path.name)
    index = ucf101_index(flat, notes, 2)
    assert (len(index.subset("train")), len(index.subset("test"))) == expected[2]


def test_ucf101_annotation_errors(tmp_path: Path) -> None:
    root, notes, _ = write_ucf101(tmp_path)
    with pytest.raises(DatasetError, match="--fold must be 1, 2 or 3"):
        ucf101_index(root, notes, 4)
    (notes / "classInd.txt").write_text("1 ApplyEyeMakeup\n")
    with pytest.raises(DatasetError, match=r"'Biking' not in classInd\.txt"):
        ucf101_index(root, notes, 1)
    with pytest.raises(DatasetError, match="needs --annotations"):
        build_index(DataConfig(root=str(root), dataset="ucf101"), 0)


@pytest.mark.parametrize("fold", [1, 2, 3])
def test_hmdb51_official_folds(tmp_path: Path, fold: int) -> None:
    root, notes = write_hmdb51(tmp_path)
    index = hmdb51_index(root, notes, fold)
    assert index.classes == ("brush_hair", "cartwheel")
    films = range(9)  # film 9 is marked 0 = unused
    test = [f for f in films if (f + fold) % 3 == 0]
    assert len(index.subset("test")) == 2 * len(test)
    assert len(index.subset("train")) == 2 * (len(films) - len(test))
    assert not any("Film9" in i.relpath for i in index.items)
    assert {i.group for i in index.items if i.label == 0} == {f"Film{f}" for f in films}


def test_hmdb51_needs_its_split_files(tmp_path: Path) -> None:
    root, notes = write_hmdb51(tmp_path)
    (notes / "bad_test_split1.txt").write_text("clip.avi 7\n")
    with pytest.raises(DatasetError, match="bad line"):
        hmdb51_index(root, notes, 1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match=r"no <class>_test_split1\.txt"):
        hmdb51_index(root, empty, 1)


def test_builtin_category_maps() -> None:
    ucf, hmdb = builtin_categories("ucf101"), builtin_categories("hmdb51")
    assert len(ucf) == 101 and len(set(ucf.values())) == 5
    assert len(hmdb) == 51 and len(set(hmdb.values())) == 5
    assert ucf["HandstandPushups"] == "Body-Motion Only"
    assert categories_for(UCF_CLASSES) == ucf
    assert categories_for(["brush_hair", "cartwheel"]) == hmdb
    assert categories_for(["growing", "shrinking"]) is None


@pytest.mark.parametrize("delimiter", [",", "\t"])
def test_user_category_files(tmp_path: Path, delimiter: str) -> None:
    path = tmp_path / "cats.txt"
    path.write_text(f"class{delimiter}category\ngrowing{delimiter}size\nshrinking{delimiter}size\n")
    assert read_categories(path) == {"growing": "size", "shrinking": "size"}
    assert categories_for(["growing", "shrinking"], path)["growing"] == "size"
    with pytest.raises(DatasetError, match="no category for 1 class"):
        categories_for(["growing", "warming"], path)


def test_class_subsets_keep_the_official_splits(tmp_path: Path) -> None:
    root, notes, _ = write_ucf101(tmp_path)
    whole = build_index(
        DataConfig(root=str(root), dataset="ucf101", annotations=str(notes), val_fraction=0), 0
    )
    subset_file = tmp_path / "classes.txt"
    subset_file.write_text("# two of three\nHandstandPushups\nApplyEyeMakeup\n")
    for chosen in (
        {"classes": ("HandstandPushups", "ApplyEyeMakeup")},
        {"classes_file": str(subset_file)},
    ):
        config = DataConfig(
            root=str(root), dataset="ucf101", annotations=str(notes), val_fraction=0, **chosen
        )
        index = build_index(config, 0)
        assert index.classes == ("ApplyEyeMakeup", "HandstandPushups")  # the dataset's order
        for split in ("train", "test"):  # the official counts, restricted to those classes
            expected = [i for i in whole.subset(split) if whole.classes[i.label] != "Biking"]
            assert sorted(i.relpath for i in index.subset(split)) == sorted(
                i.relpath for i in expected
            )
        assert all(index.classes[i.label] in i.relpath for i in index.items)
    hmdb_root, hmdb_notes = write_hmdb51(tmp_path)
    hmdb = DataConfig(
        root=str(hmdb_root), dataset="hmdb51", annotations=str(hmdb_notes), val_fraction=0
    )
    with pytest.raises(DatasetError, match=r"'cartweel' \(did you mean 'cartwheel'\?\)"):
        build_index(replace(hmdb, classes=("brush_hair", "cartweel")), 0)
    with pytest.raises(DatasetError, match="at least two different classes"):
        build_index(replace(hmdb, classes=("brush_hair",)), 0)
    with pytest.raises(DatasetError, match="--classes or --classes-file, not both"):
        build_index(replace(hmdb, classes=("a", "b"), classes_file=str(subset_file)), 0)


def test_a_folder_s_own_split_file_is_named_when_vidact_draws_its_own(
    tmp_path: Path, caplog
) -> None:
    for name in ("a", "b"):
        for clip in range(4):
            (tmp_path / name / f"v_{name}_g{clip:02d}_c01.mp4").parent.mkdir(exist_ok=True)
            (tmp_path / name / f"v_{name}_g{clip:02d}_c01.mp4").write_bytes(b"x")
    with caplog.at_level("INFO", logger="vidact.data.sources"):
        build_index(DataConfig(root=str(tmp_path)), seed=0)
    assert "split.csv" not in caplog.text
    (tmp_path / "split.csv").write_text("path,split\n")
    with caplog.at_level("INFO", logger="vidact.data.sources"):
        build_index(DataConfig(root=str(tmp_path)), seed=0)
    assert f"{tmp_path / 'split.csv'} is not read: vidact draws its own split" in caplog.text
