"""Every figure legible at every width: the smallest text of each figure, as the reader sees it.

Figures are SVGs with their text drawn as outlines (`svg.fonttype: path`), so the browser knows
no font size; matplotlib writes each text as a `<g id="text_N">` whose glyphs are `<use>`d under
`scale(s -s)` transforms, and the size in SVG units is 100 × the product of the scales down to
a glyph (0.1 for 10 pt; a superscript adds its own 0.7). The size on screen is that times the
image's rendered width over the SVG's width. The browser test prints a table of the smallest
size per figure at 1440, 1024 and 390 px, inline and enlarged (the lightbox), and holds a floor
where the screen leaves room for one.
"""

import re
import xml.etree.ElementTree as ET

import pytest
from matplotlib.figure import Figure

from snippets.plotting import to_svg

SVG = "{http://www.w3.org/2000/svg}"
SCALE = re.compile(r"scale\(\s*([-\d.e]+)(?:[\s,]+([-\d.e]+))?\s*\)")
WIDTHS = {1440: 900, 1024: 768, 390: 844}
FLOOR_ENLARGED = 9.0  # px: the smallest text of any figure in the lightbox at 1024 px and up


def _scale(element: ET.Element) -> float:
    """The horizontal scale of an element's own transform (1 when it has none)."""
    factor = 1.0
    for match in SCALE.finditer(element.get("transform", "")):
        factor *= abs(float(match.group(1)))
    return factor


def text_sizes(svg: bytes) -> list[float]:
    """The font size, in SVG user units, of every glyph of every text in a matplotlib SVG.

    Raises ValueError when the SVG has no text at all (not a matplotlib figure with labels)."""
    root = ET.fromstring(svg)
    sizes = []

    def walk(element: ET.Element, scale: float) -> None:
        scale *= _scale(element)
        if element.tag == SVG + "use":
            sizes.append(round(100 * scale, 3))
        for child in element:
            walk(child, scale)

    for text in root.iter(SVG + "g"):
        if re.fullmatch(r"text_\d+", text.get("id", "")):
            walk(text, 1.0)
    if not sizes:
        raise ValueError("no text in this SVG: is it a matplotlib figure saved with svg.fonttype=path?")
    return sizes


def view_box(svg: bytes) -> tuple[float, float]:
    """The SVG's own width and height, in user units (from its viewBox)."""
    _, _, width, height = (float(v) for v in ET.fromstring(svg).get("viewBox").split())
    return width, height


def on_screen(svg: bytes, box_width: float, box_height: float | None = None) -> float:
    """The smallest text of `svg`, in CSS px, drawn in an image box of that size (an SVG
    keeps its proportions in its box: it scales by the smaller ratio; width only when no
    height is given)."""
    width, height = view_box(svg)
    scale = box_width / width if box_height is None else min(box_width / width, box_height / height)
    return min(text_sizes(svg)) * scale


def _figure(fontsize: float, superscript: bool = False) -> bytes:
    fig = Figure(figsize=(4, 2))
    ax = fig.subplots()
    ax.set_xlabel("layer", fontsize=fontsize)
    if superscript:
        ax.set_ylabel("$10^{3}$", fontsize=fontsize)
    return to_svg(fig)


@pytest.mark.parametrize("fontsize", [6.5, 10, 14])
def test_the_size_of_a_label_is_read_back_from_its_svg(fontsize):
    svg = _figure(fontsize)
    assert fontsize in text_sizes(svg)


def test_a_superscript_is_smaller_than_its_base():
    sizes = set(text_sizes(_figure(12, superscript=True)))
    assert 12 in sizes
    assert min(sizes) == pytest.approx(12 * 0.7, abs=0.01)


def test_the_size_on_screen_follows_the_rendered_width():
    svg = _figure(10)  # 4 in = 288 units wide; ticks are drawn at the style's 10
    width, height = view_box(svg)
    assert width == 288
    smallest = min(text_sizes(svg))
    assert on_screen(svg, 2 * width) == pytest.approx(2 * smallest)
    assert on_screen(svg, 2 * width, height) == pytest.approx(smallest)  # height-bound


