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
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from vidact.config import check_topk
from vidact.errors import VidactError
from vidact.inference.predictor import VideoPredictor
from vidact.inference.timeline import TimelineSettings
from vidact.version import __version__
from vidact.web.settings import ServeSettings
from vidact.web.store import TempStore
from vidact.web.uploads import UploadError, check_video, receive_upload

log = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"


# every answer: scripts and styles from this server only (none inline), no framing, no sniffing
SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


class _Guard:
    """ASGI middleware in front of every route: answers only to the allowed Host names (a page
    on another site that rebinds its name to this address gets 421), refuses cross-site POSTs
    (403) unless their origin is a CORS origin, and adds the security headers to every answer."""

    def __init__(self, app: Any, settings: ServeSettings) -> None:
        self.app = app
        self.hosts = settings.hosts
        self.any_host = "*" in settings.allowed_hosts
        self.origins = set(settings.cors_origins)
        self.headers = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        problem = None
        if not self.any_host and _hostname(host) not in self.hosts:
            problem = 421, "this server does not answer to that host name (see --allowed-host)"
        elif scope["method"] == "POST" and not self._same_origin(headers, host):
            problem = 403, "cross-site request refused (see --cors-origin)"

        async def secured(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *self.headers]}
            await send(message)

        if problem is not None:
            response = JSONResponse({"error": problem[1]}, problem[0])
            return await response(scope, receive, secured)
        return await self.app(scope, receive, secured)

    def _same_origin(self, headers: dict[str, str], host: str) -> bool:
        origin = headers.get("origin")
        if origin is None:  # not sent by a browser's cross-site form or fetch
            return headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")
        return origin in self.origins or urlsplit(origin).netloc.lower() == host.lower()


def _hostname(host: str) -> str:
    """``name:port`` or ``[v6]:port`` -> the name alone, lower case."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


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


_EXPIRED = "no such video (annotated videos expire after a while)"


class _ExpiringFile(FileResponse):
    """An annotated video that the sweeper may delete while it is being asked for: gone before
    its answer starts, it is a 404 like any expired video, not a server error."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        started = False

        async def tracking(message: Any) -> None:
            nonlocal started
            started = True
            await send(message)

        try:
            await super().__call__(scope, receive, tracking)
        except (FileNotFoundError, RuntimeError):  # Starlette words a vanished file either way
            if Path(self.path).exists():
                raise
            if not started:  # (deleted between the headers and the bytes: it stops short)
                await JSONResponse({"error": _EXPIRED}, 404)(scope, receive, send)


