"""One plotting style for every figure on the site: same size, fonts, colours, and byte-stable SVG.

Figures are drawn with dark ink on a transparent background; in dark mode the site's CSS
inverts them (keeping hues), so one SVG reads well on both palettes.
"""

import io
import re
import warnings

import matplotlib
from matplotlib.figure import Figure
from matplotlib.text import Text

# Okabe–Ito: distinguishable with every common colour-vision deficiency, and after inversion.
PALETTE = [
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
]
MISSING_GLYPH = re.compile(r"Glyph (\d+) .*missing from font")
INK = "#222222"
MUTED = "#8a8a8a"
WIDTH, HEIGHT = 7.0, 3.6  # inches; the content column of the site is about 7 inches wide

# --8<-- [start:style]
STYLE = {
    "font.family": "DejaVu Sans",  # ships with matplotlib, so every machine draws the same glyphs
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "text.color": INK,
    "axes.labelcolor": INK,
    "axes.edgecolor": INK,
    "xtick.color": INK,
    "ytick.color": INK,
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": MUTED,
    "grid.alpha": 0.3,
    "legend.frameon": False,
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.facecolor": "none",
    "svg.fonttype": "path",  # text as outlines: identical on every machine, no font needed to view
    "svg.hashsalt": "state-simulators",  # fixed ids inside the SVG, so builds are byte-identical
    "figure.constrained_layout.use": True,
}
matplotlib.rcParams.update(STYLE)


def new_figure(
    rows: int = 1, cols: int = 1, height: float = HEIGHT, **subplot_kw
) -> tuple[Figure, object]:
    """A figure in the house size with a grid of axes (a single Axes when rows = cols = 1)."""
    fig = Figure(figsize=(WIDTH, height))
    axes = fig.subplots(rows, cols, squeeze=True, **subplot_kw)
    return fig, axes


def to_svg(fig: Figure) -> bytes:
    """The figure as SVG bytes with no date or other per-run metadata.

    Raises ValueError naming the label when the font lacks one of its characters (matplotlib
    would draw an empty box and only warn)."""
    buffer = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    missing = [
        chr(int(m.group(1))) for w in caught if (m := MISSING_GLYPH.search(str(w.message)))
    ]
    if missing:
        label = next(t.get_text() for t in fig.findobj(Text) if missing[0] in t.get_text())
        raise ValueError(
            f"the figure label {label!r} has {missing[0]!r}, which the plotting font lacks: "
            "show such tokens as bytes (next_token.token_text) or leave them out"
        )
    return buffer.getvalue()


# --8<-- [end:style]
