"""Every page of the built site, opened in a real browser (Debian's Chromium) as a reader would.

Screenshots of each page in each palette land in screenshots/ for a person to look at.
"""

import json
import re
from collections import Counter
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import ROOT

SCREENSHOTS = ROOT / "screenshots"  # not under test-results/, which pytest-playwright empties
SITE_PAGES = sorted(p.name for p in (ROOT / "docs").glob("*.md")) + sorted(
    p.name for p in (ROOT / "docs").glob("*.py")
)


def page_url(source: str) -> str:
    stem = source.rsplit(".", 1)[0]
    return "" if stem == "index" else f"{stem}/"


def test_every_source_page_is_in_the_build(built_site):
    for source in SITE_PAGES:
        assert (built_site / page_url(source) / "index.html").exists(), source


@pytest.fixture
def watched(page, site_url):
    """The page, with every console error, failed request and off-machine request recorded."""
    host = urlparse(site_url).netloc
    problems = []
    page.on(
        "console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"failed request: {r.url}"))
    page.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None)
    page.on(
        "request",
        lambda r: (
            None
            if urlparse(r.url).netloc in (host, "") or r.url.startswith(("data:", "blob:"))
            else problems.append(f"off-machine request: {r.url}")
        ),
    )
    return page, problems


WIDTHS = (1440, 1024, 390)  # a desktop, a small laptop or tablet, a phone


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("source", SITE_PAGES)
def test_page_works_offline_in_both_palettes(watched, site_url, source, width):
    page, problems = watched
    page.set_viewport_size({"width": width, "height": 900})
    page.emulate_media(color_scheme="light")
    page.goto(site_url + page_url(source), wait_until="networkidle")
    name = f"{source.rsplit('.', 1)[0]}-{width}"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    assert page.evaluate("document.body.dataset.mdColorScheme") == "default"
    page.screenshot(path=SCREENSHOTS / f"{name}-light.png", full_page=True)

    for image in page.locator("article img").all():
        image.scroll_into_view_if_needed()
        src, alt = image.get_attribute("src"), (image.get_attribute("alt") or "").strip()
        assert image.evaluate("img => img.complete && img.naturalWidth > 0"), f"{src} did not load"
        assert len(alt.split()) >= 4 and Path(src).stem not in alt, f"{src}: alt text {alt!r} says too little"

    for formula in page.locator("article math").all():
        assert formula.evaluate("m => m.namespaceURI.endsWith('MathML') && m.children.length > 0")
        if formula.is_visible():  # those in a closed tab or fold have no box to measure
            box = formula.bounding_box()
            assert box["width"] > 0 and box["height"] > 0, "a formula did not render"

    page.evaluate("window.scrollTo(0, 0)")  # the header folds away on scroll; shoot it unfolded
    page.locator("form[data-md-component=palette] label:visible").click()
    page.wait_for_function("document.body.dataset.mdColorScheme === 'slate'")
    page.wait_for_timeout(300)  # let the header settle before the screenshot
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert _luminance(background) < 0.3, f"dark palette has a light background: {background}"
    page.screenshot(path=SCREENSHOTS / f"{name}-dark.png", full_page=True)
    page.locator("form[data-md-component=palette] label:visible").click()
    page.wait_for_function("document.body.dataset.mdColorScheme === 'default'")

    assert problems == []


def _luminance(css_colour: str) -> float:
    red, green, blue = (int(v) / 255 for v in re.findall(r"\d+", css_colour)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def _distinctive_words(built_site: Path) -> dict[str, str]:
    """For each page, a long word of its prose whose stem appears on as few other pages as possible
    (search stems words: "answering" also finds "answer", so spread is counted by stem)."""
    docs = json.loads((built_site / "search" / "search_index.json").read_text())["docs"]
    words: dict[str, set[str]] = {}
    for doc in docs:
        location = doc["location"].split("#")[0]
        prose = re.sub(r"<(pre|code)\b.*?</\1>", " ", doc["text"], flags=re.DOTALL)  # words, not code
        words.setdefault(location, set()).update(re.findall(r"\b[a-z]{4,}\b", prose.lower()))
    spread = Counter(stem for page_words in words.values() for stem in {w[:6] for w in page_words})
    return {
        location: min(sorted(w for w in page_words if 8 <= len(w) <= 14), key=lambda w: spread[w[:6]])
        for location, page_words in words.items()
        if any(8 <= len(w) <= 14 for w in page_words)
    }


def test_search_finds_every_page_by_a_word_in_its_body(watched, site_url, built_site):
    page, problems = watched
    page.goto(site_url, wait_until="networkidle")
    for location, word in sorted(_distinctive_words(built_site).items()):
        box = page.locator("input.md-search__input")
        box.click()
        box.fill("")
        box.press_sequentially(word)  # material listens to key presses, not to a filled value
        results = page.locator(".md-search-result__link")
        results.first.wait_for()
        page.wait_for_timeout(300)  # results arrive from a web worker; let the list settle
        hrefs = [
            urlparse(h).path.lstrip("/") for h in results.evaluate_all("links => links.map(a => a.href)")
        ]
        assert location in hrefs, (word, location, hrefs)
        page.keyboard.press("Escape")
    assert problems == []


def test_a_figure_enlarges_when_tapped_on_a_phone(watched, site_url):
    """On a 390 px phone a figure drawn for the column shows at about half size; tapping it opens
    the lightbox (mkdocs-glightbox), where it is drawn larger, and closing it returns."""
    page, problems = watched
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(site_url + "distributions/", wait_until="networkidle")
    figure = page.locator("article a.glightbox img").first
    figure.scroll_into_view_if_needed()
    inline = figure.bounding_box()["width"]
    figure.click()
    enlarged = page.locator(".glightbox-container .gslide.current img")
    enlarged.wait_for(state="visible")
    page.wait_for_timeout(500)  # the opening animation
    assert enlarged.bounding_box()["width"] > 1.05 * inline
    page.keyboard.press("Escape")
    page.locator(".glightbox-container").wait_for(state="detached")
    assert problems == []


@pytest.mark.parametrize("width", [1440, 1024, 390])
def test_the_notebook_page_uses_the_whole_article_column(page, site_url, width):
    """Every notebook cell is as wide as the article, less the cells' own padding, at each width
    (it was about 100 px narrower down the whole page, squeezed beside the page's buttons)."""
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(site_url + "ascii-diffusion/", wait_until="networkidle")
    article = page.locator("article.md-content__inner").bounding_box()["width"]
    cells = page.locator(".jupyter-wrapper .jp-Cell").evaluate_all(
        "cells => cells.map(c => c.getBoundingClientRect().width)"
    )
    assert len(cells) > 5 and min(cells) >= article - 40, (article, min(cells))
