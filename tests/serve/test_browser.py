"""The page in a real headless Chromium (Debian's, driven by Playwright): draw a 1 and a 7
with the mouse, upload a Fashion-MNIST test picture, fill the bonus form, use the keyboard,
fit a phone's screen, choose another model while an answer is on its way; and the
screenshots of the README and docs/guides/11-serve.md.

Outside CI this skips, saying why, when Chromium or Playwright is missing; in CI (``CI`` or
``TORCHBASICS_REQUIRE_BROWSER=1``, which ``.ci/run`` sets) it fails instead.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator

import numpy as np
import pytest

from tests.helpers import CHROMIUM, CHROMIUM_ARGS, real_data_dir, require_browser
from tests.serve.conftest import live_server, png_bytes

pytestmark = pytest.mark.slow

SCREENSHOT_ENV = "TORCHBASICS_SERVE_SCREENSHOT"  # also save the screenshot here (README's)
INSIDE_SCREENSHOT_ENV = "TORCHBASICS_INSIDE_SCREENSHOT"  # the Inside view's (the serve guide)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """A fresh Chromium profile; the pages it opens report console errors to ``errors``."""
    require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM,
            args=CHROMIUM_ARGS, headless=True, viewport={"width": 1100, "height": 760})
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@contextlib.contextmanager
def opened(browser, url: str) -> Iterator:
    """The page at ``url``, loaded, with every console error and page error collected."""
    page = browser.new_page()
    page.errors = []
    page.on("console", lambda m: m.type == "error" and page.errors.append(m.text))
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.goto(url)
    page.locator(".card").first.wait_for()
    yield page
    assert page.errors == []  # no script error, no Content-Security-Policy violation
    page.close()


@pytest.fixture
def page(browser, server_url):
    """The page of the four runs, loaded."""
    with opened(browser, server_url) as page:
        yield page


@pytest.fixture(scope="module")
def twins_url(digits_run) -> Iterator[str]:
    """A server with the digits run served twice, as ``mnist-cnn`` and ``mnist-cnn-2``: two
    models that both read drawings, so that one can be chosen while the other answers."""
    from torchbasics.serve.app import create_app
    from torchbasics.serve.served import load_served

    with live_server(create_app(load_served([digits_run, digits_run]))) as url:
        yield url


@pytest.fixture
def twins_page(browser, twins_url):
    """The page of the twin digit models, loaded."""
    with opened(browser, twins_url) as page:
        yield page


def choose(page, name: str) -> None:
    """Pick a model by clicking its card."""
    page.locator(".card", has=page.locator(f'input[value="{name}"]')).click()
    assert page.locator(f'input[value="{name}"]').is_checked()


def draw(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw strokes on the pad with the mouse, as a person would; points are fractions of
    the pad's size. Waits until the page shows the prediction for the finished drawing."""
    move_pen(page, strokes)
    wait_for_prediction(page)


def move_pen(page, strokes: list[list[tuple[float, float]]]) -> None:
    """Draw strokes on the pad with the mouse, and wait for nothing."""
    box = page.locator("#pad").bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"],
                            steps=12)
        page.mouse.up()


def wait_for_prediction(page) -> None:
    """Until the results are those of the drawing as it is now."""
    from playwright.sync_api import expect

    version = page.locator("#pad").get_attribute("data-version")
    expect(page.locator("#results")).to_have_attribute("data-version", version)


def top_classes(page) -> list[str]:
    return page.locator("#top li .name").all_inner_texts()


def test_drawing_a_one_and_a_seven(page):
    choose(page, "mnist-cnn")
    draw(page, [[(0.52, 0.18), (0.48, 0.82)]])
    assert top_classes(page)[0] == "1", top_classes(page)
    page.locator("#clear").click()
    wait_for_prediction(page)
    assert top_classes(page) == []
    draw(page, [[(0.28, 0.22), (0.72, 0.22), (0.42, 0.84)]])
    assert top_classes(page)[0] == "7", top_classes(page)
    assert len(top_classes(page)) == 3
    assert page.locator("#seen-figure").is_visible()
    assert "deskewed" in page.locator("#seen-caption").inner_text()
    bars = page.locator("#top .fill").evaluate_all("(bars) => bars.map(b => b.clientWidth)")
    assert bars[0] > bars[1] >= bars[2]  # the bars show the probabilities
    if os.environ.get(SCREENSHOT_ENV):
        page.screenshot(path=os.environ[SCREENSHOT_ENV], full_page=True)


