"""The site's search: hyphenated terms stay whole, the notebook's code and the formulas stay out
of the index, and the usual queries find the page about them first."""

import json
import re
from html import unescape
from urllib.parse import urlparse

import pytest

from state_simulators import mathml, search_index

ABOUT_THE_SITE = {"run-locally/", "how-it-works/", "contributing/", "performance/"}
QUERIES = {  # what a reader types -> the page about it
    "min-p": "sampling/",
    "top-p": "sampling/",
    "kv cache": "kv-cache/",
    "logit lens": "logit-lens/",
    "entropy": "temperature/",
    "activation patching": "state-simulators/",
}


def test_a_notebooks_code_cells_and_copy_text_are_marked_and_nothing_else():
    html = (
        '<p>prose</p><div class="jp-InputArea jp-Cell-inputArea"><div class="x"><pre>code</pre>'
        '</div></div><div class="jp-OutputArea"><pre>output</pre></div>'
        '<div class="clipboard-copy-txt" id="cell-1">code</div>'
    )
    out = search_index.exclude_notebook_code(html)
    assert out.count("data-search-exclude") == 2
    assert "<pre data-search-exclude>code</pre>" in out and "<pre>output</pre>" in out
    assert '<div class="clipboard-copy-txt" data-search-exclude id="cell-1">' in out


def test_formulas_are_left_out_of_the_index():
    assert mathml.to_mathml("p_i = e^{z_i / T}", display=False).startswith("<math data-search-exclude ")


def index_text(built_site) -> dict[str, str]:
    docs = json.loads((built_site / "search" / "search_index.json").read_text())["docs"]
    pages: dict[str, str] = {}
    for doc in docs:
        page = doc["location"].split("#")[0]
        pages[page] = pages.get(page, "") + " " + unescape(re.sub(r"<[^>]+>", " ", doc["text"]))
    return pages


def test_the_index_holds_neither_notebook_code_nor_formula_symbols(built_site):
    pages = index_text(built_site)
    notebook = (built_site / "ascii-diffusion" / "index.html").read_text()
    cells = re.findall(r"<pre data-search-exclude[^>]*>(.*?)</pre>", notebook, re.DOTALL)
    lines = {unescape(re.sub(r"<[^>]+>", "", line)).strip() for cell in cells for line in cell.splitlines()}
    assert len(lines) > 20
    indexed = " ".join(pages["ascii-diffusion/"].split())
    assert not [line for line in lines if len(line) > 30 and " ".join(line.split()) in indexed]
    config = json.loads((built_site / "search" / "search_index.json").read_text())["config"]
    assert not re.search(config["separator"], "min-p")  # a hyphen does not split a word
    for page in ("temperature/", "sampling/"):
        html = (built_site / page / "index.html").read_text()
        formulas = [unescape(re.sub(r"<[^>]+>", " ", m)) for m in re.findall(r"<math.*?</math>", html, re.S)]
        symbols = [" ".join(f.split()) for f in formulas if len(f.split()) >= 6]
        assert symbols and not [s for s in symbols if s in " ".join(pages[page].split())]


@pytest.mark.parametrize("query", sorted(QUERIES))
def test_the_page_about_a_term_comes_first(page, site_url, query):
    page.goto(site_url, wait_until="networkidle")
    box = page.locator("input.md-search__input")
    box.click()
    box.press_sequentially(query)  # the theme listens to key presses, not to a filled value
    results = page.locator(".md-search-result__link")
    results.first.wait_for()
    page.wait_for_timeout(400)  # results arrive from a web worker; let the list settle
    links = results.evaluate_all("links => links.map(a => a.href)")
    pages = list(dict.fromkeys(urlparse(link).path.lstrip("/") for link in links))
    assert pages[0] == QUERIES[query], pages
    assert not set(pages[:3]) & ABOUT_THE_SITE, pages