# the multipart form of /api/predict, for the OpenAPI description: the upload is streamed and
# checked by hand (receive_upload), so FastAPI cannot infer its fields
_PREDICT_FORM = {
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
}


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's store of uploads and annotated videos (``app.state.store``), swept while the
    app runs and removed when it stops."""
    store = app.state.store = TempStore(app.state.settings.ttl_s)
    sweeper = asyncio.create_task(_sweep(store))
    try:
        yield
    finally:
        sweeper.cancel()
        store.close()


def _add_error_handlers(app: FastAPI) -> None:
    """Every error answers ``{"error": "..."}``; an unexpected one is logged, never shown."""

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


async def _predict(
    request: Request,
    models: Mapping[str, VideoPredictor],
    settings: ServeSettings,
    admission: _Admission,
) -> JSONResponse:
    """Receive, check and predict one upload (annotated on request); the upload is removed
    whatever happens, an annotated video kept in the store until it expires."""
    store: TempStore = request.app.state.store
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
        if output is not None:  # like the folder it is in: this user's only; a file the
            with contextlib.suppress(FileNotFoundError):  # sweeper took already has expired
                output.chmod(0o600)
        if media_id is not None:
            result["annotated_url"] = f"/api/media/{media_id}"
        return JSONResponse(result)
    except UploadError as err:
        return JSONResponse({"error": err.message}, err.status)
    except VidactError as err:  # a setting the model refuses (window, topk, ...)
        shown = str(err).replace(str(upload), "the upload").replace(str(store.root), "")
        return JSONResponse({"error": shown}, 422)
    except ClientDisconnect:
        return JSONResponse({"error": "client gone"}, 499)
    finally:
        upload.unlink(missing_ok=True)


def create_app(
    models: Mapping[str, VideoPredictor], settings: ServeSettings | None = None
) -> FastAPI:
    """The app over loaded models (name -> Predictor; the first is the default)."""
    if not models:
        raise VidactError("serve needs at least one checkpoint")
    settings = settings or ServeSettings()
    admission = _Admission(settings)
    app = FastAPI(
        title="vidact",
        version=__version__,
        description="Human activity recognition in video: upload a clip, get its activities.",
        lifespan=_lifespan,
        docs_url="/docs" if settings.api_docs else None,  # Swagger UI comes from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.add_middleware(_Guard, settings=settings)
    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"]
        )
    _add_error_handlers(app)

    def readable(path: str, **options: Any) -> Callable[[Any], Any]:
        """GET ``path``, and HEAD too (kept out of the OpenAPI description: one operation)."""

        def register(endpoint: Any) -> Any:
            app.add_api_route(path, endpoint, methods=["HEAD"], include_in_schema=False)
            return app.get(path, **options)(endpoint)

        return register

    @readable("/api/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "models": len(models), "requests_inside": admission.inside}

    @readable("/api/model")
    async def model() -> dict[str, Any]:
        return {
            "default": next(iter(models)),
            "models": [{"name": name, **p.describe()} for name, p in models.items()],
            "limits": {
                "max_upload_mb": settings.max_upload_mb,
                "max_seconds": settings.max_seconds,
                "max_pixels": settings.max_pixels,
            },
        }

    @app.post("/api/predict", openapi_extra=_PREDICT_FORM)
    async def predict(request: Request) -> JSONResponse:
        """The prediction JSON of contract 4 for an uploaded video, plus ``annotated_url`` when
        ``annotate=true``."""
        return await _predict(request, models, settings, admission)

    @readable("/api/media/{media_id}")
    async def media(request: Request, media_id: str) -> FileResponse:
        path = request.app.state.store.media(media_id.removesuffix(".mp4"))
        if path is None:
            raise HTTPException(404, _EXPIRED)
        return _ExpiringFile(path, media_type="video/mp4")

    @readable("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _options(
    fields: dict[str, str], models: Mapping[str, VideoPredictor]
) -> tuple[str, VideoPredictor, dict[str, Any]]:
    """The form's settings, checked: model, topk, window, stride, annotate."""
    name = fields.get("model") or next(iter(models))
    if name not in models:
        raise UploadError(422, f"no model {name!r}; this server has {', '.join(models)}")
    try:
        topk = int(fields.get("topk") or 5)
    except ValueError:
        raise UploadError(422, "topk must be a whole number") from None
    try:
        check_topk(topk, "topk")
    except VidactError as err:
        raise UploadError(422, str(err)) from None
    if topk > 100:  # an answer of reasonable size
        raise UploadError(422, "topk must be between 1 and 100")
    defaults = TimelineSettings()
    try:
        timeline = TimelineSettings(
            fields.get("window") or defaults.window, fields.get("stride") or defaults.stride
        )
    except VidactError as err:
        raise UploadError(422, str(err).replace("--", "")) from None
    annotate = (fields.get("annotate") or "false").lower() in ("1", "true", "yes", "on")
    return name, models[name], {"topk": topk, "timeline": timeline, "annotate": annotate}


async def _sweep(store: TempStore) -> None:
    """Remove expired annotated videos, checking every minute (or sooner for a short TTL)."""
    while True:
        await asyncio.sleep(min(60.0, max(store.ttl_s / 2, 0.5)))
        store.expire()
