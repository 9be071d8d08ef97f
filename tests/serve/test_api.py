"""Every endpoint and every status code, through an in-process client."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.serve.conftest import png_bytes

pytestmark = pytest.mark.slow  # the session's runs are trained on real data first

DIGITS, FASHION, BONUS, HOUSES = "mnist-cnn", "fashion-mnist-softmax", "bonus", "houses"
EMPLOYEE = {"rating": 8, "years": 5, "projects": 12}


def predict_url(name: str, **query) -> str:
    text = "&".join(f"{key}={value}" for key, value in query.items())
    return f"/api/models/{name}/predict" + (f"?{text}" if text else "")


def assert_error(response, status: int, *words: str) -> str:
    """``response`` is ``status`` with a one-line ``{"error": ...}`` naming ``words``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"]
    message = body["error"]
    assert "\n" not in message and "Traceback" not in message
    for word in words:
        assert word.lower() in message.lower(), message
    return message


# ------------------------------------------------------------------------ pages and docs

def test_the_page_and_its_files(client):
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script src="/static/app.js"' in page.text and "http" not in page.text.split(
        "<body>")[0].replace('href="/', "")  # nothing from another site
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "innerHTML" not in script.text  # server data goes in as text only
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")


def test_no_file_is_served_by_path(client):
    for path in ("/static/index.html", "/static/../app.py", "/static/%2e%2e/app.py",
                 "/static/app.py", "/docs/../../etc/passwd", "/etc/passwd"):
        assert_error(client.get(path), 404, "no such page")


def test_api_documentation_works_offline(client):
    docs = client.get("/docs")
    assert docs.status_code == 200 and "/docs/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    assert client.get("/docs/swagger-ui-bundle.js").status_code == 200
    assert client.get("/docs/swagger-ui.css").status_code == 200
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/models/{name}/predict"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "image/png", "application/json"} <= set(body)
    assert {"/healthz", "/api/models"} <= set(spec["paths"])


# ------------------------------------------------------------------------ models and health

def test_healthz(client):
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["models"] == [DIGITS, FASHION, BONUS, HOUSES]
    assert set(body["batching"]) == {DIGITS, FASHION}


def test_models_describe_each_run_with_its_card(client, runs):
    models = {m["name"]: m for m in client.get("/api/models").json()["models"]}
    digits, fashion, bonus = models[DIGITS], models[FASHION], models[BONUS]
    assert (digits["kind"], digits["dataset"], digits["digits"], digits["deskew"]) == (
        "image", "mnist", True, True)
    assert digits["classes"] == [str(k) for k in range(10)]
    assert (fashion["dataset"], fashion["digits"], fashion["classes"][1]) == (
        "fashion-mnist", False, "Trouser")
    summary = json.loads((runs[0] / "summary.json").read_text())
    assert digits["card"]["parameters"] == summary["parameters"] == 63_562
    assert digits["card"]["trained"].startswith("20")
    assert bonus["kind"] == "tabular" and bonus["target"] == "bonus"
    assert [i["key"] for i in bonus["inputs"]] == ["rating", "years", "projects"]
    assert bonus["inputs"][0]["allowed"] == "a whole number from 1 to 10"
    assert bonus["card"]["formula"].startswith("bonus ≈ ")
    assert bonus["card"]["test_rmse"] > 0
    # No file-system path goes out: own data is shown by its file name only.
    assert models[HOUSES]["dataset"] == models[HOUSES]["card"]["dataset"] == "houses.csv"
    assert not any(str(run.parent) in json.dumps(models) for run in runs)


# ------------------------------------------------------------------------ image predictions

