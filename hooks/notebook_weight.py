"""MkDocs hook: a notebook page keeps only the CSS rules that can match it
(state_simulators/notebook_css.py says how; mkdocs-jupyter inlines JupyterLab's 575 kB)."""

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from state_simulators import notebook_css


def on_page_content(html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    return notebook_css.purge_page(html) if page.file.src_uri.endswith(".py") else html
