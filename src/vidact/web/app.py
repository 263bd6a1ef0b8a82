"""The web app (contract 5): the upload page, and a JSON API over Predictors loaded once.

``POST /api/predict`` streams the upload to a private file, checks it by decoding, and runs the
prediction in a worker thread, at most ``concurrency`` at once with ``queue`` more waiting; past
that it answers 503 with Retry-After. Every refusal is a 4xx with ``{"error": ...}`` naming the
problem, never a stack trace or a server path; the upload is removed on every path (success,
refusal, error, client gone). Annotated videos are served by opaque id until they expire.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from vidact import __version__
from vidact.errors import VidactError
from vidact.inference.predictor import Predictor
from vidact.inference.timeline import TimelineSettings
from vidact.web.store import TempStore
from vidact.web.uploads import Limits, UploadError, check_video, receive_upload

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class ServeSettings:
    max_upload_mb: int = 200
    max_seconds: float = 600.0
    max_pixels: int = 3840 * 2160
    concurrency: int = 1  # predictions running at once
    queue: int = 4  # requests waiting beyond those
    ttl_s: float = 3600.0  # how long an annotated video stays
    cors_origins: tuple[str, ...] = ()  # none: browsers allow same-origin pages only

    @property
    def limits(self) -> Limits:
        return Limits(self.max_upload_mb * 2**20, self.max_seconds, self.max_pixels)


def describe(name: str, predictor: Predictor) -> dict[str, Any]:
    info = predictor.info
    return {
        "name": name,
        "classes": list(info.classes),
        "backbone": info.model.backbone,
        "head": info.model.head,
        "frames": info.sampling.frames,
        "size": info.input.size,
        "vidact_version": info.version,
    }


class _Admission:
    """Counts requests in the server; refuses past running + waiting places."""

    def __init__(self, settings: ServeSettings) -> None:
        self.places = settings.concurrency + settings.queue
        self.inside = 0
        self.running = asyncio.Semaphore(settings.concurrency)

    @contextlib.contextmanager
    def enter(self) -> Any:
        if self.inside >= self.places:
            raise HTTPException(503, "the server is busy; try again in a few seconds")
        self.inside += 1
        try:
            yield
        finally:
            self.inside -= 1


def create_app(models: Mapping[str, Predictor], settings: ServeSettings | None = None) -> FastAPI:
    """The app over loaded models (name -> Predictor; the first is the default)."""
    if not models:
        raise VidactError("serve needs at least one checkpoint")
    settings = settings or ServeSettings()
    admission = _Admission(settings)
    state: dict[str, TempStore] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = state["store"] = TempStore(settings.ttl_s)
        sweeper = asyncio.create_task(_sweep(store))
        try:
            yield
        finally:
            sweeper.cancel()
            store.close()

    app = FastAPI(
        title="vidact",
        version=__version__,
        description="Human activity recognition in video: upload a clip, get its activities.",
        lifespan=lifespan,
    )
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"]
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        headers = {"Retry-After": "5"} if exc.status_code == 503 else None
        return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid')}"}, 422)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error on %s", request.url.path)
        return JSONResponse({"error": "internal error; the server log has the details"}, 500)

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": len(models), "requests_inside": admission.inside}

    @app.get("/api/model")
    async def model() -> dict[str, Any]:
        return {
            "default": next(iter(models)),
            "models": [describe(name, p) for name, p in models.items()],
            "limits": {
                "max_upload_mb": settings.max_upload_mb,
                "max_seconds": settings.max_seconds,
                "max_pixels": settings.max_pixels,
            },
        }

    @app.post(
        "/api/predict",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {
                                "file": {"type": "string", "format": "binary"},
                                "model": {"type": "string"},
                                "topk": {"type": "integer", "default": 5},
                                "window": {"type": "string", "example": "2s"},
                                "stride": {"type": "string", "example": "0.5s"},
                                "annotate": {"type": "boolean", "default": False},
                            },
                        }
                    }
                },
            }
        },
    )
    async def predict(request: Request) -> JSONResponse:
        """The prediction JSON of contract 4 for an uploaded video, plus ``annotated_url`` when
        ``annotate=true``."""
        store = state["store"]
        upload = store.new_upload()
        try:
            with admission.enter():
                received = await receive_upload(request, upload, settings.limits)
                name, predictor, options = _options(received.fields, models)
                facts = await run_in_threadpool(check_video, upload, settings.limits)
                media_id, output = store.new_media() if options.pop("annotate") else (None, None)
                async with admission.running:
                    result = await run_in_threadpool(
                        predictor.predict, upload, output=output, **options
                    )
            if await request.is_disconnected():
                if output is not None:
                    output.unlink(missing_ok=True)
                return JSONResponse({"error": "client gone"}, 499)
            result.update(video=received.name, model=name, **facts)
            if media_id is not None:
                result["annotated_url"] = f"/api/media/{media_id}"
            return JSONResponse(result)
        except UploadError as err:
            return JSONResponse({"error": err.message}, err.status)
        except VidactError as err:  # a setting the model refuses (window, topk, ...)
            return JSONResponse({"error": str(err).replace(str(upload), "the upload")}, 422)
        except ClientDisconnect:
            return JSONResponse({"error": "client gone"}, 499)
        finally:
            upload.unlink(missing_ok=True)

    @app.get("/api/media/{media_id}")
    async def media(media_id: str) -> FileResponse:
        path = state["store"].media(media_id.removesuffix(".mp4"))
        if path is None:
            raise HTTPException(404, "no such video (annotated videos expire after a while)")
        return FileResponse(path, media_type="video/mp4")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.store = state  # tests look inside
    return app


def _options(
    fields: dict[str, str], models: Mapping[str, Predictor]
) -> tuple[str, Predictor, dict[str, Any]]:
    """The form's settings, checked: model, topk, window, stride, annotate."""
    name = fields.get("model") or next(iter(models))
    if name not in models:
        raise UploadError(422, f"no model {name!r}; this server has {', '.join(models)}")
    try:
        topk = int(fields.get("topk") or 5)
    except ValueError:
        raise UploadError(422, "topk must be a whole number") from None
    if not 1 <= topk <= 100:
        raise UploadError(422, "topk must be between 1 and 100")
    defaults = TimelineSettings()
    timeline = TimelineSettings(
        fields.get("window") or defaults.window, fields.get("stride") or defaults.stride
    )
    try:
        timeline.check()
    except VidactError as err:
        raise UploadError(422, str(err).replace("--", "")) from None
    annotate = (fields.get("annotate") or "false").lower() in ("1", "true", "yes", "on")
    return name, models[name], {"topk": topk, "timeline": timeline, "annotate": annotate}


async def _sweep(store: TempStore) -> None:
    """Remove expired annotated videos, checking every minute (or sooner for a short TTL)."""
    while True:
        await asyncio.sleep(min(60.0, max(store.ttl_s / 2, 0.5)))
        store.expire()