def test_predictions_are_what_predict_json_prints(client, runs, mnist_digits, tmp_path,
                                                  capsys):
    from torchbasics.cli import main

    files = []
    for label in (3, 7):
        files.append(tmp_path / f"digit-{label}.png")
        files[-1].write_bytes(png_bytes(mnist_digits[label]))
    assert main(["predict", str(runs[0]), *map(str, files), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)
    response = client.post(predict_url(DIGITS), files=[
        ("image", (f.name, f.read_bytes(), "image/png")) for f in files])
    assert response.status_code == 200
    body = response.json()
    assert body["model"] == DIGITS
    for got, want, file in zip(body["predictions"], expected, files, strict=True):
        assert got["source"] == file.name and set(got) == set(want)
        for key in ("label", "class", "probability", "probabilities"):
            assert got[key] == pytest.approx(want[key])
        assert [(t["label"], t["class"]) for t in got["top"]] == [
            (t["label"], t["class"]) for t in want["top"]]
    assert [p["label"] for p in body["predictions"]] == [3, 7]


def test_a_raw_body_is_one_picture(client, mnist_digits):
    response = client.post(predict_url(DIGITS, top=1), content=png_bytes(mnist_digits[4]),
                           headers={"content-type": "image/png"})
    (prediction,) = response.json()["predictions"]
    assert prediction["label"] == 4 and prediction["source"] == ""
    assert len(prediction["top"]) == 1 and len(prediction["probabilities"]) == 10


def test_seen_gives_the_pictures_the_model_saw(client, served, mnist_digits):
    from torchbasics.inference.show import straightened

    picture = mnist_digits[2]
    body = client.post(predict_url(DIGITS, seen="true"), files={"image": ("2.png",
                       png_bytes(picture), "image/png")}).json()
    (prediction,) = body["predictions"]
    expected = served[DIGITS].model.predict(picture)
    assert np.array_equal(np.array(prediction["seen"], dtype=np.uint8), expected.seen)
    assert np.array_equal(np.array(prediction["deskewed"], dtype=np.uint8),
                          straightened(expected.seen))
    fashion = client.post(predict_url(FASHION, seen="true"), content=png_bytes(picture),
                          headers={"content-type": "image/png"}).json()["predictions"][0]
    assert "seen" in fashion and "deskewed" not in fashion  # this model does not deskew


def test_top_is_clipped_to_the_class_count(client, mnist_digits):
    body = client.post(predict_url(FASHION, top=50), content=png_bytes(mnist_digits[1]),
                       headers={"content-type": "image/jpeg"}).json()
    assert len(body["predictions"][0]["top"]) == 10


# ------------------------------------------------------------------------ the bonus model

def test_bonus_is_what_the_regressor_predicts(client, served):
    response = client.post(predict_url(BONUS), json=EMPLOYEE)
    assert response.status_code == 200
    body = response.json()
    assert (body["model"], body["target"]) == (BONUS, "bonus")
    (row,) = body["predictions"]
    assert row["inputs"] == {"performance_rating": 8, "years_experience": 5,
                             "projects_completed": 12}
    assert row["value"] == pytest.approx(served[BONUS].model.predict_one(EMPLOYEE))


def test_a_missing_value_is_filled_in_and_said(client, served):
    (row,) = client.post(predict_url(BONUS), json={"rating": 8, "years": None}).json()[
        "predictions"]
    assert row["filled_in"] == "2 values missing (years_experience 1, projects_completed 1)"
    assert row["value"] == pytest.approx(served[BONUS].model.predict_one({"rating": 8}))


def test_a_table_classifier_answers_a_class_with_its_probabilities(client, served):
    model = next(m for m in client.get("/api/models").json()["models"] if m["name"] == HOUSES)
    assert model["task"] == "classification" and model["classes"] == ["no", "yes"]
    region = next(field for field in model["inputs"] if field["name"] == "region")
    assert region["kind"] == "categorical" and region["levels"] == ["east", "north", "south",
                                                                    "west"]
    house = {"area": 180, "region": "west", "rooms": 6}
    (row,) = client.post(predict_url(HOUSES), json=house).json()["predictions"]
    expected = served[HOUSES].model.predict_one(house)
    assert row["class"] == expected.class_name == "yes"
    assert row["probability"] == pytest.approx(expected.probability)
    assert sum(row["probabilities"].values()) == pytest.approx(1.0)
    (unseen,) = client.post(predict_url(HOUSES), json=house | {"region": "mars"}).json()[
        "predictions"]
    assert unseen["filled_in"] == "1 value never seen in training (region 1)"


def test_bonus_takes_a_list_and_column_names(client):
    rows = [EMPLOYEE, {"performance_rating": 2, "years_experience": 0.5,
                       "projects_completed": 0}]
    values = [p["value"] for p in client.post(predict_url(BONUS), json=rows).json()[
        "predictions"]]
    assert values[0] > values[1] > 0


# ------------------------------------------------------------------------ every error code

def test_400_malformed(client, mnist_digits):
    assert_error(client.post(predict_url(DIGITS), content=b"",
                             headers={"content-type": "image/png"}), 400, "empty")
    assert_error(client.post(predict_url(DIGITS), data={"note": "hello"},
                             files={"unused": ("", b"")}), 400)
    assert_error(client.post(predict_url(DIGITS), content=b"--x\r\nbroken",
                             headers={"content-type": "multipart/form-data; boundary=x"}), 400)
    assert_error(client.post(predict_url(BONUS), content=b'{"rating": 8,',
                             headers={"content-type": "application/json"}), 400, "not JSON")
    damaged = bytearray(png_bytes(mnist_digits[0]))
    damaged[60:80] = bytes(20)
    assert_error(client.post(predict_url(DIGITS), content=bytes(damaged),
                             headers={"content-type": "image/png"}), 400, "damaged")


def test_404_unknown_model_and_page(client):
    message = assert_error(client.post(predict_url("mnist-cn"), json=EMPLOYEE), 404,
                           "no model named 'mnist-cn'")
    assert "Did you mean 'mnist-cnn'?" in message
    assert_error(client.get("/api/nothing"), 404, "no such page")


def test_405_wrong_method(client):
    assert_error(client.get(predict_url(DIGITS)), 405, "GET is not allowed")
    assert_error(client.delete("/api/models"), 405)


def test_408_a_body_that_pauses_too_long(served, mnist_digits):
    """Each wait for the next part of a body is timed (serve/limits.py, BodyLimit): a body
    that keeps coming in short pauses is served, one that pauses longer than the timeout
    gets 408. Pauses need a real socket: an in-process client's body cannot wait."""
    from tests.serve.conftest import live_server
    from torchbasics.serve.app import ServeSettings, create_app

    picture = png_bytes(mnist_digits[3])
    pieces = [picture[:40], picture[40:80], picture[80:]]
    with live_server(create_app(served, ServeSettings(body_timeout=1.0))) as url:
        status, _, body = send_slowly(url, predict_url(DIGITS), pieces, pause=0.2)
        assert status == 200 and json.loads(body)["predictions"][0]["label"] == 3
        status, headers, body = send_slowly(url, predict_url(DIGITS), pieces, pause=3.0)
    assert status == 408
    assert headers["content-type"] == "application/json" and headers["connection"] == "close"
    (message,) = json.loads(body).values()
    assert "stopped arriving for 1 s" in message and "\n" not in message


def send_slowly(url: str, path: str, pieces: list[bytes],
                pause: float) -> tuple[int, dict[str, str], bytes]:
    """POST the PNG ``pieces`` to ``path`` on a raw socket, ``pause`` seconds between them
    (the rest is not sent once the server has answered); its status, headers and body."""
    import select
    import socket
    import time
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    head = (f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: image/png\r\n"
            f"Content-Length: {sum(map(len, pieces))}\r\nConnection: close\r\n\r\n")
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head.encode() + pieces[0])
        for piece in pieces[1:]:
            time.sleep(pause)
            if select.select([sock], [], [], 0)[0]:  # answered already: stop sending
                break
            sock.sendall(piece)
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    head_bytes, _, body = response.partition(b"\r\n\r\n")
    status_line, *lines = head_bytes.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return int(status_line.split()[1]), headers, body


