"""Receiving an upload safely: streamed to a private file with its size counted as it arrives
(413 as soon as the limit is passed, before the body is read when its length is declared), then
checked by decoding it, whatever its name or MIME type claims (415 when it is no video at all,
422 when it is a video this server will not take: damaged, too long, too large, no frames)."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from vidact.io.reader import OPEN_ERRORS, VideoReader, VideoReadError
from vidact.web.settings import Limits

_MULTIPART_SLACK = 64 * 1024  # boundaries, part headers and small fields around the file
_FIELD_LIMIT = 1000  # characters in a form field other than the file
_NAME_LIMIT = 120  # characters of the name echoed back
_IMAGE_FORMATS = ("image2", "_pipe")


class UploadError(Exception):
    """A refused upload: an HTTP status and a message safe to show (no server paths)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Upload:
    fields: dict[str, str]
    name: str  # the client's file name, cleaned for display only; never a path


def display_name(raw: str) -> str:
    """A client's file name, only to echo back. Browsers send a plain name of at most 255 bytes;
    a path, a control character or a longer name is a crafted request and is refused."""
    if re.search(r"[\\/]", raw) or not raw.isprintable() or len(raw.encode()) > 255:
        raise UploadError(422, "the file name is not accepted (a path, control characters or "
                          "over 255 bytes); rename the file")  # fmt: skip
    return raw[:_NAME_LIMIT] or "upload"


class _FormParts:
    """The multipart parser's callbacks: the ``file`` part streamed to ``out`` with its size
    counted, every other field kept (short) in ``fields``."""

    def __init__(self, out: BinaryIO, limits: Limits) -> None:
        self.out, self.limits = out, limits
        self.fields: dict[str, str] = {}
        self.upload_name: str | None = None
        self.written = 0
        self.headers: dict[bytes, bytes] = {}
        self.name_parts: list[bytes] = []
        self.value_parts: list[bytes] = []
        self.part: dict[str, object] = {}

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }

    def on_part_begin(self) -> None:
        self.headers.clear()
        self.part.clear()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.name_parts.append(data[start:end])

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.value_parts.append(data[start:end])

    def on_header_end(self) -> None:
        self.headers[b"".join(self.name_parts).lower()] = b"".join(self.value_parts).strip()
        self.name_parts.clear()
        self.value_parts.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.headers.get(b"content-disposition", b""))
        field = options.get(b"name", b"").decode("utf-8", "replace")
        if field == "file":
            if self.upload_name is not None:
                raise UploadError(422, "send one file per request")
            raw_name = options.get(b"filename", b"").decode("utf-8", "replace")
            self.upload_name = display_name(raw_name)
            self.part["file"] = True
        else:
            self.part["field"], self.part["value"] = field, bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.get("file"):
            self.written += end - start
            if self.written > self.limits.max_bytes:
                raise UploadError(413, _too_large(self.limits))
            self.out.write(data[start:end])
            return
        value = self.part.get("value")
        if isinstance(value, bytearray):
            value += data[start:end]
            if len(value) > _FIELD_LIMIT:
                raise UploadError(422, f"form field {self.part['field']!r} is too long")

    def on_part_end(self) -> None:
        if "field" in self.part and isinstance(self.part["value"], bytearray):
            self.fields[str(self.part["field"])] = self.part["value"].decode("utf-8", "replace")