def test_an_svg_without_text_is_refused():
    with pytest.raises(ValueError, match="no text"):
        text_sizes(to_svg(Figure(figsize=(1, 1))))


# the layout box, which the lightbox's opening animation (a CSS transform) leaves alone
BOX = "img => img.complete && img.offsetWidth ? [img.offsetWidth, img.offsetHeight] : null"


def _figures(built_site) -> dict[str, list[str]]:
    """{page folder: the figure sources it shows, in order} for every page of the built site."""
    found = {}
    for html in sorted(built_site.rglob("index.html")):
        pattern = r'<img[^>]+src="([^"]*figures/[^"]+\.svg)"'
        if sources := list(dict.fromkeys(re.findall(pattern, html.read_text()))):
            found[html.parent.relative_to(built_site).as_posix()] = sources
    return found


def measure(page, site_url: str, built_site, width: int) -> dict[str, tuple[float, float]]:
    """{figure: (smallest text inline, in the lightbox)} in CSS px, at a viewport `width`."""
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})
    sizes = {}
    for where, sources in _figures(built_site).items():
        page.goto(f"{site_url}{where}/" if where != "." else site_url, wait_until="networkidle")
        for src in sources:
            name = src.rsplit("/", 1)[-1]
            svg = (built_site / "figures" / name).read_bytes()
            img = page.locator(f'article a.glightbox img[src="{src}"]').first
            img.scroll_into_view_if_needed()
            inline = on_screen(svg, img.evaluate(BOX)[0])
            img.click()
            big = page.locator(".glightbox-container .gslide.current img")
            big.wait_for(state="visible")
            box = page.wait_for_function(BOX, arg=big.element_handle()).json_value()
            enlarged = on_screen(svg, *box)
            page.keyboard.press("Escape")
            page.locator(".glightbox-container").wait_for(state="detached")
            sizes[name] = (round(inline, 1), round(enlarged, 1))
    return sizes


@pytest.fixture(scope="module")
def legibility(built_site, site_url, browser):
    """The smallest text of every figure at every width, inline and enlarged, printed as a
    table (`pytest -s`)."""
    page = browser.new_page()
    table = {width: measure(page, site_url, built_site, width) for width in WIDTHS}
    page.close()
    names = sorted(table[1440])
    header = "figure".ljust(36) + "".join(f"{w:>7} in {w:>5} big" for w in WIDTHS)
    print("\nsmallest figure text, CSS px (inline / enlarged in the lightbox)\n" + header)
    for name in names:
        print(
            name.ljust(36) + "".join(f"{table[w][name][0]:>10.1f} {table[w][name][1]:>9.1f}" for w in WIDTHS)
        )
    return table


def test_every_figure_is_measured_at_every_width(legibility, built_site):
    shown = {p.name for p in (built_site / "figures").glob("*.svg")}
    for width, sizes in legibility.items():
        assert set(sizes) == shown, width


@pytest.mark.parametrize("width", [1440, 1024])
def test_every_figure_enlarged_has_text_of_at_least_the_floor(legibility, width):
    small = {name: big for name, (_, big) in legibility[width].items() if big < FLOOR_ENLARGED}
    assert small == {}, f"at {width} px these figures' smallest text (px) is under {FLOOR_ENLARGED}"


@pytest.mark.parametrize("width", [1440, 1024, 390])
def test_enlarging_a_figure_never_makes_its_text_smaller(legibility, width):
    shrunk = {name: s for name, s in legibility[width].items() if s[1] < s[0] - 0.05}
    assert shrunk == {}


def test_on_desktop_a_figure_fills_the_column(legibility):
    """Inline text is larger at 1440 px than on the phone: the figure uses the column's width."""
    for name, (inline, _) in legibility[1440].items():
        assert inline > 1.5 * legibility[390][name][0], name