def test_413_too_large(served, mnist_digits):
    from fastapi.testclient import TestClient

    from torchbasics.serve.app import ServeSettings, create_app

    app = create_app(served, ServeSettings(max_upload=1000))
    with TestClient(app, base_url="http://localhost") as small:
        assert_error(small.post(predict_url(DIGITS), content=bytes(1001),
                                headers={"content-type": "image/png"}), 413, "1,000 bytes")
        ok = small.post(predict_url(DIGITS), content=png_bytes(mnist_digits[5]),
                        headers={"content-type": "image/png"})
        assert ok.status_code == 200  # a 28x28 PNG is well under 1,000 bytes


def test_413_reaches_a_client_that_reads_only_after_sending(served):
    """urllib sends the whole body before it reads: the server must read (and drop) the
    rest before it answers and closes, or the client sees a reset, not the message."""
    import urllib.error
    import urllib.request

    from tests.serve.conftest import live_server
    from torchbasics.serve.app import ServeSettings, create_app

    with live_server(create_app(served, ServeSettings(max_upload=1000))) as url:
        for chunked in (False, True):  # declared too large, or found too large while read
            body = bytes(2 << 20)
            data = iter([body[i:i + 65536] for i in range(0, len(body), 65536)]) if chunked \
                else body
            request = urllib.request.Request(
                f"{url}{predict_url(DIGITS)}", data=data, method="POST",
                headers={"Content-Type": "image/png"}
                | ({"Transfer-Encoding": "chunked"} if chunked else {}))
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            assert refused.value.code == 413
            assert "larger than 1,000 bytes" in json.loads(refused.value.read())["error"]


# ------------------------------------------------------------------------ the Inside view

@pytest.mark.parametrize("name, family, kind", [(DIGITS, "cnn", "maps"),
                                                (FASHION, "linear", "maps")])
