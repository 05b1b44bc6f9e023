"""MkDocs hook: a notebook page's code in the theme's markup (so the theme colours it and adds
its copy buttons), and only the CSS rules that can match it (state_simulators/notebook_css.py
says how; mkdocs-jupyter inlines JupyterLab's 575 kB)."""

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from state_simulators import notebook_css


def on_page_content(html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    if not page.file.src_uri.endswith(".py"):
        return html
    # Its figures are inline images that the lightbox skips (`skip_classes` in mkdocs.yml), so
    # the lightbox's script and styles (70 kB) would only weigh: off, by its own page setting.
    page.meta.setdefault("glightbox", False)
    return notebook_css.purge_page(notebook_css.material_code(html))
