"""The JSON API on real clips, and every bad input answered with a 4xx JSON error."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import KINETICS_CLIP, UCF_CLIP
from vidact.io.reader import VideoReader
from vidact.models.checkpoint import checkpoint_names
from vidact.web.app import ServeSettings, create_app

pytestmark = pytest.mark.skipif(not UCF_CLIP.is_file(), reason="../shared/data/real-smoke absent")


@pytest.fixture
def client(served_predictor):
    app = create_app({"lstm": served_predictor, "second": served_predictor})
    with TestClient(app, base_url="http://localhost") as test_client:
        yield test_client


def _store(client: TestClient):
    return client.app.state.store


def _post(client: TestClient, path: Path | None = None, name: str | None = None, **data):
    files = {"file": (name or path.name, path.read_bytes())} if path else None
    return client.post("/api/predict", files=files, data=data)


@pytest.mark.parametrize("clip", [UCF_CLIP, KINETICS_CLIP], ids=["ucf101-avi", "kinetics-mp4"])
def test_predict_a_real_clip_with_its_annotated_video(client: TestClient, clip: Path) -> None:
    response = _post(client, clip, annotate="true", topk="3", window="1s", stride="0.5s")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["video"] == clip.name and result["model"] == "lstm"
    assert len(result["top_k"]) == 3 and result["timeline"]
    assert result["timeline"][-1]["end_s"] == pytest.approx(result["duration_s"], abs=0.05)
    video = client.get(result["annotated_url"])
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    copy = Path(_store(client).root) / "check.mp4"
    copy.write_bytes(video.content)
    with VideoReader(copy) as annotated, VideoReader(clip) as source:
        assert annotated.num_frames == source.num_frames
    copy.unlink()
    assert list(_store(client).uploads.iterdir()) == []  # the upload is gone


def test_model_health_docs_and_choosing_a_model(client: TestClient, served_predictor) -> None:
    info = client.get("/api/model").json()
    assert [m["name"] for m in info["models"]] == ["lstm", "second"]
    assert info["models"][0]["classes"] == list(served_predictor.classes)
    assert info["models"][0]["frames"] == 4 and info["models"][0]["head"] == "lstm"
    assert client.get("/api/health").json()["status"] == "ok"
    assert client.get("/docs").status_code == 404  # Swagger UI loads from a CDN: off by default
    assert "/api/predict" in client.get("/openapi.json").json()["paths"]
    page = client.get("/")
    assert page.status_code == 200 and "<title>vidact" in page.text
    assert _post(client, UCF_CLIP, model="second").json()["model"] == "second"
    wrong = _post(client, UCF_CLIP, model="third")
    assert wrong.status_code == 422 and "no model 'third'" in wrong.json()["error"]
    for field, value, message in (
        ("topk", "0", "topk must be at least 1"),
        ("topk", "101", "topk must be between 1 and 100"),
        ("topk", "five", "topk must be a whole number"),
        ("window", "-2s", "window"),
        ("window", "inf", "window"),
        ("window", "nan", "window"),
        ("stride", "infs", "stride"),
    ):
        refused = _post(client, UCF_CLIP, **{field: value})
        assert refused.status_code == 422 and message in refused.json()["error"]
    assert client.get("/api/media/../../etc/passwd").status_code == 404
    assert client.get("/api/media/" + "0" * 32).json()["error"].startswith("no such video")


BAD = {
    "random bytes": 415,
    "truncated mp4": 415,  # its index (moov) is in the lost part: no format recognised
    "truncated avi": 422,
    "png renamed": 415,
    "text file": 415,
    "audio only": 415,
    "0-frame avi": 422,
    "0-frame mp4": 415,  # FFmpeg cannot open an MP4 without samples
    "1 frame": 422,
    "10-hour header": 422,
    "empty file": 422,
    "dot-dot name": 422,
    "NUL in name": 422,
    "300-character name": 422,
}


def test_every_bad_input_gets_a_4xx_json_error_and_leaves_nothing(
    client: TestClient, bad_files
) -> None:
    store = _store(client)
    for case, status in BAD.items():
        response = _post_raw(client, *bad_files[case])
        assert response.status_code == status, (case, response.text)
        error = response.json()["error"]
        assert error and "/tmp" not in error and "Traceback" not in error, (case, error)
        assert store.files() == [], case
        assert client.get("/api/health").json()["status"] == "ok"
    assert "36000 s" in _error(client, bad_files["10-hour header"])
    assert "truncated" in _error(client, bad_files["truncated avi"])
    still = _error(client, bad_files["1 frame"])  # said without the command line's option
    assert "a still image" in still and "--allow-images" not in still
    empty = client.post("/api/predict", content=b"")
    assert empty.status_code == 415 and "multipart/form-data" in empty.json()["error"]
    nofile = client.post("/api/predict", data={"topk": "3"}, files={"other": ("a", b"x")})
    assert nofile.status_code == 422 and "no file" in nofile.json()["error"]
    assert store.files() == []


def _error(client: TestClient, file: tuple[str, bytes]) -> str:
    return _post_raw(client, *file).json()["error"]


def _post_raw(client: TestClient, name: str, content: bytes):
    """A multipart body written by hand, so a file name goes as raw bytes (NUL included)."""
    body = (
        b'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="'
        + name.encode()
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + b"\r\n--b0undary--\r\n"
    )
    headers = {"content-type": "multipart/form-data; boundary=b0undary"}
    return client.post("/api/predict", content=body, headers=headers)


def test_oversize_uploads_are_refused_while_streaming(served_predictor) -> None:
    app = create_app({"m": served_predictor}, ServeSettings(max_upload_mb=1))
    big = bytes(3 * 2**20)
    with TestClient(app, base_url="http://localhost") as client:
        declared = client.post("/api/predict", files={"file": ("big.mp4", big)})
        assert declared.status_code == 413 and "1 MB" in declared.json()["error"]

        def chunks():  # no Content-Length: counted as it arrives
            yield b"--xyz\r\nContent-Disposition: form-data; "
            yield b'name="file"; filename="b.mp4"\r\n\r\n'
            for _ in range(3):
                yield bytes(2**20)
            yield b"\r\n--xyz--\r\n"

        streamed = client.post(
            "/api/predict",
            content=chunks(),
            headers={"content-type": "multipart/form-data; boundary=xyz"},
        )
        assert streamed.status_code == 413
        assert _store(client).files() == []
        assert client.get("/api/health").status_code == 200


def test_a_full_queue_answers_503_with_retry_after(served_predictor, monkeypatch) -> None:
    release, started = threading.Event(), threading.Event()
    real = served_predictor.predict

    def blocking(*args, **kwargs):
        started.set()
        release.wait(30)
        return real(*args, **kwargs)

    monkeypatch.setattr(served_predictor, "predict", blocking)
    app = create_app({"m": served_predictor}, ServeSettings(concurrency=1, queue=0))
    with TestClient(app, base_url="http://localhost") as client:
        first: dict = {}
        thread = threading.Thread(target=lambda: first.update(r=_post(client, UCF_CLIP)))
        thread.start()
        assert started.wait(30)
        busy = _post(client, UCF_CLIP)
        assert busy.status_code == 503 and busy.headers["retry-after"] == "5"
        assert "busy" in busy.json()["error"]
        release.set()
        thread.join(30)
        assert first["r"].status_code == 200
        assert _post(client, UCF_CLIP).status_code == 200  # the place is free again


def test_annotated_videos_expire_and_shutdown_removes_everything(served_predictor) -> None:
    app = create_app({"m": served_predictor}, ServeSettings(ttl_s=0.01))
    with TestClient(app, base_url="http://localhost") as client:
        url = _post(client, UCF_CLIP, annotate="true").json()["annotated_url"]
        store = _store(client)
        deadline = time.monotonic() + 5
        while client.get(url).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.1)  # the sweeper checks every half second at this TTL
        assert client.get(url).status_code == 404
        _post(client, UCF_CLIP, annotate="true")
        root = store.root
    assert not root.exists()


def test_model_names_are_unique() -> None:
    paths = ("runs/a/checkpoints/best.ckpt", "runs/a/checkpoints/best.ckpt", "m.onnx")
    taken = set(checkpoint_names(paths))
    assert taken == {"a", "a-2", "m"}


def test_a_client_that_hangs_up_mid_upload_leaves_nothing(server) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    head = (
        "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5000000\r\n"
        "Content-Type: multipart/form-data; boundary=zz\r\n\r\n"
        '--zz\r\nContent-Disposition: form-data; name="file"; filename="a.mp4"\r\n\r\n'
    )
    with socket.create_connection((host, int(port))) as connection:
        connection.sendall(head.encode() + bytes(200_000))
        deadline = time.monotonic() + 10
        while not server.store.files() and time.monotonic() < deadline:
            time.sleep(0.05)  # the upload has started arriving
        assert server.store.files()
    deadline = time.monotonic() + 10
    while server.store.files() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.store.files() == []
    health = httpx.get(server.url + "/api/health")
    assert health.status_code == 200
    assert "access-control-allow-origin" not in health.headers  # CORS is off
