"""Batch tagging: a folder into CSV / JSON lines, with a corrupt file; resumed; sharded."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import invoke, real_clip, runner
from vidact.cli.main import app
from vidact.errors import ConfigError
from vidact.inference.corpus import find_videos, parse_shard, shard_of


@pytest.fixture
def corpus(tmp_path: Path, synthetic_dataset) -> Path:
    """Nine videos in nested folders, one corrupt file, one hidden file, one text file."""
    punch = real_clip("UCF101", "Punch", "v_Punch_g03_c01.avi")
    root = tmp_path / "corpus"
    for i, video in enumerate(sorted(Path(synthetic_dataset.root).glob("*/*.mp4"))[:8]):
        target = root / f"part{i % 2}" / video.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(video, target)
    shutil.copy(punch, root / "punch.avi")
    (root / "part0" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    (root / "part1" / ".hidden.mp4").write_bytes(b"not indexed")
    (root / "notes.txt").write_text("not a video")
    return root


def _run(*args: object) -> tuple[int, str]:
    result = runner.invoke(app, ["predict", *map(str, args)])
    return result.exit_code, result.output


def test_a_folder_with_a_corrupt_file_is_tagged_and_the_file_reported(
    trained_run: Path, corpus: Path, tmp_path: Path
) -> None:
    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    table, lines = tmp_path / "out.csv", tmp_path / "out.jsonl"
    code, output = _run(
        checkpoint, corpus, "--csv", table, "--jsonl", lines, "--workers", "2", "--batch-size", "3"
    )
    assert code == 2, output  # finished, with a failure to report
    assert "broken.mp4" in output and "9 of 10 video(s) tagged, 1 unreadable" in output
    rows = list(csv.DictReader(table.open()))
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [r["video"] for r in rows] == [r["video"] for r in records]
    assert len(rows) == 10 and not any(".hidden" in r["video"] for r in rows)
    (bad,) = [r for r in rows if r["error"]]
    assert bad["video"].endswith("broken.mp4") and "broken.mp4" in bad["error"]
    good = [r for r in records if "error" not in r]
    assert all(len(r["top_k"]) == 5 and r["timeline"] for r in good)
    # the workers' answer is the single-video answer
    single = json.loads(invoke("predict", checkpoint, corpus / "punch.avi", "--json"))
    (batched,) = [r for r in records if r["video"].endswith("punch.avi")]
    assert batched["top_k"] == single["top_k"]


def test_resume_skips_what_is_done_and_repairs_a_cut_last_line(
    trained_run: Path, corpus: Path, tmp_path: Path
) -> None:
    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    lines = tmp_path / "out.jsonl"
    videos = find_videos([corpus])
    _run(checkpoint, *videos[:4], "--jsonl", lines, "--workers", "0")
    assert len(lines.read_text().splitlines()) == 4
    with lines.open("a") as handle:
        handle.write('{"video": "cut off by a kill')  # an interrupted write
    code, output = _run(checkpoint, corpus, "--jsonl", lines)
    assert code == 2 and f"--jsonl {lines} exists; pass --overwrite" in output
    code, output = _run(checkpoint, corpus, "--jsonl", lines, "--resume", "--workers", "0")
    assert "resuming: 4 video(s) already done" in output
    records = [json.loads(line) for line in lines.read_text().splitlines()]
    assert sorted(r["video"] for r in records) == sorted(map(str, videos))
    code, output = _run(checkpoint, corpus, "--jsonl", lines, "--resume")
    assert "0 of 0 video(s) tagged" in output
    assert len(lines.read_text().splitlines()) == len(videos)


def test_shards_split_a_corpus_without_overlap(corpus: Path, tmp_path: Path) -> None:
    inputs = [corpus, f"{corpus}/part0/*.mp4"]  # a glob repeating files adds none
    videos = find_videos(inputs)
    assert len(videos) == 10
    shards = [shard_of(videos, inputs, (i, 3)) for i in (1, 2, 3)]
    assert sorted(v for shard in shards for v in shard) == sorted(videos)
    assert all(shards)
    mounted = shutil.copytree(corpus, tmp_path / "elsewhere" / "mnt")  # another machine's mount
    elsewhere = [shard_of(find_videos([mounted]), [mounted], (i, 3)) for i in (1, 2, 3)]
    assert [[v.relative_to(mounted) for v in s] for s in elsewhere] == [
        [v.relative_to(corpus) for v in s] for s in shards
    ]
    for text in ("0/3", "4/3", "two/3", "1"):
        with pytest.raises(ConfigError, match="--shard"):
            parse_shard(text)


def test_python_callers_tag_a_shard_resumably(
    trained_run: Path, corpus: Path, tmp_path: Path
) -> None:
    """What `vidact predict --csv --shard --resume` does, from vidact.load and Corpus."""
    import vidact
    from vidact.inference.corpus import Corpus

    checkpoint = trained_run / "checkpoints" / "best.ckpt"
    model = vidact.load(str(checkpoint), device="cpu")
    table = tmp_path / "tags.csv"
    existing = tmp_path / "old.csv"
    existing.write_text("kept")
    with pytest.raises(ConfigError, match="exists"):  # checked before any model runs
        Corpus.find([corpus], rows=[existing])
    assert existing.read_text() == "kept"
    shard = Corpus.find([corpus], rows=[table], shard="1/2")
    first = list(shard.tag(model, topk=2, workers=0))
    assert [r["video"] for r in first] == [str(v) for v in shard.videos]
    assert [r["video"] for r in csv.DictReader(table.open())] == [r["video"] for r in first]
    # resumed over the whole corpus: the shard's videos are not predicted again
    rest = list(Corpus.find([corpus], rows=[table], resume=True).tag(model, workers=0))
    assert {r["video"] for r in rest} == {str(v) for v in find_videos([corpus])} - {
        r["video"] for r in first
    }
    assert len(list(csv.DictReader(table.open()))) == len(find_videos([corpus]))
