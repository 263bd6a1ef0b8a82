"""The server against slow and oversized clients, other sites and odd requests (issue 16,
problem 5): slow uploads dropped and their places freed, durations judged by the frames, the
security headers, Host and Origin checks, HEAD, private folders."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import running
from vidact.web.app import SECURITY_HEADERS, create_app
from vidact.web.settings import Limits, ServeSettings
from vidact.web.store import TempStore
from vidact.web.uploads import UploadError, _timed


def _client(predictor, base: str = "http://localhost", **settings) -> TestClient:
    return TestClient(create_app({"m": predictor}, ServeSettings(**settings)), base_url=base)


def _upload(client: TestClient, path: Path, **headers: str) -> httpx.Response:
    with path.open("rb") as handle:
        files = {"file": (path.name, handle, "video/mp4")}
        return client.post("/api/predict", files=files, headers=headers)


def test_a_trickling_upload_is_dropped_and_its_place_freed(served_predictor, make_video) -> None:
    settings = ServeSettings(concurrency=1, queue=0, body_timeout_s=2.0)
    with running(create_app({"m": served_predictor}, settings)) as served:
        host, port = served.url.removeprefix("http://").split(":")
        head = (
            "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n"
            "Content-Type: multipart/form-data; boundary=zz\r\n\r\n"
            '--zz\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
        )
        answer: list[bytes] = []

        def trickle() -> None:
            with socket.create_connection((host, int(port))) as connection:
                connection.sendall(head.encode())
                connection.settimeout(0.3)
                for _ in range(40):  # one byte every 0.3 s, for up to 12 s
                    try:
                        connection.sendall(b"x")
                        answer.append(connection.recv(4096))
                        return
                    except TimeoutError:
                        continue
                    except OSError:
                        return

        slow = threading.Thread(target=trickle)
        slow.start()
        time.sleep(0.8)
        busy = httpx.get(served.url + "/api/health").json()
        assert busy["requests_inside"] == 1  # the trickle holds the only place...
        refused = httpx.post(served.url + "/api/predict", files={"file": ("b.mp4", b"x")})
        assert refused.status_code == 503
        slow.join(15)
        assert answer and b" 408 " in answer[0].split(b"\r\n")[0], answer  # ...until dropped
        assert httpx.get(served.url + "/api/health").json()["requests_inside"] == 0
        with make_video().open("rb") as handle:
            served_again = httpx.post(
                served.url + "/api/predict", files={"file": ("c.mp4", handle)}, timeout=60
            )
        assert served_again.status_code == 200
        assert served.store.files() == []


def test_the_upload_rate_is_kept_after_its_grace() -> None:
    limits = Limits(10**6, 60.0, 10**6, body_timeout_s=30, min_bytes_per_s=1000, grace_s=0.3)

    async def slow_chunks():
        for _ in range(10):
            await asyncio.sleep(0.2)
            yield b"x"

    async def read_all() -> int:
        return sum([len(chunk) async for chunk in _timed(slow_chunks(), limits)])

    started = time.monotonic()
    with pytest.raises(UploadError) as refused:
        asyncio.run(read_all())
    assert refused.value.status == 408 and "too slow" in refused.value.message
    assert time.monotonic() - started < 1.5


def test_a_stream_without_a_duration_is_judged_by_its_frames(
    served_predictor, tmp_path: Path
) -> None:
    raw = tmp_path / "clip.h264"  # raw H.264: no container, no duration in any header
    with av.open(str(raw), "w", format="h264") as container:
        stream = container.add_stream("libx264", rate=Fraction(25))
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(100):  # 4 s at 25 fps
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), i, np.uint8), "rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    with _client(served_predictor, max_seconds=2) as client:
        refused = _upload(client, raw)
        assert refused.status_code == 422 and "lasts 4 s" in refused.json()["error"]
    with _client(served_predictor, max_seconds=10) as client:
        assert _upload(client, raw).status_code == 200


def test_security_headers_hosts_origins_and_head(served_predictor, make_video) -> None:
    with _client(served_predictor) as client:
        for response in (
            client.get("/"),
            client.get("/api/health"),
            client.get("/static/app.js"),
            client.post("/api/predict"),  # refused: still with the headers
            client.get("/api/media/nothing"),
        ):
            for name, value in SECURITY_HEADERS.items():
                assert response.headers.get(name) == value, (response.url, name)
        csp = SECURITY_HEADERS["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert client.get("/docs").status_code == 404  # no CDN page unless asked
        head = client.head("/api/health")
        assert head.status_code == 200 and head.content == b""
        assert client.head("/").status_code == 200
        # a page on another site may not post to this server
        cross = _upload(client, make_video(), origin="http://evil.example")
        assert cross.status_code == 403 and "cross-site" in cross.json()["error"]
        assert _upload(client, make_video(), origin="http://localhost").status_code == 200
        fetch = client.post("/api/predict", headers={"sec-fetch-site": "cross-site"})
        assert fetch.status_code == 403
    with _client(served_predictor, base="http://rebound.example") as client:  # DNS rebinding
        refused = client.get("/api/health")
        assert refused.status_code == 421 and "host name" in refused.json()["error"]
    rebound = ("rebound.example",)
    with _client(served_predictor, base="http://rebound.example", allowed_hosts=rebound) as client:
        assert client.get("/api/health").status_code == 200
    with _client(served_predictor, api_docs=True) as client:
        assert client.get("/docs").status_code == 200


def test_the_store_is_private_and_settings_check_themselves() -> None:
    store = TempStore(10)
    try:
        for folder in (store.root, store.uploads, store.media_dir):
            assert folder.stat().st_mode & 0o777 == 0o700
    finally:
        store.close()
    for bad in (
        {"concurrency": 0},
        {"max_seconds": float("nan")},
        {"ttl_s": float("inf")},
        {"queue": -1},
        {"min_upload_kb_s": 0},
    ):
        with pytest.raises(Exception, match="must be"):
            ServeSettings(**bad)


def test_an_annotated_video_deleted_while_asked_for_is_a_404(tmp_path: Path) -> None:
    """The sweeper may delete a video between the id check and the file's answer."""
    from starlette.applications import Starlette
    from starlette.routing import Route

    from vidact.web.app import _ExpiringFile

    gone = Starlette(routes=[Route("/v", lambda request: _ExpiringFile(tmp_path / "gone.mp4"))])
    with TestClient(gone) as client:
        answer = client.get("/v")
    assert answer.status_code == 404 and "expire" in answer.json()["error"]
