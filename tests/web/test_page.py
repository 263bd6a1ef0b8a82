"""The upload page in a real browser: Debian's Chromium, headless, driven by Playwright."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import ARTIFACTS, CHROMIUM, needs_chromium
from tests.web.conftest import UCF_CLIP

playwright = pytest.importorskip("playwright.sync_api", reason="the dev extra is not installed")

pytestmark = [
    pytest.mark.slow,
    needs_chromium,
    pytest.mark.skipif(not UCF_CLIP.is_file(), reason="../shared/data/real-smoke is absent"),
]


@pytest.mark.parametrize("viewport", [(1000, 900), (390, 844)], ids=["desktop", "phone"])
def test_upload_a_clip_and_watch_it_annotated(server, viewport: tuple[int, int]) -> None:
    with playwright.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        width, height = viewport
        page = browser.new_page(viewport={"width": width, "height": height})
        problems: list[str] = []
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(server.url + "/")
        _wait_until(page, "document.getElementById('model').options.length > 0")
        assert "activities" in page.inner_text("#model-line")
        page.set_input_files("#file", str(UCF_CLIP))
        page.click("#submit")
        page.wait_for_selector("#result:not(.hidden)", timeout=60_000)
        label = page.inner_text("#label")
        # a real clip through a model of synthetic shapes: most likely "unknown", said as such
        known = label in page.inner_text("#topk") or label.startswith("Activities over")
        assert known or label == "unknown: none of the trained activities"
        assert page.locator("#topk li").count() == 5
        assert page.locator("#timeline button").count() >= 1
        video = "document.getElementById('annotated')"
        _wait_until(page, f"{video}.readyState >= 2")
        page.evaluate(f"{video}.play()")
        _wait_until(page, f"{video}.currentTime > 0.2 && !{video}.paused")
        page.locator("#timeline button").first.click()  # a segment seeks the video
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"serve-result-{width}px.png"), full_page=True)
        _several_activities_lead_with_labelled_segments(page, width)
        # a bad file gets its message on the page, and the page keeps working
        bad = ARTIFACTS / "not-a-video.mp4"
        bad.write_bytes(b"not a video\n" * 100)
        page.set_input_files("#file", str(bad))
        page.click("#submit")
        page.wait_for_selector("#error:not(.hidden)", timeout=30_000)
        assert "not a video" in page.inner_text("#error")
        bad.unlink()
        browser.close()
    # nothing the page does breaks its Content-Security-Policy (no inline script or style)
    assert problems == [] or all("status of 415" in p for p in problems), problems


def _several_activities_lead_with_labelled_segments(page, width: int) -> None:
    """A result with three segments (one unknown), drawn by the page's own render()."""
    model = page.evaluate("document.getElementById('model').value")
    names = page.evaluate(f"classes[{model!r}]")
    parts = [(0.0, 6.0, names[0]), (6.0, 9.5, "unknown"), (9.5, 16.0, names[1])]
    timeline = [
        {"start_s": a, "end_s": b, "label": c, "probability": 0.7, "mean_p": 0.7, "peak_p": 0.9}
        for a, b, c in parts
    ]
    top = [{"label": names[0], "probability": 0.5}, {"label": names[1], "probability": 0.4}]
    result = {"model": model, "label": names[0], "top_k": top, "timeline": timeline}
    page.evaluate(f"render({json.dumps(result)})")
    assert page.inner_text("#label") == "Activities over 16.0 s:"
    legend = page.locator("#legend li").all_inner_texts()
    assert legend == [names[0], "unknown (none of the trained activities)", names[1]]
    rows = page.locator("#segments tbody tr").all_inner_texts()
    assert len(rows) == 3 and "6.0 s" in rows[1] and "unknown" in rows[1]
    tip = page.locator("#timeline button").nth(2).get_attribute("title")
    assert tip.startswith(f"{names[1]}, 9.5 s to 16.0 s")
    # the segments come first: before the whole-video top-k
    assert page.evaluate(
        "document.getElementById('over-time').compareDocumentPosition("
        "document.getElementById('overall')) === Node.DOCUMENT_POSITION_FOLLOWING"
    )
    page.screenshot(path=str(ARTIFACTS / f"serve-segments-{width}px.png"), full_page=True)


def _wait_until(page, expression: str, seconds: float = 30.0) -> None:
    """Poll ``expression`` in the page (Playwright's wait_for_function evaluates a string with
    eval, which the page's Content-Security-Policy rightly refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)
