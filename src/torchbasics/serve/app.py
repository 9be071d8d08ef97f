"""The web app: the page, the JSON API, and one-line JSON errors for everything that fails.

    GET  /                              the page (static/index.html)
    GET  /healthz                       {"status": "ok", "models": [...], "batching": {...}}
    GET  /api/models                    {"models": [{name, kind, dataset, card, ...}]}
    POST /api/models/{name}/predict     pictures -> {"model", "predictions": [...]};
                                        table rows (JSON) -> {"model", "target",
                                        "predictions"}; ?inside=true adds the Inside
                                        view of one picture
    GET  /api/models/{name}/weights     ?layer=L&index=I: one unit's, class's or
                                        filter's weights (for the Inside view)
    GET  /docs, /openapi.json           the API's documentation (Swagger UI, offline)

Every error is ``{"error": "<the CLI's one-line message>"}`` with a 4xx status (a 500 only
for a bug). No route takes a file-system path from a client: the page's files and the
documentation's are read once, at start, from the installed packages.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import anyio
import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from torchbasics import __version__
from torchbasics.errors import TorchbasicsError, closest
from torchbasics.runs.trained import PICTURES, ROWS
from torchbasics.serve.batching import MAX_BATCH, MAX_WAIT, MicroBatcher
from torchbasics.serve.errors import RequestError, status_of
from torchbasics.serve.images import ImageLimits, decode_image
from torchbasics.serve.inside import InsideModel
from torchbasics.serve.limits import BODY_TIMEOUT, MAX_UPLOAD, BodyLimit, LoopbackHosts
from torchbasics.serve.served import Served
from torchbasics.serve.uploads import MAX_IMAGES, read_pictures, read_rows

log = logging.getLogger("torchbasics.serve")

DECODERS = 2  # pictures decoded at once: each may briefly hold ~160 MB of pixels
PAGE_POLICY = ("default-src 'self'; img-src 'self' data: blob:; object-src 'none'; "
               "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
WARM_UP = np.pad(np.full((20, 3), 255, np.uint8), ((4, 4), (12, 13)))  # a "1", 28x28
STATIC = {"app.js": "text/javascript", "style.css": "text/css"}
DOCS_FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}


@dataclass(frozen=True)
class ServeSettings:
    """The server's limits; the defaults are ``torchbasics serve``'s."""

    max_upload: int = MAX_UPLOAD  # bytes of request body
    body_timeout: float = BODY_TIMEOUT  # seconds a body may stall
    loopback_only: bool = True  # answer only Host: localhost / 127.x / [::1]
    images: ImageLimits = field(default_factory=ImageLimits)
    max_images: int = MAX_IMAGES  # pictures per request
    max_batch: int = MAX_BATCH  # pictures per forward pass
    max_wait: float = MAX_WAIT  # seconds a batch may wait for more


PREDICT_BODY = {"requestBody": {"required": True, "content": {
    "multipart/form-data": {"schema": {"type": "object", "properties": {"image": {
        "type": "array", "items": {"type": "string", "format": "binary"},
        "description": "one or more pictures (any field name; every file is a picture)"}}}},
    "image/png": {"schema": {"type": "string", "format": "binary"}},
    "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
    "application/json": {"schema": {
        "description": "table models only: one row or a list of them",
        "example": {"rating": 8, "years": 5, "projects": 12}}},
}}}


def create_app(served: dict[str, Served], settings: ServeSettings | None = None) -> Any:
    """The ASGI app serving ``served`` (see :func:`~.served.load_served`), limits applied."""
    settings = settings or ServeSettings()
    batchers: dict[str, MicroBatcher] = {}
    insides: dict[str, InsideModel] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for name, model in served.items():
            if model.takes == PICTURES:  # batched forward passes and the Inside view
                insides[name] = InsideModel(model.model)
                batchers[name] = MicroBatcher(model.model.predict_many, name=name,
                                              max_batch=settings.max_batch,
                                              max_wait=settings.max_wait,
                                              warm_up=[WARM_UP] * 8)
        yield
        for batcher in batchers.values():
            batcher.close()

    app = FastAPI(title="torchbasics", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="Predictions from trained torchbasics runs.")
    add_error_handlers(app)
    add_page_routes(app)
    add_api_routes(app, served, batchers, insides, settings)
    add_weights_route(app, served, insides)
    wrapped: Any = BodyLimit(SecurityHeaders(app), settings.max_upload, settings.body_timeout)
    return LoopbackHosts(wrapped) if settings.loopback_only else wrapped


def add_api_routes(app: FastAPI, served: dict[str, Served], batchers: dict[str, MicroBatcher],
                   insides: dict[str, InsideModel], settings: ServeSettings) -> None:
    """``/healthz``, ``/api/models`` and ``/api/models/{name}/predict``."""
    decoders = anyio.CapacityLimiter(DECODERS)

    @app.get("/healthz", tags=["server"])
    async def healthz() -> dict[str, Any]:
        """The server is up: the models it serves, and the forward passes and pictures
        each image model has run so far (their ratio is the mean batch size)."""
        return {"status": "ok", "models": list(served),
                "batching": {name: {"batches": batcher.batches, "pictures": batcher.pictures}
                             for name, batcher in batchers.items()}}

    @app.get("/api/models", tags=["models"])
    async def models() -> dict[str, Any]:
        """Every served model: name, kind, data set, classes or inputs, and its card."""
        return {"models": [model.describe() for model in served.values()]}

    @app.post("/api/models/{name}/predict", tags=["models"], openapi_extra=PREDICT_BODY)
    async def predict(request: Request, name: str,
                      top: int = Query(3, ge=1, le=1000, description="classes listed per "
                                       "picture (at most the model's class count)"),
                      seen: bool = Query(False, description="add the 28x28 picture the "
                                         "model saw (and deskewed, if it deskews)"),
                      inside: bool = Query(False, description="add the Inside view: the "
                                           "attribution map and what each layer did (one "
                                           "picture only)")
                      ) -> dict[str, Any]:
        """Predict with model ``name``.

        Image models: one or more pictures as multipart/form-data, or one as the raw
        body (``image/*``); each prediction has the fields of ``torchbasics predict
        --json``. A table model: JSON ``{"column": value, ...}`` (numbers, text, or null for
        missing) or a list of such objects.
        """
        model = find_model(served, name)
        if model.takes == ROWS:
            return await predict_rows(request, model)
        batcher = batchers[name]
        with batcher.incoming() as ticket:
            uploads = await read_pictures(request, settings.max_images)
            pictures = await anyio.to_thread.run_sync(
                decode_all, uploads, decode_limits(model, settings), limiter=decoders)
            future = batcher.submit(pictures, min(top, len(model.model.class_names)), ticket)
        predictions = await named(future, uploads)
        rows = [p.to_dict() | {"source": source} for p, (source, _) in zip(predictions,
                                                                          uploads, strict=True)]
        if seen:
            rows = await anyio.to_thread.run_sync(add_pictures, rows, predictions,
                                                  model.model.preprocessing.deskew)
        if inside:
            if len(predictions) != 1:
                raise RequestError(400, f"inside=true takes one picture, got {len(predictions)}",
                                   fix="send the pictures one at a time")
            rows[0]["inside"] = await anyio.to_thread.run_sync(insides[name].view,
                                                               predictions[0])
        return {"model": name, "predictions": rows}


def add_weights_route(app: FastAPI, served: dict[str, Served],
                      insides: dict[str, InsideModel]) -> None:
    """``/api/models/{name}/weights``: what a click in the Inside view shows."""

    @app.get("/api/models/{name}/weights", tags=["models"])
    async def weights(name: str, layer: int = Query(0, ge=0, description="0 for the first "
                                                    "layer; a CNN's convolutions count from 0"),
                      index: int = Query(..., ge=0, description="the unit, class or filter")
                      ) -> dict[str, Any]:
        """The weights behind one item of the Inside view: a class's template, a hidden
        unit's weights over the pixels, or a filter."""
        find_model(served, name)
        if name not in insides:
            raise RequestError(400, "a table model's weights are its formula",
                               fix="see its card in GET /api/models")
        try:
            return await anyio.to_thread.run_sync(insides[name].weights, layer, index)
        except IndexError as error:
            raise RequestError(404, str(error)) from None


def find_model(served: dict[str, Served], name: str) -> Served:
    """The served model called ``name`` (a dictionary key: nothing else is looked up)."""
    if name not in served:
        raise RequestError(404, f"no model named '{name[:40]}'", fix=closest(name, list(served)))
    return served[name]


async def named(future: Any, uploads: list[tuple[str, bytes]]) -> list[Any]:
    """The predictions; an error about the one picture sent names its file, as the CLI's
    do (the model saw pixels, not a file)."""
    try:
        return await future
    except TorchbasicsError as error:
        source = uploads[0][0] if len(uploads) == 1 else ""
        if error.where is None and source:
            raise RequestError(status_of(error), error.what, where=source,
                               fix=error.fix) from None
        raise


def decode_limits(model: Served, settings: ServeSettings) -> ImageLimits:
    """The limits a model's uploads are decoded with: a model of the user's own pictures
    gets every pixel, so that it sees a picture exactly as `predict` prepares it (shrinking
    first only saves work for the digit and clothes models' ink-finding)."""
    if model.model.preprocessing.pipeline == "photo":
        return dataclasses.replace(settings.images, work_side=None)
    return settings.images


def decode_all(uploads: list[tuple[str, bytes]], limits: ImageLimits) -> list[Any]:
    """Decode every uploaded picture (in a worker thread)."""
    return [decode_image(data, limits, source) for source, data in uploads]


async def predict_rows(request: Request, model: Served) -> dict[str, Any]:
    """A table model on the JSON rows of ``request``: a value, or a class and its
    probabilities, for each; what had to be filled in, in ``filled_in``."""
    table_model = model.model
    rows = await read_rows(request, table_model.keys())
    predictions = await anyio.to_thread.run_sync(lambda: [answer_row(table_model, row)
                                                          for row in rows])
    return {"model": model.name, "target": table_model.target, "predictions": predictions}


def answer_row(model: Any, row: dict[str, Any]) -> dict[str, Any]:
    """One row's prediction as the API answers it: the inputs, then the model's answer."""
    return {"inputs": row} | model.predict_row(row, where="request")


def add_pictures(rows: list[dict[str, Any]], predictions: list[Any],
                 deskew: bool) -> list[dict[str, Any]]:
    """Each row with ``seen`` (the pixels the model saw, as lists: gray levels, or RGB
    triples) and, for a deskewing model, ``deskewed``."""
    from torchbasics.inference.show import straightened

    for row, prediction in zip(rows, predictions, strict=True):
        row["seen"] = prediction.seen.tolist()
        if deskew:
            row["deskewed"] = straightened(prediction.seen).tolist()
    return rows


def add_page_routes(app: FastAPI) -> None:
    """The page, its two files, and the offline API documentation."""
    static = resources.files("torchbasics.serve") / "static"
    page = (static / "index.html").read_bytes()
    files = {name: ((static / name).read_bytes(), kind) for name, kind in STATIC.items()}
    docs = _docs_files()

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return Response(page, media_type="text/html",
                        headers={"content-security-policy": PAGE_POLICY})

    for name, (content, kind) in files.items():
        app.add_api_route(f"/static/{name}", _fixed(content, kind), include_in_schema=False)
    for name, (content, kind) in docs.items():
        app.add_api_route(f"/docs/{name}", _fixed(content, kind), include_in_schema=False)

    @app.get("/docs", include_in_schema=False)
    async def swagger() -> Response:
        return get_swagger_ui_html(openapi_url="/openapi.json", title="torchbasics API",
                                   swagger_js_url="/docs/swagger-ui-bundle.js",
                                   swagger_css_url="/docs/swagger-ui.css",
                                   swagger_favicon_url="data:,")


def _fixed(content: bytes, kind: str) -> Callable[[], Any]:
    """A route answering always the same bytes (cached by browsers for an hour)."""
    async def route() -> Response:
        return Response(content, media_type=kind, headers={"cache-control": "max-age=3600"})
    return route


def _docs_files() -> dict[str, tuple[bytes, str]]:
    """Swagger UI's script and style, from the fastapi-offline package (no CDN)."""
    folder = resources.files("fastapi_offline") / "static"
    return {name: ((folder / name).read_bytes(), kind) for name, kind in DOCS_FILES.items()}


def add_error_handlers(app: FastAPI) -> None:
    """Every failure answered as ``{"error": one line}``; a traceback only in the log."""

    @app.exception_handler(TorchbasicsError)
    async def bad_input(request: Request, error: TorchbasicsError) -> JSONResponse:
        status = status_of(error)
        # The rest of a stalled or oversized body is not worth waiting for: hang up.
        close = {"connection": "close"} if status in (408, 413) else None
        return error_response(status, error.message, headers=close)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        message = {404: f"no such page: {request.url.path[:80]}",
                   405: f"{request.method} is not allowed on {request.url.path[:80]}"}
        return error_response(error.status_code,
                              message.get(error.status_code, str(error.detail)),
                              headers=getattr(error, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())[1:]) or "request"
        return error_response(422, f"{where}: {first.get('msg', 'invalid')}")

    @app.exception_handler(Exception)
    async def bug(request: Request, error: Exception) -> JSONResponse:
        log.exception("error answering %s %s", request.method, request.url.path)
        return error_response(500, f"internal error ({type(error).__name__}); the server's "
                              "log has the details")


def error_response(status: int, message: str,
                   headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"error": message}`` with ``status``."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class SecurityHeaders:
    """Headers on every response that keep browsers from misreading or framing it."""

    HEADERS = ((b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
               (b"x-frame-options", b"DENY"))

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *self.HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)
