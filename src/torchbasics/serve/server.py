"""Run the app under uvicorn: bind (loopback unless told otherwise), serve, stop on Ctrl-C."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from typing import Any

from torchbasics.errors import TorchbasicsError

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server to this machine (127.x, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: any free one), or a one-line error."""
    where = f"--host {host} --port {port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host.strip("[]"), port, type=socket.SOCK_STREAM)[0]
        sock = socket.socket(family, kind, proto)
    except (OSError, UnicodeError) as exc:
        raise TorchbasicsError(f"cannot use this address ({exc})", where=where,
                               fix="give an IP address or host name of this machine") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)  # connections wait here until the server runs, e.g. for --open
    except OSError as exc:
        sock.close()
        fix = ("pick another --port, or stop what uses this one" if exc.errno == 98
               else "give an address of this machine, and a port above 1023")
        raise TorchbasicsError(f"cannot listen here ({exc.strerror})", where=where,
                               fix=fix) from None
    return sock


def url_of(sock: socket.socket) -> str:
    """``http://host:port`` of a bound socket (IPv6 in brackets)."""
    host, port = sock.getsockname()[:2]
    host = "localhost" if host == "127.0.0.1" else host
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def set_threads() -> int:
    """Threads for PyTorch on a small CPU: leave one core to the event loop (HTTP, JSON,
    decoding); a batch of 28x28 pictures gains little from more. Returns the count."""
    import torch

    threads = max(1, (os.cpu_count() or 1) - 1)
    torch.set_num_threads(threads)
    return threads


def run(app: Any, sock: socket.socket, *, on_start: Callable[[], None] | None = None) -> None:
    """Serve ``app`` on ``sock`` until Ctrl-C or SIGTERM (both stop it cleanly)."""
    import uvicorn

    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                            timeout_keep_alive=5, timeout_graceful_shutdown=3,
                            server_header=False)
    server = uvicorn.Server(config)
    if on_start is not None:
        on_start()
    server.run(sockets=[sock])
