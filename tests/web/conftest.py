"""The web app over the session's trained model, and the bad files the API must refuse."""

from __future__ import annotations

import contextlib
import io
import socket
import threading
import time
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import pytest
from fastapi import FastAPI
from PIL import Image

from tests.conftest import REAL_SMOKE, real_clip
from vidact.inference.predictor import Predictor
from vidact.io.writer import write_video
from vidact.web.app import create_app
from vidact.web.store import TempStore

UCF_CLIP = REAL_SMOKE / "UCF101" / "Punch" / "v_Punch_g03_c01.avi"  # MPEG-4 AVI, 320x240
KINETICS_CLIP = REAL_SMOKE / "Kinetics400" / "arm_wrestling" / "demo.mp4"  # H.264, 340x256


@pytest.fixture(scope="session")
def served_predictor(trained_run: Path) -> Predictor:
    return Predictor.from_checkpoint(trained_run / "checkpoints" / "best.ckpt", "cpu")


@dataclass
class Served:
    url: str
    app: FastAPI

    @property
    def store(self) -> TempStore:
        return self.app.state.store


@contextlib.contextmanager
def running(app: FastAPI) -> Iterator[Served]:
    """``app`` behind a real uvicorn server on a free loopback port."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def server(served_predictor) -> Iterator[Served]:
    """The app over the session's model behind a real uvicorn server."""
    with running(create_app({"lstm": served_predictor})) as served:
        yield served


def _with_duration_claim(data: bytes, frames: int) -> bytes:
    """An AVI whose main and stream headers claim ``frames`` frames."""
    patched = bytearray(data)
    for chunk, offset in ((b"avih", 24), (b"strh", 40)):  # dwTotalFrames, dwLength
        at = patched.find(chunk) + offset
        patched[at : at + 4] = frames.to_bytes(4, "little")
    return bytes(patched)


@pytest.fixture(scope="session")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, bytes]]:
    """name -> (file name sent, content)."""
    root = tmp_path_factory.mktemp("bad")
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (10, 48, 64, 3), dtype=np.uint8)
    small = write_video(root / "small.mp4", frames, 10).read_bytes()
    small_avi = write_video(root / "small.avi", frames, 10).read_bytes()
    one = write_video(root / "one.mp4", frames[:1], 10).read_bytes()
    for name, codec in (("empty.avi", "mpeg4"), ("empty.mp4", "libx264")):  # headers, no frames
        with av.open(str(root / name), "w") as container:
            stream = container.add_stream(codec, rate=10)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            container.start_encoding()
    png = io.BytesIO()
    Image.fromarray(frames[0]).save(png, format="PNG")
    audio = io.BytesIO()
    with wave.open(audio, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(bytes(16000))
    ucf = real_clip(*UCF_CLIP.relative_to(REAL_SMOKE).parts).read_bytes()
    kinetics = real_clip(*KINETICS_CLIP.relative_to(REAL_SMOKE).parts).read_bytes()
    return {
        "random bytes": ("clip.mp4", rng.bytes(20000)),
        "truncated mp4": ("clip.mp4", kinetics[: len(kinetics) // 3]),
        "truncated avi": ("clip.avi", ucf[: len(ucf) // 3]),
        "png renamed": ("clip.mp4", png.getvalue()),
        "text file": ("notes.mp4", b"not a video at all\n" * 200),
        "audio only": ("sound.mp4", audio.getvalue()),
        "0-frame avi": ("empty.avi", (root / "empty.avi").read_bytes()),
        "0-frame mp4": ("empty.mp4", (root / "empty.mp4").read_bytes()),
        "1 frame": ("one.mp4", one),
        "10-hour header": ("long.avi", _with_duration_claim(small_avi, 36000 * 10)),
        "empty file": ("clip.mp4", b""),
        "dot-dot name": ("../../etc/passwd.mp4", small),
        "NUL in name": ("clip\x00.mp4", small),
        "300-character name": ("a" * 296 + ".mp4", small),
    }
