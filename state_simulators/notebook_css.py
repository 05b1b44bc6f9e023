"""A notebook page keeps only the CSS rules that can match it (used by hooks/notebook_weight.py).

mkdocs-jupyter inlines JupyterLab's whole stylesheet (about 575 kB) into every notebook page;
almost all of it styles JupyterLab's own interface, not a rendered notebook. A rule is kept
when every class its selector needs occurs in the page (classes inside `:not(…)` and other
parentheses are not needed, so such rules are kept when the rest matches; the theme's `md-…`
classes count as present, since its JavaScript adds some, such as the wrapper around tables);
at-rules other than @media and @supports are kept whole.
"""

import re

STYLE = re.compile(r"(<style[^>]*>)(.*?)(</style>)", re.S)
CLASS_ATTRIBUTE = re.compile(r"""class=["']([^"']*)["']""")
CLASS = re.compile(r"\.(-?[_a-zA-Z][\w-]*)")
PARENTHESES = re.compile(r"\([^()]*\)")
COMMENT = re.compile(r"/\*.*?\*/", re.S)
ATTRIBUTE = re.compile(r"\[[^\]]*\]")  # [data-mime-type="application/vnd.jupyter.stderr"]
NESTED = ("@media", "@supports")


def blocks(css: str):
    """The top-level `prelude { body }` blocks of a stylesheet, braces in strings ignored."""
    depth, start, prelude_end, quote = 0, 0, 0, None
    for i, char in enumerate(css):
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "{":
            if depth == 0:
                prelude_end = i
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                yield css[start:prelude_end].strip(), css[prelude_end + 1 : i]
                start = i + 1
        elif char == ";" and depth == 0:  # @charset "…"; and other statements
            yield css[start : i + 1].strip(), None
            start = i + 1


def split_selectors(prelude: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, char in enumerate(prelude):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append(prelude[start:i])
            start = i + 1
    return [*parts, prelude[start:]]


def needed_classes(selector: str) -> set[str]:
    selector = ATTRIBUTE.sub("", selector)
    while PARENTHESES.search(selector):
        selector = PARENTHESES.sub("", selector)
    return {name for name in CLASS.findall(selector) if not name.startswith("md-")}


def purge(css: str, used: set[str]) -> str:
    kept = []
    for prelude, body in blocks(COMMENT.sub("", css)):
        if body is None:
            kept.append(prelude)
        elif prelude.startswith(NESTED):
            inner = purge(body, used)
            if inner:
                kept.append(f"{prelude}{{{inner}}}")
        elif prelude.startswith("@"):
            kept.append(f"{prelude}{{{body}}}")
        else:
            selectors = [s for s in split_selectors(prelude) if needed_classes(s) <= used]
            if selectors:
                kept.append(f"{','.join(selectors)}{{{body}}}")
    return "".join(kept)


def used_classes(html: str) -> set[str]:
    return {name for value in CLASS_ATTRIBUTE.findall(html) for name in value.split()}


# a custom property's declaration; its value may hold a url(data:…;base64,…) with a ";" in it
DECLARATION = re.compile(r"(--[\w-]+)\s*:((?:url\([^)]*\)|[^;{}])*)(?:;|(?=\}))")
REFERENCE = re.compile(r"var\(\s*(--[\w-]+)")


def used_variables(html: str) -> set[str]:
    """The custom properties (`--jp-…`) that something on the page reads: every var() outside
    a custom property's own declaration, and, in turn, every var() in the value of one read."""
    values: dict[str, list[str]] = {}
    for name, value in DECLARATION.findall(html):
        values.setdefault(name, []).append(value)
    used, new = set(), set(REFERENCE.findall(DECLARATION.sub("", html)))
    while new:
        used |= new
        read = {ref for name in new for value in values.get(name, []) for ref in REFERENCE.findall(value)}
        new = read - used
    return used


def drop_variables(css: str, used: set[str]) -> str:
    """The stylesheet without the declarations of custom properties nothing reads."""
    return DECLARATION.sub(lambda m: m.group(0) if m.group(1) in used else "", css)


def purge_page(html: str) -> str:
    """The page with each inline stylesheet cut to the rules that can match it, and to the
    custom properties that those rules, or the page, read."""
    used = used_classes(html)
    html = STYLE.sub(lambda m: m.group(1) + purge(m.group(2), used) + m.group(3), html)
    variables = used_variables(html)
    return STYLE.sub(lambda m: m.group(1) + drop_variables(m.group(2), variables) + m.group(3), html)


# Code as mkdocs-jupyter writes it (pygments' <div><pre> without <code>, a copy button of its
# own and a hidden copy of the source for it) and as the site's other pages have it
# (pymdownx.highlight's <div class="highlight"><pre><code>, which the theme colours and gives
# its own copy button).
JUPYTER_COPY = re.compile(
    r'<div class="zeroclipboard-container">.*?</clipboard-copy>\s*</div>'
    r'|<div class="clipboard-copy-txt"[^>]*>.*?</div>',
    re.S,
)
CODE_BLOCK = re.compile(
    r'<div class="(?:highlight-ipynb hl-(?P<language>[\w-]+)[^"]*|highlight)">'
    r"<pre(?P<attributes>[^>]*)>(?P<code>(?:(?!<code>).)*?)</pre></div>",
    re.S,
)


def _material_block(match: re.Match) -> str:
    language = f"language-{match['language']} " if match["language"] else ""
    return (
        f'<div class="{language}highlight"><pre{match["attributes"]}><code>{match["code"]}</code></pre></div>'
    )


# nbconvert's cell ids hold a "=", which breaks the CSS selector the theme's copy button builds
CELL_ID = re.compile(r'id="cell-id=([\w-]+)"')


def material_code(html: str) -> str:
    """The page with every code block (cell inputs, and code in Markdown cells and outputs)
    in the theme's markup, and mkdocs-jupyter's own copy buttons removed: the theme colours
    the code and adds its copy button, as on every other page. Cell ids lose their "=", so
    that the button's target selector (`#__code_<id> > code`) parses."""
    html = CELL_ID.sub(r'id="cell-\1"', html)
    return CODE_BLOCK.sub(_material_block, JUPYTER_COPY.sub("", html))