def canvas_pixels(page, selector: str) -> list[int]:
    """The RGBA bytes a canvas shows."""
    return page.locator(selector).evaluate(
        "(c) => Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)")


def test_the_inside_view_follows_the_drawing_and_shows_a_filters_weights(page, tmp_path):
    from playwright.sync_api import expect

    choose(page, "mnist-cnn")
    draw(page, [[(0.52, 0.18), (0.48, 0.82)]])  # a 1
    inside = page.locator("#inside")
    expect(inside).to_have_attribute("data-version", page.locator("#pad").get_attribute(
        "data-version"))
    assert "“1”" in page.locator("#attribution-caption").inner_text()
    first = canvas_pixels(page, "#attribution")
    assert len(set(first)) > 4  # a map, not a blank canvas
    maps = page.locator("#layers .layer")
    assert maps.count() == 1 and page.locator("#layers .item canvas").count() == 8  # 1 conv
    first_maps = canvas_pixels(page, "#layers .item canvas >> nth=0")
    draw(page, [[(0.28, 0.22), (0.72, 0.22), (0.42, 0.84)]])  # now a 7: the view changes
    expect(inside).to_have_attribute("data-version", page.locator("#pad").get_attribute(
        "data-version"))
    assert "“7”" in page.locator("#attribution-caption").inner_text()
    assert canvas_pixels(page, "#attribution") != first
    assert canvas_pixels(page, "#layers .item canvas >> nth=0") != first_maps
    page.locator("#layers .item").first.click()
    expect(page.locator("#weights-figure")).to_be_visible()
    assert page.locator("#weights").evaluate("(c) => [c.width, c.height]") == [5, 5]  # 5x5
    assert "convolution 1" in page.locator("#weights-caption").inner_text()
    page.locator("#weights").scroll_into_view_if_needed()
    shot = os.environ.get(INSIDE_SCREENSHOT_ENV) or str(tmp_path / "inside.png")
    page.screenshot(path=shot, full_page=True)
    page.locator("#inside-on").uncheck()  # off: the predictions go on, without the view
    draw(page, [[(0.52, 0.18), (0.48, 0.82)]])
    assert page.locator("#inside-body").is_hidden() and top_classes(page)


def test_keyboard_undo_and_clear(page):
    choose(page, "mnist-cnn")
    draw(page, [[(0.5, 0.2), (0.5, 0.8)]])
    draw(page, [[(0.3, 0.5), (0.7, 0.5)]])  # a cross: now something else than a 1
    page.locator("#pad").focus()  # the pad takes the focus like a button (Tab reaches it)
    page.keyboard.press("Control+z")  # undo the second stroke
    wait_for_prediction(page)
    assert top_classes(page)[0] == "1"
    page.keyboard.press("Escape")
    wait_for_prediction(page)
    assert top_classes(page) == []
    # The model picker works with arrow keys, as radio buttons do.
    page.locator('input[value="mnist-cnn"]').focus()
    page.keyboard.press("ArrowRight")
    assert page.locator('input[value="fashion-mnist-softmax"]').is_checked()
    assert page.locator("#draw").is_hidden() and page.locator("#upload").is_visible()


def test_uploading_a_fashion_mnist_test_picture(page, tmp_path, served):
    from torchbasics.data.sources import load_split

    split = load_split("fashion-mnist", "test", real_data_dir("fashion-mnist"),
                       download=False, progress=False)
    index = int(np.flatnonzero(split.labels.numpy() == 1)[0])  # the first trouser
    picture = tmp_path / "trouser.png"
    picture.write_bytes(png_bytes(split.images[index, 0].numpy()))
    expected = served["fashion-mnist-softmax"].model.predict(picture).class_name
    choose(page, "fashion-mnist-softmax")
    page.locator("#file").set_input_files(str(picture))
    page.locator("#top li").first.wait_for()
    assert expected == "Trouser" and top_classes(page)[0] == "Trouser"
    assert page.locator("#preview").is_visible()
    assert "deskewed" not in page.locator("#seen-caption").inner_text()


