"""``torchbasics serve``: trained runs behind a web page and a JSON API.

    app.py        the FastAPI app: routes, error responses, security headers
    limits.py     request body limit and slow-client timeout (ASGI middleware), Host check
    uploads.py    a request body -> images (multipart, raw) or bonus features (JSON)
    images.py     untrusted bytes -> a PIL image, safely (formats, sizes, bombs)
    batching.py   micro-batching: concurrent requests -> one forward pass, off the loop
    memory.py     freed memory back to the system while idle (glibc's malloc_trim)
    errors.py     RequestError: a TorchbasicsError with the HTTP status that answers it
    served.py     the runs being served: names, kinds, model cards
    server.py     uvicorn, the bind address check, Ctrl-C
    static/       the page: plain HTML, CSS and JavaScript, no build step, no CDN

The web framework is an optional extra (``pip install 'torchbasics[serve]'``); nothing
here imports it until a server is built, so ``torchbasics.extras.require_extra("serve")``
can say what is missing first.
"""
