"""The explorer by keyboard and touch, and code blocks site-wide, in a real browser (issue 18)."""

import json
from io import BytesIO

import pytest
from PIL import Image

CONTROLS = "#ss-explorer :is(input, select, button, label)"
PHONE = {"viewport": {"width": 390, "height": 800}, "has_touch": True, "is_mobile": True}


def open_explorer(page, site_url):
    page.goto(site_url + "explorer/")
    page.wait_for_selector("#ss-explorer[data-ready=true]")


def setting(page):
    return json.loads(page.get_attribute("#ss-explorer", "data-samplers"))


@pytest.fixture
def phone(browser, site_url):
    context = browser.new_context(**PHONE)
    page = context.new_page()
    open_explorer(page, site_url)
    yield page
    context.close()


def test_every_control_shows_a_focus_ring_by_keyboard(page, site_url):
    open_explorer(page, site_url)
    page.focus("#ss-ex-prompt")
    seen = {}
    for _ in range(20):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement, s = getComputedStyle(e);
                 let opacity = 1;  // a greyed-out ancestor would grey the ring too
                 for (let n = e; n; n = n.parentElement) opacity *= parseFloat(getComputedStyle(n).opacity);
                 return [e.id, e.matches(':focus-visible') && opacity === 1, s.outlineStyle,
                         parseFloat(s.outlineWidth)]; }"""
        )
        if focused[0] == "ss-ex-draw":
            break
        seen[focused[0]] = focused[1:]
    for name in ("temperature", "k", "k-on", "p", "p-on", "min-p", "min-p-on", "last"):
        assert f"ss-ex-{name}" in seen, name
    for key, (visible, style, width) in seen.items():
        assert visible and style != "none" and width >= 2, (key, style, width)


def test_on_a_phone_every_target_is_44_px_and_each_slider_has_its_own_row(phone):
    boxes = phone.locator(
        "#ss-explorer :is(.ss-ex-switch, .ss-ex-order label, .ss-ex-typed, input[type=range], select, button)"
    ).evaluate_all("nodes => nodes.map(n => [n.id || n.className, n.getBoundingClientRect().toJSON()])")
    assert len(boxes) >= 12
    for name, box in boxes:
        assert box["height"] >= 44 and box["width"] >= 44, (name, box)
    panel = phone.locator("#ss-explorer").bounding_box()
    for name in ("temperature", "k", "p", "min-p"):
        slider = phone.locator(f"#ss-ex-{name}").bounding_box()
        typed = phone.locator(f"#ss-ex-{name}-typed").bounding_box()
        assert slider["width"] > 0.8 * panel["width"], name
        assert slider["y"] >= typed["y"] + typed["height"], name  # below its label and value


def test_tapping_a_samplers_label_switches_it(phone):
    assert setting(phone)["top_k"] is None
    phone.tap(".ss-ex-switch:has(#ss-ex-k-on)", position={"x": 40, "y": 10})
    assert phone.is_checked("#ss-ex-k-on")
    assert setting(phone)["top_k"] == int(phone.input_value("#ss-ex-k"))
    assert phone.evaluate("document.activeElement.id") != "ss-ex-k"
    phone.tap(".ss-ex-order label", position={"x": 80, "y": 10})
    assert phone.is_checked("#ss-ex-last")


def test_moving_a_switched_off_samplers_slider_switches_it_on(page, site_url):
    open_explorer(page, site_url)
    for name, key in (("p", "top_p"), ("min-p", "min_p")):
        assert not page.is_checked(f"#ss-ex-{name}-on") and setting(page)[key] is None
        page.focus(f"#ss-ex-{name}")
        page.keyboard.press("ArrowLeft")
        assert page.is_checked(f"#ss-ex-{name}-on")
        assert setting(page)[key] == float(page.input_value(f"#ss-ex-{name}"))
    # and a drag with the mouse
    box = page.locator("#ss-ex-k").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)
    assert page.is_checked("#ss-ex-k-on")
    assert setting(page)["top_k"] == int(page.input_value("#ss-ex-k"))


def type_value(page, name, text):
    page.fill(f"#ss-ex-{name}-typed", text)
    page.press(f"#ss-ex-{name}-typed", "Enter")
    return page.text_content(f"#ss-ex-{name}-error")


def test_a_typed_value_is_checked_like_the_slider(page, site_url):
    open_explorer(page, site_url)
    assert type_value(page, "p", "0.5") == ""
    assert page.is_checked("#ss-ex-p-on") and setting(page)["top_p"] == 0.5
    assert page.input_value("#ss-ex-p") == "0.5"
    # beyond the range: clamped as the slider clamps, and said so
    message = type_value(page, "p", "7")
    top = page.get_attribute("#ss-ex-p", "max")
    assert setting(page)["top_p"] == float(top) == float(page.input_value("#ss-ex-p-typed"))
    assert f"7 became {top}" in message and "top-p runs from" in message
    # between two steps: rounded to the slider's step
    message = type_value(page, "k", "2.4")
    assert setting(page)["top_k"] == int(page.input_value("#ss-ex-k")) != 2.4
    assert f"became {page.input_value('#ss-ex-k')}" in message
    # not a number: nothing changes, and the message names what is wanted
    before = setting(page)
    message = type_value(page, "temperature", "warm")
    assert setting(page) == before
    assert "takes a number from 0.05 to 3" in message and "warm" in message
    assert page.input_value("#ss-ex-temperature-typed") == page.input_value("#ss-ex-temperature")
    # a good value clears the message
    assert type_value(page, "temperature", "1,5") == "" and setting(page)["temperature"] == 1.5


def touch_path(page, points):
    cdp = page.context.new_cdp_session(page)
    first, *rest = points
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [first]})
    for point in rest:
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
        page.wait_for_timeout(20)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    page.wait_for_timeout(300)


def test_a_vertical_swipe_on_a_slider_scrolls_and_leaves_it_alone(phone):
    phone.locator("#ss-ex-p").scroll_into_view_if_needed()
    phone.evaluate("window.scrollBy(0, -200)")
    box = phone.locator("#ss-ex-p").bounding_box()
    x, y = box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2
    before, scrolled = setting(phone), phone.evaluate("window.scrollY")
    touch_path(phone, [{"x": x, "y": y - 12 * i} for i in range(16)])
    assert setting(phone) == before
    assert not phone.is_checked("#ss-ex-p-on")
    assert phone.evaluate("window.scrollY") > scrolled
    # a sideways drag still moves it (and switches top-p on)
    box = phone.locator("#ss-ex-p").bounding_box()
    y = box["y"] + box["height"] / 2
    touch_path(phone, [{"x": box["x"] + box["width"] * (0.9 - 0.05 * i), "y": y} for i in range(12)])
    assert phone.is_checked("#ss-ex-p-on") and setting(phone)["top_p"] < 0.9


def site_pages(built_site):
    pages = (p.parent for p in built_site.rglob("index.html"))
    return sorted(str(p.relative_to(built_site)) for p in pages if p != built_site) + ["."]


CODE_BLOCKS = """() => [...document.querySelectorAll('pre > code')].filter(c => c.offsetParent).map(c => {
  const s = getComputedStyle(c), r = c.getBoundingClientRect();
  const button = c.parentElement.querySelector('.md-code__button, .md-clipboard');
  return {text: c.textContent.slice(0, 60), scroll: c.scrollWidth, client: c.clientWidth,
          textRight: r.left + c.clientLeft + c.clientWidth - parseFloat(s.paddingRight),
          button: button ? button.getBoundingClientRect().left : null,
          attachment: s.backgroundAttachment, image: s.backgroundImage};
})"""


@pytest.mark.parametrize("width", [1024, 1440])
def test_no_code_block_scrolls_sideways_or_lies_under_its_copy_button(page, site_url, built_site, width):
    page.set_viewport_size({"width": width, "height": 900})
    checked = 0
    for rel in site_pages(built_site):
        page.goto(site_url + ("" if rel == "." else rel + "/"))
        for block in page.evaluate(CODE_BLOCKS):
            checked += 1
            assert block["scroll"] <= block["client"], (rel, block["text"], block["scroll"], block["client"])
            assert block["button"] is not None, (rel, block["text"])  # every block can be copied
            assert block["textRight"] <= block["button"], (rel, block["text"])
    assert checked > 50


def test_on_a_phone_a_block_that_scrolls_shows_a_shadow_where_more_code_is(page, site_url):
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(site_url + "how-it-works/")
    code = page.locator("pre > code").filter(has_text="def ").first
    size = code.evaluate("c => [c.scrollWidth, c.clientWidth, c.clientHeight]")
    assert size[0] > size[1]  # it does scroll sideways here
    code.scroll_into_view_if_needed()

    def edges():  # the colours at the bottom padding's two ends, where no code is drawn
        shot = code.screenshot(animations="disabled")
        image = Image.open(BytesIO(shot)).convert("RGB")
        y = size[2] - 3
        return image.getpixel((2, y)), image.getpixel((size[1] - 3, y)), image.getpixel((size[1] // 2, y))

    left, right, middle = edges()
    assert left == middle != right  # more code to the right: a shadow there only
    code.evaluate("c => { c.scrollLeft = c.scrollWidth; }")
    left, right, middle = edges()
    assert right == middle != left
