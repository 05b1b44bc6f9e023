"""MkDocs hook: keep a notebook page's code cells out of the search index
(state_simulators/search_index.py)."""

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from state_simulators import search_index


def on_page_content(html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    return search_index.exclude_notebook_code(html) if page.file.src_uri.endswith(".py") else html
