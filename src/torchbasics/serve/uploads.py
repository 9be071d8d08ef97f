"""A prediction request's body -> the uploaded pictures' bytes, or a table model's rows.

Pictures come as ``multipart/form-data`` (every file part is a picture, in order: what a
browser form and ``curl -F`` send) or as the raw body with an ``image/*`` or
``application/octet-stream`` content type (one picture). Table rows come as JSON: one
object ``{"rating": 8, "years": 5, "projects": 12}`` or a list of them. The size limit is
enforced while the body is read (:mod:`.limits`); what arrives is only ever data: a file
name sent by the client is echoed back in ``source``, never opened.
"""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from torchbasics.serve.errors import RequestError

MAX_IMAGES = 64  # pictures in one request
MAX_ROWS = 1000  # table rows in one request
MAX_FIELDS = 16  # non-file form fields (ignored, but parsed)
NAME_LENGTH = 200  # characters of a client's file name echoed back
RAW_TYPES = ("application/octet-stream",)
PICTURE_HELP = ("send the picture as multipart/form-data (curl -F image=@digit.png) or as "
                "the body with its type (curl --data-binary @digit.png -H 'Content-Type: "
                "image/png')")


def media_type(request: Request) -> str:
    """The request's content type without parameters, lower case ('' when absent)."""
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_pictures(request: Request, max_images: int = MAX_IMAGES
                        ) -> list[tuple[str, bytes]]:
    """``(source, bytes)`` of each picture in the request (source: the file name or "").

    Raises:
        RequestError: 415 not a picture upload, 400 no picture in the form, 413 too many.
    """
    media = media_type(request)
    if media == "multipart/form-data":
        async with request.form(max_files=max_images, max_fields=MAX_FIELDS) as form:
            files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
            if not files:
                raise RequestError(400, "the form holds no file", fix=PICTURE_HELP)
            return [(_clean_name(f.filename), await f.read()) for f in files]
    if media.startswith("image/") or media in RAW_TYPES:
        if media == "image/svg+xml":
            raise RequestError(415, "SVG is a drawing, not pixels",
                               fix="export it as PNG first")
        return [("", await request.body())]
    if media == "application/json":
        raise RequestError(415, "JSON is for table models; an image model takes pictures",
                           fix=PICTURE_HELP)
    raise RequestError(415, f"cannot read a body of type '{media[:60] or 'none given'}' as a "
                       "picture", fix=PICTURE_HELP)


def _clean_name(name: str | None) -> str:
    """A client's file name, shortened and stripped of control characters, as a label."""
    text = "".join(ch for ch in (name or "") if ch.isprintable())
    return text[:NAME_LENGTH]


async def read_rows(request: Request, keys: dict[str, str]) -> list[dict[str, Any]]:
    """The rows in a JSON body, each as ``{column: value}`` for a table model's
    ``predict_one``.

    Keys may be a column's name or its short name (``keys`` maps each to the column);
    values are JSON numbers, text (a category, or a number written as text), or ``null``
    for missing. The model itself checks the values, with the CLI's messages.

    Raises:
        RequestError: 415 not JSON, 400 empty or malformed, 413 too many rows, 422 a row
            that is not an object, an unknown key, or a value that is an object or a list.
    """
    example = json.dumps({key: 1 for key in list(keys)[:3]})
    if media_type(request) != "application/json":
        raise RequestError(415, f"a table model takes JSON, e.g. {example}",
                           fix="send it with Content-Type: application/json")
    body = await request.body()
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        what = "the body is empty" if not body.strip() else f"the body is not JSON ({exc})"
        raise RequestError(400, what, fix=f"send e.g. {example}") from None
    rows = data if isinstance(data, list) else [data]
    if len(rows) > MAX_ROWS:
        raise RequestError(413, f"{len(rows):,} rows in one request",
                           fix=f"send at most {MAX_ROWS:,}")
    if not rows:
        raise RequestError(422, "an empty list: no row to predict")
    return [_row(row, keys) for row in rows]


def _row(row: Any, keys: dict[str, str]) -> dict[str, Any]:
    """One JSON object -> ``{column: value}``, keys and types checked."""
    wanted = ", ".join(dict.fromkeys(keys.values()))
    if not isinstance(row, dict):
        raise RequestError(422, f"a {type(row).__name__} where an object was expected",
                           fix=f"send an object with {wanted}")
    values: dict[str, Any] = {}
    for key, value in row.items():
        if key not in keys:
            raise RequestError(422, f"unknown field '{str(key)[:40]}'", fix=f"give {wanted}")
        if isinstance(value, (dict, list)):
            raise RequestError(422, f"{json.dumps(value)[:40]} is not a value", where=key,
                               fix="give a number, a text or null")
        if isinstance(value, float) and not math.isfinite(value):
            raise RequestError(422, f"{value} is not a finite number", where=key,
                               fix="send a number, or null for a missing value")
        values[keys[key]] = value
    return values
