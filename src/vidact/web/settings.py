"""The server's settings, importable without the web stack (the CLI reads their defaults)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from vidact.errors import ConfigError


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_seconds: float
    max_pixels: int
    body_timeout_s: float  # the whole upload, however fast
    min_bytes_per_s: float  # after the first grace_s: a trickle is dropped
    grace_s: float = 5.0


@dataclass(frozen=True)
class ServeSettings:
    """Every setting of the server, checked when made (``vidact serve`` flags map onto it)."""

    max_upload_mb: int = 200
    max_seconds: float = 600.0  # longest video, by its frames (not only its header)
    max_pixels: int = 3840 * 2160
    concurrency: int = 1  # predictions running at once
    queue: int = 4  # requests waiting beyond those
    ttl_s: float = 3600.0  # how long an annotated video stays
    cors_origins: tuple[str, ...] = ()  # none: browsers allow same-origin pages only
    body_timeout_s: float = 300.0  # an upload must arrive whole within this
    min_upload_kb_s: float = 16.0  # ... and (after 5 s) at least this fast: trickles are dropped
    host: str = "127.0.0.1"  # the bind address, allowed as a Host header
    allowed_hosts: tuple[str, ...] = ()  # more Host names to answer ("*": any); DNS rebinding
    api_docs: bool = False  # /docs loads Swagger UI from a CDN: off unless asked

    def __post_init__(self) -> None:
        numbers = {
            "max_upload_mb": self.max_upload_mb,
            "max_seconds": self.max_seconds,
            "max_pixels": self.max_pixels,
            "concurrency": self.concurrency,
            "ttl": self.ttl_s,
            "body_timeout": self.body_timeout_s,
            "min_upload_kb_s": self.min_upload_kb_s,
        }
        for name, value in numbers.items():
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(
                    f"--{name.replace('_', '-')} must be a number above 0, got {value}"
                )
        if not (isinstance(self.queue, int) and self.queue >= 0):
            raise ConfigError(f"--queue must be 0 or more, got {self.queue}")

    @property
    def limits(self) -> Limits:
        return Limits(
            self.max_upload_mb * 2**20,
            self.max_seconds,
            self.max_pixels,
            self.body_timeout_s,
            self.min_upload_kb_s * 1000,
        )

    @property
    def hosts(self) -> frozenset[str]:
        """Host header names answered: the bind address, localhost, and those allowed."""
        bound = () if self.host in ("0.0.0.0", "::") else (self.host,)
        return frozenset(
            h.lower() for h in ("localhost", "127.0.0.1", "::1", *bound, *self.allowed_hosts)
        )