def test_an_upload_error_is_the_one_line_message(page, tmp_path):
    blank = tmp_path / "blank.png"
    blank.write_bytes(png_bytes(np.full((40, 40), 255, np.uint8)))
    choose(page, "mnist-cnn")
    page.locator("#file").set_input_files(str(blank))
    page.locator("#error").wait_for()
    assert page.locator("#error").inner_text() == (
        "blank.png: the image is blank: nothing stands out of the background. Give a "
        "picture with a visible digit or object in it")
    page.errors.clear()  # the browser logs the 422 itself as a console error


def test_the_bonus_form(page, served):
    choose(page, "bonus")
    assert page.locator("#draw").is_hidden()
    page.locator("#input-rating").fill("8")
    page.locator("#input-years").fill("5")
    page.locator("#input-projects").fill("12")
    page.locator("#table-form button").click()
    value = served["bonus"].model.predict_one({"rating": 8, "years": 5, "projects": 12})
    from playwright.sync_api import expect

    expect(page.locator("#table-value")).to_have_text(f"{value:,.2f}")
    assert page.locator("#formula").inner_text().startswith("bonus ≈ ")
    page.locator("#input-rating").fill("11")
    page.locator("#table-form button").click()
    expect(page.locator("#error")).to_have_text(
        "performance_rating: 11 is out of range (performance_rating is a whole number from 1 "
        "to 10). Give a whole number from 1 to 10")
    page.errors.clear()
    page.locator("#input-rating").fill("8")
    page.locator("#input-projects").fill("")
    page.locator("#table-form button").click()
    expect(page.locator("#filled-in")).to_have_text(
        "Filled in: 1 value missing (projects_completed 1).")


def test_a_table_classifier_form_has_a_choice_per_category(page, served):
    choose(page, "houses")
    from playwright.sync_api import expect

    options = page.locator("#input-region option").all_inner_texts()
    assert options == ["(missing)", "east", "north", "south", "west"]
    page.locator("#input-area").fill("180")
    page.locator("#input-rooms").fill("6")
    page.locator("#input-region").select_option("west")
    page.locator("#table-form button").click()
    expected = served["houses"].model.predict_one({"area": 180, "rooms": 6, "region": "west"})
    expect(page.locator("#table-value")).to_have_text(
        f"{expected.class_name} ({100 * expected.probability:.2f} %)")
    assert page.locator("#formula-box").is_hidden()


def test_a_phone_sized_screen(browser, server_url):
    phone = browser.new_page()
    phone.set_viewport_size({"width": 375, "height": 740})
    try:
        phone.goto(server_url)
        phone.locator(".card").first.wait_for()
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= 375  # nothing wider than the screen: no sideways scrolling
        pad = phone.locator("#pad").bounding_box()
        assert 250 <= pad["width"] <= 345
    finally:
        phone.close()


DROP_OR_PASTE = """([how, name, base64]) => {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    const data = new DataTransfer();
    data.items.add(new File([bytes], name, {type: "image/png"}));
    if (how === "drop") {
        document.getElementById("drop").dispatchEvent(
            new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
    } else {
        document.dispatchEvent(
            new ClipboardEvent("paste", {clipboardData: data, bubbles: true, cancelable: true}));
    }
}"""


@pytest.mark.parametrize("how", ["drop", "paste"])
def test_a_picture_dropped_or_pasted(page, mnist_digits, how):
    import base64

    choose(page, "mnist-cnn")
    picture = base64.b64encode(png_bytes(mnist_digits[6])).decode()
    page.evaluate(DROP_OR_PASTE, [how, "six.png", picture])
    page.locator("#top li").first.wait_for()
    assert top_classes(page)[0] == "6"


# ---------------------------------------------------------------- late answers
# Choosing another model while an answer is on its way: the late answer belongs to the model
# chosen before, so the page drops it, and the model chosen now answers for itself. The tests
# hold the request with ``page.route``, choose another model, then let the request go on.

STALE = "STALE"  # the class a held prediction is given, so that it is seen if it is shown

