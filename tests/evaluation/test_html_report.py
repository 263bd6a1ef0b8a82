"""The HTML report renders in Chromium with every image, and the dataset overview."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ARTIFACTS, CHROMIUM, invoke, needs_chromium, runner, split_args
from vidact.cli.main import app
from vidact.evaluation.compare import tabulate_dirs, write_comparison
from vidact.io.writer import write_video


@pytest.mark.slow
@needs_chromium
def test_the_report_opens_in_chromium_with_every_image(
    trained_run: Path, synthetic_dataset, tmp_path: Path
) -> None:
    playwright = pytest.importorskip("playwright.sync_api")
    evaluation, outside = tmp_path / "eval", tmp_path / "outside"
    noise = np.random.default_rng(0).integers(0, 255, (3, 12, 32, 32, 3), np.uint8)
    for i, frames in enumerate(noise):  # videos of no activity the model knows
        write_video(outside / f"noise_{i}.mp4", frames, 8.0)
    invoke("evaluate", trained_run / "checkpoints/best.ckpt", *split_args(synthetic_dataset.root),
           "--out", evaluation, "--workers", "0", "--unknown-dir", outside)  # fmt: skip
    table = tmp_path / "table"
    write_comparison(tabulate_dirs([trained_run, evaluation]), table, ["run"])
    page_file = tmp_path / "report.html"
    invoke("report", table, trained_run, evaluation, "--out", page_file)
    text = page_file.read_text()
    assert "http" not in text.replace("http-equiv", "")  # no external asset
    wrong = sum(1 for line in (evaluation / "predictions.csv").open() if line.count(",0,") >= 1)
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(page_file.resolve().as_uri())
        loaded = page.evaluate("[...document.images].map(i => i.complete && i.naturalWidth > 0)")
        assert len(loaded) >= 6 and all(loaded)  # charts, curves, confusion, bars, strips
        assert page.locator("img.strip").count() == min(wrong, 40)
        body = page.inner_text("body")
        assert "Misclassified videos" in body
        assert "95% over groups" in body  # where top-1 could lie on other groups of the kind
        assert "None of these" in body and "open-set AUROC" in body and "--reject" in body
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        browser.close()
    assert problems == []
    bad = runner.invoke(app, ["report", str(tmp_path / "nothing"), "--out", str(page_file)])
    assert bad.exit_code == 2 and "exists; pass --overwrite" in bad.output  # checked first
    bad = runner.invoke(
        app, ["report", str(tmp_path / "nothing"), "--out", str(page_file), "--overwrite"]
    )
    assert bad.exit_code == 2
    assert "not a run directory, an evaluation, a comparison or a crossval" in bad.output
    assert "Misclassified videos" in page_file.read_text()  # the refused run left it as it was


def test_dataset_info_has_media_and_a_frames_grid(synthetic_dataset, tmp_path: Path) -> None:
    grid = tmp_path / "grid.png"
    output = invoke(
        "dataset", "info", *split_args(synthetic_dataset.root), "--frames-grid", grid,
        "--grid-videos", "2", "--workers", "0",
    )  # fmt: skip
    info = json.loads(output[output.index("{") :])
    media = info["media"]
    assert media["all"]["videos"] == len(synthetic_dataset.items)
    growing = media["per_class"]["growing"]
    assert growing["sizes"] == {"32x32": growing["videos"]} and growing["duration_s"]["min"] > 0
    from PIL import Image

    with Image.open(grid) as image:  # a row per class, two thumbnails each after the names
        assert image.height == 112 * len(synthetic_dataset.classes)
        assert image.width == 112 * 2 + 112 * 2