async def receive_upload(request: Request, dest: Path, limits: Limits) -> Upload:
    """Stream the multipart body's ``file`` part into ``dest``; return the other fields."""
    kind, params = parse_options_header(request.headers.get("content-type", ""))
    if kind != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError(415, "send the video as multipart/form-data, in the field 'file'")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes + _MULTIPART_SLACK:
        raise UploadError(413, _too_large(limits))
    with os.fdopen(os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
        form = _FormParts(out, limits)
        parser = MultipartParser(params[b"boundary"], form.callbacks())
        received = 0
        try:
            async for chunk in _timed(request.stream(), limits):
                received += len(chunk)
                if received > limits.max_bytes + _MULTIPART_SLACK:
                    raise UploadError(413, _too_large(limits))
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError:
            raise UploadError(400, "the multipart body is malformed") from None
    if form.upload_name is None:
        raise UploadError(422, "no file: send the video in the multipart field 'file'")
    return Upload(form.fields, form.upload_name)


async def _timed(chunks: AsyncIterator[bytes], limits: Limits) -> AsyncIterator[bytes]:
    """The body's chunks, each awaited only as long as the upload may still take: within
    ``body_timeout_s`` of the start, and (after ``grace_s``) keeping ``min_bytes_per_s`` on
    average. A slow or stalled client is dropped (408) and its place in the server freed."""
    started = time.monotonic()
    received = 0
    iterator = aiter(chunks)
    while True:
        elapsed = time.monotonic() - started
        due = min(
            limits.body_timeout_s, max(limits.grace_s, (received + 1) / limits.min_bytes_per_s)
        )
        try:
            chunk = await asyncio.wait_for(anext(iterator), max(due - elapsed, 0.001))
        except StopAsyncIteration:
            return
        except TimeoutError:
            slow = due < limits.body_timeout_s
            raise UploadError(
                408,
                f"the upload was too slow (under {limits.min_bytes_per_s / 1000:.0f} kB/s); "
                "try again on a faster connection"
                if slow
                else f"the upload took longer than {limits.body_timeout_s:.0f} s",
            ) from None
        received += len(chunk)
        yield chunk


def check_video(path: Path, limits: Limits) -> dict[str, float]:
    """Decode enough of ``path`` to know it is a video this server takes; its duration and size."""
    if path.stat().st_size == 0:
        raise UploadError(422, "the uploaded file is empty")
    try:
        container = av.open(str(path))
    except OPEN_ERRORS:
        raise UploadError(415, "not a video: its content is no video format vidact reads") from None
    with container:
        if not container.streams.video:
            raise UploadError(415, "no video stream in the file (audio only?)")
        if any(part in container.format.name for part in _IMAGE_FORMATS):
            raise UploadError(415, "a still image, not a video")
        stream = container.streams.video[0]
        seconds = _declared_seconds(container, stream)
        _check_duration(seconds, limits)  # by the header, before any decoding
        pixels = (stream.codec_context.width or 0) * (stream.codec_context.height or 0)
        if pixels > limits.max_pixels:
            raise UploadError(
                422, f"the video is {stream.codec_context.width}x{stream.codec_context.height}; "
                f"this server takes up to {limits.max_pixels} pixels per frame"
            )  # fmt: skip
    try:
        with VideoReader(path) as reader:  # counts the frames: a stream's header may say nothing
            facts = {
                "duration_s": round(reader.duration, 3),
                "width": reader.width,
                "height": reader.height,
            }
    except VideoReadError as err:
        raise UploadError(422, err.problem.replace(str(path), "the upload")) from None
    _check_duration(facts["duration_s"], limits)  # by the frames, when the header said nothing
    return facts


def _check_duration(seconds: float, limits: Limits) -> None:
    if seconds > limits.max_seconds:
        raise UploadError(
            422, f"the video lasts {seconds:.0f} s; this server takes up to "
            f"{limits.max_seconds:.0f} s"
        )  # fmt: skip


def _declared_seconds(container: av.container.InputContainer, stream: av.VideoStream) -> float:
    """The longest duration the file's headers claim (a 10-hour header is refused before any
    decoding of what it says)."""
    claims = [0.0]
    if container.duration:
        claims.append(container.duration / av.time_base)
    if stream.duration and stream.time_base:
        claims.append(float(stream.duration * stream.time_base))
    if stream.frames and stream.average_rate:
        claims.append(stream.frames / float(stream.average_rate))
    return max(claims)


def _too_large(limits: Limits) -> str:
    return f"the upload is larger than this server's limit of {limits.max_bytes // 2**20} MB"
