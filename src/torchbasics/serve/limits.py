"""What every request must respect before a route sees it: body size, pace, Host header.

Plain ASGI middleware, so the limits hold for every route and parser (multipart included):
the body is counted as it is read, and reading stops at the limit instead of buffering an
upload first and measuring it afterwards.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from torchbasics.serve.errors import RequestError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_UPLOAD = 10 * 1024 * 1024  # bytes of request body
BODY_TIMEOUT = 10.0  # seconds the body may pause before the request is dropped
LINGER_BYTES = 64 * 1024 * 1024  # of a refused body read and dropped before answering
LINGER_SECONDS = 5.0  # at most, in all


def too_large(limit: int) -> RequestError:
    """The 413 for a body over ``limit`` bytes."""
    return RequestError(413, f"the request body is larger than {limit:,} bytes",
                        fix="send a smaller picture (or start the server with a larger "
                        "--max-upload)")


def stalled(timeout: float) -> RequestError:
    """The 408 for a body that stopped arriving."""
    return RequestError(408, f"the request body stopped arriving for {timeout:g} s",
                        fix="send the whole body without pausing")


class BodyLimit:
    """Refuse bodies over ``max_bytes`` (413) and bodies that stall for ``timeout`` s (408).

    A declared ``Content-Length`` over the limit is refused before a byte is kept; a
    chunked or lying body is refused at the first chunk that crosses it. The error is
    raised inside the route's own read, so the app's error handlers answer it as JSON.

    Before a 413 is sent, the rest of the body is read and dropped (up to
    :data:`LINGER_BYTES`, for :data:`LINGER_SECONDS`): a server that answers and closes
    while the client is still sending makes the client's system reset the connection,
    and a client that reads the answer only after sending everything (Python's urllib,
    requests) sees "connection reset" instead of the message. nginx does the same
    ("lingering close").
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_UPLOAD,
                 timeout: float = BODY_TIMEOUT):
        self.app = app
        self.max_bytes = max_bytes
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            if not declared.isdigit():
                error = RequestError(400, f"Content-Length '{declared[:20]}' is not a number")
            else:
                error = too_large(self.max_bytes)
                await drain(receive)
            await send_error(send, error.status, error.message)
            return
        await self.app(scope, self._limited(receive), send)

    def _limited(self, receive: Receive) -> Receive:
        """``receive``, counting body bytes and timing each wait while the body lasts."""
        received = 0
        finished = False

        async def limited() -> Message:
            nonlocal received, finished
            if finished:  # after the body: waiting for a disconnect may last, legitimately
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.timeout)
            except asyncio.TimeoutError:
                raise stalled(self.timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    if message.get("more_body", False):
                        await drain(receive)
                    finished = True
                    raise too_large(self.max_bytes)
                finished = not message.get("more_body", False)
            else:
                finished = True
            return message

        return limited


async def drain(receive: Receive, limit: int = LINGER_BYTES,
                seconds: float = LINGER_SECONDS) -> int:
    """Read and drop what is left of a request body, up to ``limit`` bytes and ``seconds``
    in all; the bytes dropped."""
    dropped = 0
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while dropped <= limit:
        try:
            message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
        except asyncio.TimeoutError:
            break
        if message["type"] != "http.request":
            break
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return dropped


class LoopbackHosts:
    """Answer only requests addressed to this machine by name (localhost, 127.x, ::1).

    A server bound to 127.0.0.1 is still reachable from any web page the user opens, if
    that page's domain is made to resolve to 127.0.0.1 (DNS rebinding). Such a request
    carries the page's domain in its Host header, so checking it closes that door.
    """

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not is_loopback_host(_header(scope, b"host") or ""):
            await send_error(send, 421, "this server answers only requests addressed to "
                             "localhost, 127.0.0.1 or [::1]. Open it by one of those names")
            return
        await self.app(scope, receive, send)


def is_loopback_host(host: str) -> bool:
    """Whether a Host header (``name[:port]``) names this machine's loopback interface."""
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    name = name.strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _header(scope: Scope, name: bytes) -> str | None:
    """A request header's value (the first), decoded as Latin-1 like HTTP/1.1."""
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1").strip()
    return None


async def send_error(send: Send, status: int, message: str) -> None:
    """Answer with ``{"error": message}`` directly at the ASGI level."""
    body = json.dumps({"error": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})