def test_inside_adds_the_attribution_and_each_layer_to_a_prediction(client, mnist_digits,
                                                                    name, family, kind):
    answer = client.post(predict_url(name, inside="true"), content=png_bytes(mnist_digits[3]),
                         headers={"content-type": "image/png"})
    assert answer.status_code == 200, answer.text
    prediction = answer.json()["predictions"][0]
    view = prediction["inside"]
    assert view["family"] == family
    attribution = view["attribution"]
    assert attribution["class"] == prediction["class"]
    assert np.array(attribution["map"]).shape == (28, 28)
    assert attribution["completeness"] < 0.05  # the live view's fewer steps
    layers = view["layers"]
    assert layers and all(layer["kind"] == kind for layer in layers)
    if family == "cnn":
        assert len(layers) == 1  # the seed's CNN has one convolution: its 8 busiest maps
        assert np.array(layers[0]["items"][0]["map"]).shape == (28, 28)
        assert len(layers[0]["items"]) == 8
    else:  # one contribution map per class, summing to its score less its bias
        assert [item["label"] for item in layers[0]["items"]] == [
            "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
            "Sneaker", "Bag", "Ankle boot"]
    without = client.post(predict_url(name), content=png_bytes(mnist_digits[3]),
                          headers={"content-type": "image/png"}).json()["predictions"][0]
    assert "inside" not in without and without["probabilities"] == prediction["probabilities"]


def test_inside_takes_one_picture(client, mnist_digits):
    files = [("image", ("a.png", png_bytes(mnist_digits[1]), "image/png")),
             ("image", ("b.png", png_bytes(mnist_digits[2]), "image/png"))]
    assert_error(client.post(predict_url(DIGITS, inside="true"), files=files), 400,
                 "one picture")


def test_weights_of_a_filter_a_class_and_what_does_not_exist(client, served):
    first = served[DIGITS].model.model
    answer = client.get(f"/api/models/{DIGITS}/weights?layer=0&index=2")
    assert answer.status_code == 200, answer.text
    from torchbasics.explain.inside import convolutions

    kernel = convolutions(first)[0].weight[2].detach().mean(dim=0).numpy()
    np.testing.assert_allclose(answer.json()["weights"], kernel, rtol=1e-3, atol=1e-4)
    template = client.get(f"/api/models/{FASHION}/weights?index=9").json()
    assert np.array(template["weights"]).shape == (28, 28)
    assert_error(client.get(f"/api/models/{DIGITS}/weights?layer=7&index=0"), 404,
                 "convolutions")
    assert_error(client.get(f"/api/models/{DIGITS}/weights?layer=0&index=999"), 404, "filters")
    assert_error(client.get(f"/api/models/{BONUS}/weights?index=0"), 400, "formula")
    assert_error(client.get(f"/api/models/{DIGITS}/weights"), 422)


def test_415_not_a_picture(client):
    assert_error(client.post(predict_url(DIGITS), content=b"hello",
                             headers={"content-type": "text/plain"}), 415, "text/plain")
    assert_error(client.post(predict_url(DIGITS), json={"rating": 1}), 415, "JSON")
    assert_error(client.post(predict_url(DIGITS), content=b"GIF89a not really",
                             headers={"content-type": "image/gif"}), 415, "supported format")
    assert_error(client.post(predict_url(BONUS), content=b"\x89PNG",
                             headers={"content-type": "image/png"}), 415, "takes JSON")


def test_422_unusable_content(client):
    blank = png_bytes(np.full((50, 50), 255, np.uint8))
    assert_error(client.post(predict_url(DIGITS), content=blank,
                             headers={"content-type": "image/png"}), 422, "blank")
    assert_error(client.post(predict_url(BONUS), json=EMPLOYEE | {"rating": 11}), 422,
                 "performance_rating: 11 is out of range")  # the CLI's own message
    assert_error(client.post(predict_url(BONUS), json=EMPLOYEE | {"years": "five"}), 422,
                 "years_experience: 'five' is not a number")
    assert_error(client.post(predict_url(BONUS), json=EMPLOYEE | {"years": [5]}), 422,
                 "years: [5] is not a value")
    assert_error(client.post(predict_url(BONUS), json=EMPLOYEE | {"age": 30}), 422,
                 "unknown field 'age'")
    assert_error(client.post(predict_url(DIGITS, top=0), content=blank,
                             headers={"content-type": "image/png"}), 422, "top")


def test_421_other_host_names(served):
    from fastapi.testclient import TestClient

    from torchbasics.serve.app import create_app

    with TestClient(create_app(served), base_url="http://evil.example") as rebound:
        assert_error(rebound.get("/api/models"), 421, "localhost")
    for host in ("http://127.0.0.1:8000", "http://[::1]:8000", "http://localhost"):
        with TestClient(create_app(served), base_url=host) as local:
            assert local.get("/healthz").status_code == 200


def test_500_a_bug_is_one_line_and_the_server_goes_on(client, served, monkeypatch,
                                                       mnist_digits):
    regressor = served[BONUS].model
    monkeypatch.setattr(regressor, "predict_row", lambda row, where: 1 / 0)
    assert_error(client.post(predict_url(BONUS), json=EMPLOYEE), 500,
                 "internal error (ZeroDivisionError)")
    monkeypatch.undo()
    assert client.post(predict_url(BONUS), json=EMPLOYEE).status_code == 200