# Everything an element shows, in order, from now on (read back with ``shown``).
RECORD = """(selector) => {
    const node = document.querySelector(selector);
    const text = () => (node.hidden ? "" : node.textContent.trim());
    const texts = (window.shown = window.shown || {})[selector] = [text()];
    new MutationObserver(() => texts.push(text())).observe(node, {
        childList: true, subtree: true, characterData: true, attributes: true});
}"""


def record(page, selector: str) -> None:
    page.evaluate(RECORD, selector)


def shown(page, selector: str) -> list[str]:
    """What ``selector`` has shown since ``record``: one text per change ("" when hidden)."""
    return page.evaluate("(selector) => window.shown[selector]", selector)


def hold(page, model: str, endpoint: str = "predict") -> list:
    """Hold the page's requests to ``/api/models/MODEL/ENDPOINT`` until the test lets them
    go on; returns the list of held requests (Playwright routes), which fills as they come."""
    held = []
    page.route(lambda url: f"/api/models/{model}/{endpoint}" in url,
               lambda route: held.append(route))
    return held


def wait_until_held(page, held: list) -> None:
    deadline = time.monotonic() + 20
    while not held:
        assert time.monotonic() < deadline, "the page sent no request to hold"
        page.wait_for_timeout(20)  # lets Playwright call the route's handler


def let_go(page, route, stale: bool = False) -> None:
    """Let a held request go on to the server, its answer's top class renamed STALE if
    ``stale``, and wait until the page has read the answer."""
    with page.expect_event("requestfinished", lambda r: r.url == route.request.url):
        if stale:
            response = route.fetch()
            answer = response.json()
            for prediction in answer["predictions"]:
                prediction["top"][0]["class"] = STALE
            route.fulfill(response=response, json=answer)
        else:
            route.continue_()
    # One more round trip: by its end the page's script has had the answer's body.
    page.evaluate("() => fetch('/api/models').then((r) => r.json()).then(() => null)")


def test_a_model_chosen_while_a_drawing_is_read_answers_it(twins_page):
    page = twins_page
    choose(page, "mnist-cnn")
    held = hold(page, "mnist-cnn")
    move_pen(page, [[(0.52, 0.18), (0.48, 0.82)]])  # a 1: mnist-cnn's answer is held
    wait_until_held(page, held)
    record(page, "#top")
    choose(page, "mnist-cnn-2")
    for route in held:
        let_go(page, route, stale=True)
    wait_for_prediction(page)  # mnist-cnn-2's own answer, for the drawing as it is
    assert top_classes(page)[0] == "1", top_classes(page)
    assert not any(STALE in text for text in shown(page, "#top")), shown(page, "#top")


def test_a_late_answer_to_an_upload_is_not_shown_under_the_next_model(page, tmp_path):
    blank = tmp_path / "blank.png"
    blank.write_bytes(png_bytes(np.full((40, 40), 255, np.uint8)))  # answered with an error
    choose(page, "mnist-cnn")
    held = hold(page, "mnist-cnn")
    page.locator("#file").set_input_files(str(blank))
    wait_until_held(page, held)
    record(page, "#error")
    record(page, "#top")
    choose(page, "fashion-mnist-softmax")
    let_go(page, held[0])
    page.errors.clear()  # the browser logs the 422 itself as a console error
    assert set(shown(page, "#error")) == {""} and set(shown(page, "#top")) == {""}


def test_a_late_answer_to_a_table_row_is_not_shown_under_the_next_model(page):
    choose(page, "bonus")
    page.locator("#input-rating").fill("8")
    held = hold(page, "bonus")
    page.locator("#table-form button").click()
    wait_until_held(page, held)
    choose(page, "houses")
    record(page, "#table-value")
    let_go(page, held[0])
    assert set(shown(page, "#table-value")) == {"–"}


def test_a_late_filters_weights_are_not_shown_under_the_next_model(twins_page):
    page = twins_page
    choose(page, "mnist-cnn")
    draw(page, [[(0.52, 0.18), (0.48, 0.82)]])
    held = hold(page, "mnist-cnn", "weights")
    page.locator("#layers .item").first.click()
    wait_until_held(page, held)
    choose(page, "mnist-cnn-2")
    wait_for_prediction(page)
    record(page, "#weights-figure")
    let_go(page, held[0])
    assert set(shown(page, "#weights-figure")) == {""}
