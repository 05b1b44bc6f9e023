"""The notebook page (docs/ascii-diffusion.py, executed by mkdocs-jupyter) reads like every
other page: no execution counters, the theme's code styling and copy buttons, canvases as text,
one download, and a page weight within budget. Measured on the built site, in a real browser."""

import json
import re

import jupytext
import pytest

from bench.weights import page_weights
from conftest import ROOT
from snippets.ascii.canvas import NOISE, RAMP

PAGE = "ascii-diffusion/"
MAX_BYTES = 600_000  # the page's HTML and every local file it loads


def html_of(built_site) -> str:
    return (built_site / PAGE / "index.html").read_text()


def test_the_notebook_page_has_no_execution_counters(built_site):
    html = html_of(built_site)
    assert "jp-Cell" in html  # it is the notebook
    assert not re.search(r"(In|Out)&nbsp;\[\d*\]", html) and "jp-InputPrompt" not in html


def test_the_notebook_page_weighs_at_most_600_kb(built_site):
    weight = next(w for w in page_weights(built_site) if w["page"] == PAGE + "index.html")
    assert weight["total"] <= MAX_BYTES, weight


def test_there_is_one_download_and_it_is_the_notebook(page, site_url):
    page.goto(site_url + PAGE)
    links = page.locator("a[download]")
    assert links.count() == 1
    href = links.first.get_attribute("href")
    assert href.endswith("ascii-diffusion.ipynb")
    response = page.request.get(page.url + href)
    assert response.ok
    notebook = json.loads(response.body())
    assert notebook["nbformat"] == 4
    source = jupytext.read(ROOT / "docs" / "ascii-diffusion.py")
    assert [c["cell_type"] for c in notebook["cells"]] == [c.cell_type for c in source.cells]
    assert "display(HTML(page.STYLE))" in "".join(notebook["cells"][1]["source"])
    # the jupytext source is named beside it, not offered as a second file
    assert "docs/ascii-diffusion.py" in links.first.locator("xpath=..").inner_text()


def test_canvases_are_selectable_text_in_pre_blocks(page, site_url):
    page.goto(site_url + PAGE)
    figures = page.locator("figure.ascii-canvases")
    assert figures.count() == 4  # the sequence, two seeds' runs, and every pretrained run
    assert page.locator("img[src^='data:image']").count() == 2  # the two plots of numbers
    aligned = figures.first.locator("pre").evaluate_all("ps => ps.map(p => getComputedStyle(p).textAlign)")
    assert set(aligned) <= {"left", "start"}  # a canvas's leading spaces are picture, not centring
    canvases = figures.first.locator("pre").all_inner_texts()
    assert len(canvases) == 8  # four steps with noise, four without
    picture = set(RAMP)
    clean = "".join(canvases[4:])
    assert set(clean.replace("\n", "")) <= picture and "@" in clean
    noisy = "".join(canvases[:4])
    assert set(noisy) & set(NOISE) and set(noisy.replace("\n", "")) <= picture | set(NOISE)
    # the first step is 75 % noise: most of its characters are noise characters
    first = canvases[0].replace("\n", "")
    assert sum(c in NOISE for c in first) > len(first) / 2


def test_code_cells_use_the_sites_highlighting(page, site_url):
    page.goto(site_url + PAGE)
    assert page.locator(".highlight-ipynb, .zeroclipboard-container").count() == 0
    keyword = page.locator(".jp-InputArea .highlight pre > code .kn").first
    assert keyword.inner_text() == "import"
    colour = keyword.evaluate("e => getComputedStyle(e).color")
    expected = page.evaluate(
        """() => { const s = document.createElement('span');
        s.style.color = 'var(--md-code-hl-keyword-color)';
        document.querySelector('.md-typeset').append(s);
        const c = getComputedStyle(s).color; s.remove(); return c; }"""
    )
    assert colour == expected and colour != "rgb(0, 0, 0)"


@pytest.mark.parametrize(("path", "blocks_at_least"), [(PAGE, 15), ("run-locally/", 7)])
def test_every_code_block_has_a_copy_button(page, site_url, path, blocks_at_least):
    """Cell inputs and the folded sources on the notebook page; and every command on Run it
    locally, where the notebook's instructions are (the clone step first)."""
    page.goto(site_url + path, wait_until="networkidle")
    blocks = page.locator("article pre > code")
    assert blocks.count() >= blocks_at_least
    copied = blocks.evaluate_all(
        """codes => codes.map(code => {
            const button = code.parentElement.querySelector(':scope > nav .md-code__button');
            if (!button) return null;
            // the element the button copies: its selector must parse and find this very code
            return document.querySelector(button.dataset.clipboardTarget) === code;
        })"""
    )
    assert copied == [True] * len(copied), copied
    if path == "run-locally/":
        commands = blocks.all_inner_texts()
        assert commands[0].startswith("git clone ")
        assert sum("jupyter nbconvert --to notebook --execute" in c for c in commands) == 1


def test_helper_sources_are_folded(page, site_url):
    page.goto(site_url + PAGE)
    folded = page.locator("article details")
    assert folded.count() == 3
    for i in range(3):
        details = folded.nth(i)
        assert details.get_attribute("open") is None
        assert details.locator("summary").inner_text().startswith("The code: ")
        assert not details.locator("pre").is_visible()
    folded.first.locator("summary").click()
    assert folded.first.locator("pre").is_visible()
    assert "def render(" in folded.first.locator("pre").inner_text()
