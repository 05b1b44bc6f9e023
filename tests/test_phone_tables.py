"""The performance page on a phone: every table fits the screen (no column cut off), and its
headings go one level at a time (the Results block is written by bench/report.py)."""

from itertools import pairwise

import pytest

WIDTHS = (390, 1024)


@pytest.mark.parametrize("width", WIDTHS)
def test_every_table_on_the_performance_page_fits_the_screen(page, site_url, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{site_url}performance/", wait_until="networkidle")
    tables = page.locator("article table")
    assert tables.count() >= 3  # the targets, the results, the page weights
    widths = tables.evaluate_all(
        "ts => ts.map(t => [t.getBoundingClientRect().right, document.documentElement.clientWidth])"
    )
    assert all(right <= screen + 0.5 for right, screen in widths), widths


def test_the_performance_pages_headings_never_skip_a_level(page, site_url):
    page.goto(f"{site_url}performance/", wait_until="networkidle")
    levels = page.locator("article :is(h1, h2, h3, h4, h5, h6)").evaluate_all(
        "hs => hs.map(h => Number(h.tagName[1]))"
    )
    assert levels[0] == 1
    assert all(b <= a + 1 for a, b in pairwise(levels)), levels
