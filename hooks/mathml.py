"""MkDocs hook: turn TeX from pymdownx.arithmatex into MathML while the site builds.

Browsers render MathML natively, so formulas need no JavaScript and no CDN, and work offline.
"""

import html
import re

from latex2mathml.converter import convert
from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import Files
from mkdocs.structure.pages import Page

# arithmatex (generic mode) wraps inline math as \( … \) and display math as \[ … \].
MATH = re.compile(r'<(span|div) class="arithmatex">\s*\\([(\[])(.*?)\\[)\]]\s*</\1>', re.DOTALL)


def _mathml(match: re.Match, page: Page) -> str:
    tex = html.unescape(match.group(3)).strip()
    try:
        return convert(tex, display="block" if match.group(2) == "[" else "inline")
    except Exception as error:
        raise PluginError(f"{page.file.src_uri}: cannot render the formula {tex!r}: {error}") from error


def on_page_content(html_content: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    return MATH.sub(lambda m: _mathml(m, page), html_content)
