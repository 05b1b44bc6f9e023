"""MkDocs hook: formulas as MathML at build time (state_simulators/mathml.py does the work);
a formula that cannot be rendered faithfully, or TeX left in a page's text, fails the build."""

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

from state_simulators import mathml


def on_page_content(html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    try:
        converted = mathml.convert_page(html)
    except mathml.MathError as error:
        raise PluginError(f"{page.file.src_uri}: {error}") from error
    if leftover := mathml.leftover_tex(converted):
        raise PluginError(
            f"{page.file.src_uri}: TeX left in the page's text ({leftover!r}): check the formula's "
            "delimiters; inside a table cell write `|` as `\\vert`"
        )
    return converted
