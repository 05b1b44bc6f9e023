"""TeX to MathML at build time: browsers render MathML natively, so formulas need no JavaScript
and no CDN. A formula the converter cannot render faithfully fails the build, naming the page
and the formula — it never passes with wrong maths — and so does TeX left in a page's text
(a `$…$` that Markdown split, say, inside a table cell).
"""

import html
import re

from latex2mathml.converter import convert

# arithmatex (generic mode) wraps inline math as \( … \) and display math as \[ … \].
MATH = re.compile(r'<(span|div) class="arithmatex">\s*\\([(\[])(.*?)\\[)\]]\s*</\1>', re.DOTALL)
# Environments the converter lacks, written as ones it has that render the same.
SAME_AS = {"aligned": "align*", "gathered": "matrix", "split": "align*"}
ENVIRONMENT = re.compile(r"\\(begin|end)\{(" + "|".join(SAME_AS) + r")\}")
# Signs in the MathML that part of the TeX was not understood: an alignment `&` or a command
# left as a literal identifier (`<mi>\foo</mi>`), or a line break outside a table (browsers
# ignore it, so the rows would run together).
NOT_UNDERSTOOD = re.compile(r"<m[ion]>(&amp;|&|\\[A-Za-z]+|\\\\)</m[ion]>|<mspace (linebreak)=")
CODE = re.compile(r"<(pre|code|script|style|math|svg|textarea)\b.*?</\1>", re.DOTALL)
LEFTOVER = re.compile(r"\$[A-Za-z\\{(]|[A-Za-z)}]\$|\\\(|\\\[|\\begin\{")


class MathError(ValueError):
    """A formula that cannot be shown faithfully; the message names it and the fix."""


def to_mathml(tex: str, display: bool) -> str:
    """One formula as MathML; raises MathError for TeX the converter would render wrongly."""
    rewritten = ENVIRONMENT.sub(lambda m: f"\\{m.group(1)}{{{SAME_AS[m.group(2)]}}}", tex)
    try:
        mathml = convert(rewritten, display="block" if display else "inline")
    except Exception as error:
        raise MathError(f"cannot render the formula {tex!r}: {error}") from error
    if wrong := NOT_UNDERSTOOD.search(mathml):
        what = "a line break outside an environment" if wrong.group(2) else html.unescape(wrong.group(1))
        raise MathError(
            f"cannot render the formula {tex!r} faithfully ({what!r} would not show as written): "
            "use an environment such as aligned for rows, and supported commands"
        )
    # MathML's text is a run of symbols ("p i = e z i / T"): keep it out of the search index
    return mathml.replace("<math ", "<math data-search-exclude ", 1)


def convert_page(content: str) -> str:
    """Every arithmatex formula of a page's HTML as MathML."""

    def replace(match: re.Match) -> str:
        return to_mathml(html.unescape(match.group(3)).strip(), display=match.group(2) == "[")

    return MATH.sub(replace, content)


def leftover_tex(content: str) -> str | None:
    """A piece of the page's text that still looks like TeX, or None."""
    text = re.sub(r"<[^>]+>", " ", CODE.sub(" ", content))
    found = LEFTOVER.search(text)
    return text[max(found.start() - 20, 0) : found.end() + 20].strip() if found else None
