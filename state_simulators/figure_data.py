"""The numbers a figure plots, read back from the matplotlib Figure that drew it.

Under every figure the site links these as "Data": the same computation that drew the SVG,
written as JSON, so a reader can check or re-plot a figure without running the model. Read
from the Figure rather than declared by each figure function, nothing plotted can be left out:
every line, bar, band, point, mesh and image of every axes, with its labels, scales and the
text of its ticks (which name categories such as tokens). Values are rounded to DIGITS
significant digits; NaN and infinities become null.
"""

import json
import math

import numpy as np

DIGITS = 6


def clean(values) -> list | float | None:
    """Numbers (any nesting, masked entries included) as JSON-safe, rounded floats."""
    array = np.ma.filled(np.ma.asarray(values, dtype=float), np.nan)
    if array.ndim == 0:
        value = float(array)
        return float(f"{value:.{DIGITS}g}") if math.isfinite(value) else None
    return [clean(v) for v in array]


def label(artist) -> str | None:
    """An artist's legend label; matplotlib's automatic ones ("_child3") are not labels."""
    text = artist.get_label()
    return None if not text or text.startswith("_") else text


def lines(ax) -> list[dict]:
    return [
        {"label": label(line), "x": clean(line.get_xdata()), "y": clean(line.get_ydata())}
        for line in ax.get_lines()
    ]


def bars(ax) -> list[dict]:
    """Bar charts (vertical or horizontal) and histograms drawn with `bar`/`barh`/`hist`."""
    from matplotlib.container import BarContainer

    return [
        {
            "label": label(container),
            "orientation": container.orientation,
            "x": clean([p.get_x() for p in container.patches]),
            "y": clean([p.get_y() for p in container.patches]),
            "width": clean([p.get_width() for p in container.patches]),
            "height": clean([p.get_height() for p in container.patches]),
        }
        for container in ax.containers
        if isinstance(container, BarContainer)
    ]


def collections(ax) -> list[dict]:
    """Bands (`fill_between`), points (`scatter`), segments (error bars, `vlines`), meshes."""
    from matplotlib.collections import LineCollection, PathCollection, PolyCollection, QuadMesh

    found = []
    for item in ax.collections:
        entry = {"label": label(item), "kind": type(item).__name__}
        if isinstance(item, QuadMesh):
            entry["values"] = clean(item.get_array())
        elif isinstance(item, PathCollection):
            entry["points"] = clean(item.get_offsets())
        elif isinstance(item, LineCollection):
            entry["segments"] = [clean(s) for s in item.get_segments()]
        elif isinstance(item, PolyCollection):
            entry["polygons"] = [clean(p.vertices) for p in item.get_paths()]
        found.append(entry)
    return found


def images(ax) -> list[dict]:
    return [
        {"values": clean(image.get_array()), "extent": clean(image.get_extent())} for image in ax.get_images()
    ]


def ticks(axis) -> dict:
    return {
        "at": clean(axis.get_ticklocs()),
        "labels": [t.get_text() for t in axis.get_ticklabels()],
    }


def axes(ax) -> dict:
    """One axes: its labels, scales, limits, ticks and everything plotted on it."""
    return {
        "title": ax.get_title(),
        "xlabel": ax.get_xlabel(),
        "ylabel": ax.get_ylabel(),
        "xscale": ax.get_xscale(),
        "yscale": ax.get_yscale(),
        "xlim": clean(ax.get_xlim()),
        "ylim": clean(ax.get_ylim()),
        "xticks": ticks(ax.xaxis),
        "yticks": ticks(ax.yaxis),
        "colorbar": hasattr(ax, "_colorbar"),
        "lines": lines(ax),
        "bars": bars(ax),
        "collections": collections(ax),
        "images": images(ax),
        "texts": [{"text": t.get_text(), "at": clean(t.get_position())} for t in ax.texts],
    }


def figure_data(fig) -> dict:
    """Everything `fig` plots: {"title": suptitle or "", "axes": [one entry per axes]}.

    Call it after drawing is finished (tick labels are read as drawn)."""
    fig.draw_without_rendering()  # tick labels exist only once the figure is laid out
    title = fig._suptitle.get_text() if fig._suptitle is not None else ""
    return {"title": title, "axes": [axes(ax) for ax in fig.axes]}


def as_json(fig) -> bytes:
    """`figure_data` as the bytes the site serves."""
    return json.dumps(figure_data(fig), sort_keys=True, indent=1, ensure_ascii=False).encode()
