"""Every paper a page cites gets a link: each "Surname et al." (and the seed essay, and the
logit-lens post) is named in some paragraph or list item of the same page that links to it."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
CITED = re.compile(r"\b([A-Z][\w'-]+) et al\.|\b(kalomaze|nostalgebraist)\b")
LINK = re.compile(r"\]\((https?://[^)\s]+)\)")


def blocks(markdown: str) -> list[str]:
    """Paragraphs and list items: the text between blank lines, split again at each list item."""
    return [b for p in re.split(r"\n\s*\n", markdown) for b in re.split(r"\n\s*(?=[-*] |\d+\. )", p)]


def unlinked(markdown: str) -> set[str]:
    """The cited names that no paragraph or list item of the page both names and links."""
    names = {m.group(1) or m.group(2) for m in CITED.finditer(markdown)}
    linked = [b for b in blocks(markdown) if LINK.search(b)]
    return {n for n in names if not any(re.search(rf"\b{re.escape(n)}\b", b) for b in linked)}


def test_a_citation_counts_as_linked_only_where_its_name_stands_beside_a_link():
    page = (
        "As Holtzman et al. (2020) found.\n\n"
        "- A. Holtzman et al., Degeneration, [arXiv:1904.09751](https://arxiv.org/abs/1904.09751).\n"
        "- J. Xu et al., Loops, 2022; see [the paper](https://arxiv.org/abs/2206.02369)\n"
        "- M. Nguyen et al., Min-p, 2025.\n\n"
        "Fan et al. ([local](sampling.md)) and kalomaze wrote it."
    )
    assert unlinked(page) == {"Nguyen", "Fan", "kalomaze"}


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_every_paper_cited_on_a_page_is_linked_on_that_page(page):
    missing = unlinked(page.read_text())
    assert not missing, f"{page.name} cites {sorted(missing)} without a link: add its arXiv/DOI link"
