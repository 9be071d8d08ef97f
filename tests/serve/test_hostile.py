"""Hostile requests on a real server (uvicorn on a loopback socket): each gets the right 4xx
as one line of JSON, never a 500, and the server answers the next request normally."""

from __future__ import annotations

import io
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable
from urllib.parse import urlsplit

import httpx
import numpy as np
import pytest
from PIL import Image

from tests.serve.conftest import live_server, png_bytes

pytestmark = pytest.mark.slow

DIGITS, FASHION, BONUS = "mnist-cnn", "fashion-mnist-softmax", "bonus"
PNG, JPEG, JSON = ({"content-type": t} for t in ("image/png", "image/jpeg", "application/json"))


# ------------------------------------------------------------------------ hostile pictures

def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(
        ">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bomb_png(side: int = 30_000) -> bytes:
    """A real decompression bomb: ~100 kB of PNG that decodes to side x side pixels
    (900 million for the default), all black. Written by hand: Pillow would need the
    pixels in memory to save it."""
    row = b"\x00" + bytes((side + 7) // 8)  # filter byte + one bit per pixel
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grayscale
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", data)
            + png_chunk(b"IEND", b""))


def text_bomb_png(digit: np.ndarray) -> bytes:
    """A valid digit PNG carrying a compressed text chunk that inflates to 64 MB."""
    plain = png_bytes(digit)
    ztxt = png_chunk(b"zTXt", b"Comment\x00\x00" + zlib.compress(bytes(64 << 20), 9))
    return plain[:33] + ztxt + plain[33:]  # after the signature and IHDR


def animated_gif(digit: np.ndarray) -> bytes:
    frames = [Image.fromarray(digit), Image.fromarray(255 - digit)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    return buffer.getvalue()


def cmyk_jpeg(digit: np.ndarray) -> bytes:
    image = Image.fromarray(digit).convert("CMYK")
    return _save(image, "JPEG", quality=95)


def sixteen_bit_png(digit: np.ndarray) -> bytes:
    image = Image.fromarray(digit.astype(np.uint16) * 257)  # mode I;16: 0-65535
    assert image.mode == "I;16"
    return _save(image, "PNG")


def _save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def corrupted_png(digit: np.ndarray) -> bytes:
    data = bytearray(png_bytes(np.kron(digit, np.ones((8, 8), np.uint8))))
    start = data.index(b"IDAT") + 8
    data[start:start + 64] = bytes(range(64))  # scrambled compressed data (bad CRC too)
    return bytes(data)


SVG = (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="28" height="28">'
       b'<path d="M14 4 V24" stroke="black" stroke-width="3"/></svg>')


# ------------------------------------------------------------------------ the table

def cases(digit: np.ndarray) -> list[tuple[str, Callable[[httpx.Client], httpx.Response], int,
                                           str]]:
    """(name, request, expected status, a word the error names)."""
    def post(name=DIGITS, **kwargs):
        def send(client: httpx.Client) -> httpx.Response:
            if callable(kwargs.get("content")):  # made when sent, not when collected
                kwargs["content"] = kwargs["content"]()
            return client.post(f"/api/models/{name}/predict", **kwargs)
        return send

    good = png_bytes(digit)
    return [
        ("oversized body (declared)", post(content=lambda: bytes(11 << 20), headers=PNG), 413,
         "larger than"),
        ("oversized body (chunked, no length)", post(
            content=(bytes(1 << 20) for _ in range(12)), headers=PNG), 413, "larger than"),
        ("decompression-bomb PNG", post(content=bomb_png, headers=PNG), 413, "too large"),
        ("PNG whose text chunk is a bomb", post(content=lambda: text_bomb_png(digit),
                                                headers=PNG), 413, "too large"),
        ("10,000 x 10,000 picture (100 MP)", post(content=lambda: bomb_png(10_000),
                                                  headers=PNG), 413, "10,000x10,000"),
        ("SVG", post(content=SVG, headers={"content-type": "image/svg+xml"}), 415, "SVG"),
        ("SVG sent as PNG", post(content=SVG, headers=PNG), 415, "SVG"),
        ("animated GIF", post(content=lambda: animated_gif(digit), headers={
            "content-type": "image/gif"}), 415, "animated"),
        ("TIFF (not an accepted format)", post(content=_save(Image.fromarray(digit), "TIFF"),
                                               headers=PNG), 415, "supported format"),
        ("1x1 picture", post(content=png_bytes(np.zeros((1, 1), np.uint8)), headers=PNG),
         422, "blank"),
        ("20000x20 picture", post(content=png_bytes(np.zeros((20, 20_000), np.uint8)),
                                  headers=PNG), 413, "20,000x20"),
        ("corrupted PNG", post(content=corrupted_png(digit), headers=PNG), 400, "damaged"),
        ("truncated PNG", post(content=good[:len(good) // 2], headers=PNG), 400, "damaged"),
        ("empty body", post(content=b"", headers=PNG), 400, "empty"),
        ("wrong content type", post(content=good, headers={"content-type": "text/plain"}),
         415, "text/plain"),
        ("curl's default form type", post(content=good, headers={
            "content-type": "application/x-www-form-urlencoded"}), 415, "multipart"),
        ("JSON to an image model", post(json={"path": "/etc/passwd"}), 415, "JSON"),
        ("65 pictures in one form", post(files=[("image", ("d.png", good, "image/png"))] * 65),
         400, "too many files"),
        ("NaN in JSON", post(BONUS, content=b'{"rating": NaN, "years": 1, "projects": 1}',
                             headers=JSON), 422, "NaN"),
        ("Infinity in JSON", post(BONUS, content=b'{"rating": 5, "years": 1e999, '
                                  b'"projects": 1}', headers=JSON), 422, "finite"),
        ("out-of-range rating", post(BONUS, json={"rating": 0, "years": 1, "projects": 1}),
         422, "out of range"),
        ("negative years", post(BONUS, json={"rating": 5, "years": -2, "projects": 1}), 422,
         "out of range"),
        ("fractional projects", post(BONUS, json={"rating": 5, "years": 2, "projects": 1.5}),
         422, "whole number"),
        ("a word for a number", post(BONUS, json={"rating": "eight", "years": 1,
                                                  "projects": 1}), 422, "not a number"),
        ("a huge integer", post(BONUS, json={"rating": 10 ** 400, "years": 1, "projects": 1}),
         422, "finite"),
        ("deeply nested JSON", post(BONUS, content=b"[" * 100_000, headers=JSON), 400,
         "not JSON"),
        ("not UTF-8 JSON", post(BONUS, content=b'{"rating": "\xff"}', headers=JSON), 400,
         "not JSON"),
        ("too many rows", post(BONUS, json=[{"rating": 5}] * 1001), 413, "rows"),
        ("a picture to the bonus model", post(BONUS, content=good, headers=PNG), 415, "JSON"),
        ("unknown model", post("resnet50", content=good, headers=PNG), 404, "no model"),
        ("path-like model name", post("..%2F..%2Fetc%2Fpasswd", content=good, headers=PNG),
         404, "no such page"),
        ("dot-dot model name", post("..", content=good, headers=PNG), 404, ""),
        ("NUL in the model name", post("mnist%00", content=good, headers=PNG), 404,
         "no model"),
        ("bad top", post(params={"top": "all"}, content=good, headers=PNG), 422, "top"),
    ]


def digit_picture() -> np.ndarray:
    """A hand-drawn-looking 7: dark ink on white, 56x56."""
    picture = np.full((56, 56), 255, np.uint8)
    picture[10:15, 12:44] = 0
    for row in range(15, 48):
        column = 44 - (row - 15) * 20 // 33
        picture[row, column - 2:column + 3] = 0
    return picture


HOSTILE = cases(digit_picture())


@pytest.fixture(scope="module")
def http(server_url):
    with httpx.Client(base_url=server_url, timeout=60) as client:
        yield client


@pytest.mark.parametrize(("name", "send", "status", "word"), HOSTILE,
                         ids=[case[0] for case in HOSTILE])
def test_hostile_request(http, name, send, status, word):
    response = send(http)
    assert response.status_code == status, response.text[:300]
    body = response.json()
    assert list(body) == ["error"] and "\n" not in body["error"], body
    assert word.lower() in body["error"].lower(), body["error"]
    # ... and the server goes on answering, correctly.
    answer = http.post(f"/api/models/{DIGITS}/predict", content=png_bytes(digit_picture()),
                       headers=PNG)
    assert answer.status_code == 200 and answer.json()["predictions"][0]["class"] == "7"


def test_there_are_at_least_twenty():
    assert len(HOSTILE) >= 20


@pytest.mark.parametrize("encode", [cmyk_jpeg, sixteen_bit_png], ids=["CMYK JPEG",
                                                                       "16-bit PNG"])
def test_odd_but_valid_pictures_are_read_like_plain_ones(http, mnist_digits, encode):
    """A CMYK JPEG and a 16-bit PNG are real pictures: the answer is a prediction, the same
    as for the plain 8-bit PNG of the same digit."""
    digit = mnist_digits[3]
    plain = http.post(f"/api/models/{DIGITS}/predict", content=png_bytes(digit), headers=PNG)
    odd = http.post(f"/api/models/{DIGITS}/predict", content=encode(digit), headers=PNG)
    assert odd.status_code == 200, odd.text
    assert odd.json()["predictions"][0]["label"] == plain.json()["predictions"][0]["label"]


def test_a_client_file_name_is_only_echoed(http):
    files = {"image": ("../../../../etc/passwd", png_bytes(digit_picture()), "image/png")}
    answer = http.post(f"/api/models/{DIGITS}/predict", files=files)
    assert answer.status_code == 200
    assert answer.json()["predictions"][0]["source"] == "../../../../etc/passwd"


def test_a_non_numeric_content_length_is_refused(server_url):
    status, _ = raw_exchange(server_url, b"POST /api/models/mnist-cnn/predict HTTP/1.1\r\n"
                             b"Host: localhost\r\nContent-Type: image/png\r\n"
                             b"Content-Length: lots\r\n\r\n")
    assert status == 400


def test_a_foreign_host_header_is_refused(http):
    answer = http.get("/api/models", headers={"host": "attacker.example"})
    assert answer.status_code == 421 and "localhost" in answer.json()["error"]


# ------------------------------------------------------------------------ slow clients

def raw_exchange(url: str, request: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """Send ``request`` on a fresh socket; the response's status and body."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(request)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_a_client_that_stops_sending_gets_408_and_hurts_no_one(served, mnist_digits):
    from torchbasics.serve.app import ServeSettings, create_app

    settings = ServeSettings(body_timeout=1.0)
    with live_server(create_app(served, settings)) as url:
        parts = urlsplit(url)
        stalled = socket.create_connection((parts.hostname, parts.port), timeout=10)
        stalled.sendall(b"POST /api/models/mnist-cnn/predict HTTP/1.1\r\nHost: localhost\r\n"
                        b"Content-Type: image/png\r\nContent-Length: 100000\r\n\r\n"
                        + png_bytes(mnist_digits[1])[:50])  # ... and then nothing more
        half_header = socket.create_connection((parts.hostname, parts.port), timeout=10)
        half_header.sendall(b"POST /api/models/mnist-cnn/predict HTTP/1.1\r\nHost: loc")
        # Meanwhile, others are served at full speed.
        with httpx.Client(base_url=url, timeout=10) as client:
            start = time.monotonic()
            for _ in range(5):
                answer = client.post(f"/api/models/{DIGITS}/predict",
                                     content=png_bytes(mnist_digits[7]), headers=PNG)
                assert answer.json()["predictions"][0]["label"] == 7
            assert time.monotonic() - start < 5
        # The stalled one is answered 408 after the timeout, and its connection closed.
        response = b""
        while chunk := stalled.recv(65536):
            response += chunk
        assert response.startswith(b"HTTP/1.1 408") and b"stopped arriving" in response
        stalled.close()
        half_header.close()


def test_many_concurrent_clients_all_get_answers(http, mnist_digits):
    pictures = {label: png_bytes(mnist_digits[label]) for label in range(10)}
    alone = {label: http.post(f"/api/models/{DIGITS}/predict", content=picture,
                              headers=PNG).json()["predictions"][0]["probabilities"]
             for label, picture in pictures.items()}
    results: dict[int, list[float]] = {}

    def client(label: int) -> None:
        answer = http.post(f"/api/models/{DIGITS}/predict", content=pictures[label % 10],
                           headers=PNG)
        results[label] = answer.json()["predictions"][0]["probabilities"]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(results) == 40
    for index, probabilities in results.items():  # whatever batch it was in, as alone
        np.testing.assert_allclose(probabilities, alone[index % 10], atol=1e-5)
    batching = http.get("/healthz").json()["batching"][DIGITS]
    assert batching["pictures"] > batching["batches"]  # some requests shared a pass
