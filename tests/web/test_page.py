"""The upload page in a real browser: Debian's Chromium, headless, driven by Playwright."""

from __future__ import annotations

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
        assert label and label in page.inner_text("#topk")
        assert page.locator("#topk li").count() == 5
        assert page.locator("#timeline button").count() >= 1
        video = "document.getElementById('annotated')"
        _wait_until(page, f"{video}.readyState >= 2")
        page.evaluate(f"{video}.play()")
        _wait_until(page, f"{video}.currentTime > 0.2 && !{video}.paused")
        page.locator("#timeline button").first.click()  # a segment seeks the video
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"serve-result-{width}px.png"), full_page=True)
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


def _wait_until(page, expression: str, seconds: float = 30.0) -> None:
    """Poll ``expression`` in the page (Playwright's wait_for_function evaluates a string with
    eval, which the page's Content-Security-Policy rightly refuses)."""
    deadline = time.monotonic() + seconds
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        time.sleep(0.1)
