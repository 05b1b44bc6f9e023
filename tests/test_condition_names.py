"""One name per experimental condition: where the pages name a story condition in quotes or as a
tab, they use the name the code gives it (snippets/stories.py), which the figures show too."""

import re
from pathlib import Path

import pytest

from snippets import stories

DOCS = Path(__file__).resolve().parent.parent / "docs"
NAMES = {c.name for c in stories.CONDITIONS}


def tab_titles(markdown: str) -> list[str]:
    """The titles of the content tabs (`=== "title"`) of a page."""
    return re.findall(r'^=== "([^"]+)"', markdown, flags=re.MULTILINE)


def quoted_names(markdown: str) -> list[str]:
    """Phrases introduced as conditions: '… conditions — "a", "b" and "c"', or "the *a* version"."""
    found = []
    for run in re.findall(r'conditions?\W{1,4}((?:"[^"]+"(?:,\s*|\s+and\s+)?)+)', markdown):
        found += re.findall(r'"([^"]+)"', run)
    found += re.findall(r"\*([^*]+)\* (?:version|condition)", markdown)
    return [" ".join(name.split()) for name in found]


def test_the_finders_see_tabs_and_quoted_conditions():
    page = 'In two conditions — "negated" and "men-\ntioned"; the *other* version\n\n=== "stated"\n\n    x\n'
    assert tab_titles(page) == ["stated"]
    assert quoted_names(page) == ["negated", "men- tioned", "other"]


@pytest.mark.parametrize("page", ["state-simulators.md", "logit-lens.md", "attention.md"])
def test_conditions_are_named_as_the_code_names_them(page):
    text = (DOCS / page).read_text()
    names = quoted_names(text) + (tab_titles(text) if page == "state-simulators.md" else [])
    assert set(names) <= NAMES, f"{page}: {sorted(set(names) - NAMES)} are not conditions {sorted(NAMES)}"


def test_every_condition_has_its_tab_on_the_state_simulators_page():
    assert set(tab_titles((DOCS / "state-simulators.md").read_text())) == NAMES
