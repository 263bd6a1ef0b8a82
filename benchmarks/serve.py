"""Web server under load: N concurrent clients posting a real clip to `vidact serve`.

Starts `vidact serve` on loopback in its own process (the default model: Lite0 at 224, LSTM,
8 frames; --concurrency 2, --queue 4), then for 1, 4 and 16 clients, each sending its requests
one after another, prints one JSON line: per client count, requests/s, p50 / p95 latency of the
answered requests, errors (5xx or broken connections: must be 0), rejected (503, the server
full) and the server's RSS after each load, and its peak RSS at the end.

    python benchmarks/serve.py
"""

from __future__ import annotations

import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from predict import write_default_checkpoint  # benchmarks/ is on the path when run as a script

CLIP = (
    Path(__file__).resolve().parents[2] / "shared/data/real-smoke/UCF101/Punch/v_Punch_g03_c01.avi"
)
REQUESTS_PER_CLIENT = {1: 4, 4: 2, 16: 2}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _load(url: str, clients: int, per_client: int, clip: bytes) -> dict[str, float]:
    latencies: list[float] = []
    counts = {"ok": 0, "rejected": 0, "errors": 0}
    lock = threading.Lock()

    def client() -> None:
        with httpx.Client(timeout=300) as http:
            for _ in range(per_client):
                started = time.perf_counter()
                try:
                    status = http.post(url, files={"file": ("clip.avi", clip)}).status_code
                except httpx.HTTPError:
                    status = 0
                took = time.perf_counter() - started
                with lock:
                    if status == 200:
                        counts["ok"] += 1
                        latencies.append(took)
                    elif status == 503:
                        counts["rejected"] += 1
                    else:
                        counts["errors"] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    latencies.sort()
    return {
        "requests_per_s": round(counts["ok"] / wall, 2),
        "p50_s": round(statistics.median(latencies), 2) if latencies else None,
        "p95_s": round(latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None,
        **counts,
    }


def _memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        checkpoint = write_default_checkpoint(Path(tmp) / "model.ckpt")
        port = _free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "vidact", "serve", str(checkpoint), "--port", str(port),
             "--concurrency", "2", "--queue", "4"],
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(base + "/api/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            clip = CLIP.read_bytes()
            figures: dict[str, object] = {}
            for clients, per_client in REQUESTS_PER_CLIENT.items():
                figures[f"clients_{clients}"] = {
                    **_load(base + "/api/predict", clients, per_client, clip),
                    "server_rss_mb_after": _memory_mb(server.pid, "VmRSS"),
                }
            figures["server_peak_rss_mb"] = _memory_mb(server.pid, "VmHWM")
            figures["healthy_after"] = httpx.get(base + "/api/health").status_code == 200
        finally:
            server.terminate()
            server.wait(30)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
