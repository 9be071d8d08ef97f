"""``torchbasics serve``: trained runs on a web page and a JSON API (the ``serve`` extra)."""

from __future__ import annotations

import argparse
import contextlib
import sys
from pathlib import Path

DEFAULT_PORT = 8000
DEFAULT_MAX_UPLOAD_MB = 10


def register(commands: argparse._SubParsersAction) -> None:
    """Add ``serve`` to the top-level parser."""
    parser = commands.add_parser(
        "serve", help="try trained runs in the browser: draw or upload, and a JSON API",
        description="Serve one or more trained runs: a page to draw digits or upload "
        "pictures on (a form for the bonus model) and a JSON API (POST "
        "/api/models/NAME/predict; documentation at /docs). Models are loaded once at "
        "start; nothing is ever written into a run directory. Needs the 'serve' extra: "
        "pip install 'torchbasics[serve]'.",
    )
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                        help="run directories (their best.pt, else last.pt) or checkpoint files")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; anything but loopback lets other machines "
                        "use the models, with no login (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"port to listen on, 0 for any free one (default: {DEFAULT_PORT})")
    parser.add_argument("--open", action="store_true",
                        help="open the page in the web browser (default: off)")
    parser.add_argument("--max-upload", type=float, default=DEFAULT_MAX_UPLOAD_MB,
                        metavar="MB", help="largest request body accepted, in MiB; larger ones "
                        f"get 413 (default: {DEFAULT_MAX_UPLOAD_MB})")
    parser.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Load the runs, bind, print the URL and serve until Ctrl-C."""
    from torchbasics.errors import TorchbasicsError
    from torchbasics.extras import require_extra

    require_extra("serve", where="torchbasics serve")
    if not 0 < args.max_upload <= 1024:
        raise TorchbasicsError(f"must be more than 0 and at most 1024, got {args.max_upload:g}",
                               where="--max-upload")
    if not 0 <= args.port <= 65535:
        raise TorchbasicsError(f"must be 0-65535, got {args.port}", where="--port")

    from torchbasics.serve.app import ServeSettings, create_app
    from torchbasics.serve.served import load_served
    from torchbasics.serve.server import bind, is_loopback, run, set_threads, url_of

    set_threads()
    served = load_served(args.runs)
    local = is_loopback(args.host)
    settings = ServeSettings(max_upload=int(args.max_upload * 2**20), loopback_only=local)
    sock = bind(args.host, args.port)
    url = url_of(sock)
    names = ", ".join(f"{name} ({model.describe()['kind']})" for name, model in served.items())
    print(f"serving {names}\nopen {url}  (API: {url}/api/models, docs: {url}/docs; "
          "Ctrl-C stops)", flush=True)
    if not local:
        print(f"torchbasics: warning: listening on {args.host}, not only on this machine: "
              "anyone who can reach it can use these models (there is no login). "
              "Use --host 127.0.0.1 to keep it local", file=sys.stderr, flush=True)

    def open_page() -> None:
        if args.open:
            import webbrowser

            webbrowser.open(url)

    # uvicorn shuts down cleanly on Ctrl-C, then raises the signal again for the caller.
    with contextlib.suppress(KeyboardInterrupt):
        run(create_app(served, settings), sock, on_start=open_page)
    print("stopped", flush=True)
    return 0
