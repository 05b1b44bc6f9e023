"""The numbers under every figure: read back from the matplotlib Figure, nothing left out."""

import json
import math

import numpy as np
import pytest
from matplotlib.figure import Figure

from state_simulators import figure_data


@pytest.fixture
def drawn():
    """A figure with one of every kind of plotted thing, and what was plotted."""
    fig = Figure()
    left, right = fig.subplots(1, 2)
    x = np.array([0.0, 1.0, 2.0])
    left.plot(x, [1.0, 4.0, 9.0], label="squares")
    left.plot(x, [0.5, np.nan, 2.0])  # no label: matplotlib's automatic "_child…"
    left.fill_between(x, [0, 1, 2], [2, 3, 4], label="band")
    left.scatter([0.5, 1.5], [2.0, 3.0])
    left.errorbar([1.0], [5.0], yerr=[[1.0], [2.0]])
    left.bar(["a", "b"], [3.0, 7.0], bottom=[1.0, 0.0], label="counts")
    left.barh([0, 1], [2.0, 4.0])
    left.annotate("peak", (2.0, 9.0))
    left.set(title="left", xlabel="x", ylabel="y", yscale="log")
    image = right.imshow(np.array([[0.0, 0.5], [0.75, 1.0]]), vmin=0, vmax=1)
    fig.colorbar(image, ax=right)
    fig.suptitle("both")
    return fig


def test_every_plotted_value_is_read_back(drawn):
    found = figure_data.figure_data(drawn)
    assert found["title"] == "both"
    left, right, bar = found["axes"]
    assert (left["title"], left["xlabel"], left["ylabel"], left["yscale"]) == ("left", "x", "y", "log")
    lines = {line["label"]: line for line in left["lines"] if line["label"]}
    assert lines["squares"]["y"] == [1, 4, 9] and lines["squares"]["x"] == [0, 1, 2]
    unlabelled = [line for line in left["lines"] if line["label"] is None]
    assert [0.5, None, 2] in [line["y"] for line in unlabelled]  # NaN written as null
    kinds = [c["kind"] for c in left["collections"]]
    band = next(c for c in left["collections"] if c["label"] == "band")
    corners = {tuple(v) for v in band["polygons"][0]}
    assert {(0, 0), (2, 2), (0, 2), (2, 4)} <= corners
    assert [[0.5, 2], [1.5, 3]] in [c.get("points") for c in left["collections"]]
    segments = next(c["segments"] for c in left["collections"] if "segments" in c)
    assert segments == [[[1, 4], [1, 7]]]  # the error bar from 5 - 1 to 5 + 2
    assert "PathCollection" in kinds and "LineCollection" in kinds
    vertical, horizontal = left["bars"]
    assert vertical["label"] == "counts" and vertical["height"] == [3, 7] and vertical["y"] == [1, 0]
    assert horizontal["orientation"] == "horizontal" and horizontal["width"] == [2, 4]
    assert {"a", "b"} <= set(left["xticks"]["labels"])  # categories are named by their ticks
    assert left["texts"] == [{"text": "peak", "at": [2, 9]}]
    assert right["images"][0]["values"] == [[0, 0.5], [0.75, 1]]
    assert bar["colorbar"] and not right["colorbar"]


def test_the_json_is_deterministic_and_plain(drawn):
    once = figure_data.as_json(drawn)
    assert once == figure_data.as_json(drawn)
    assert "NaN" not in once.decode() and "Infinity" not in once.decode()
    assert json.loads(once)["axes"][1]["images"]


def test_numbers_are_rounded_and_non_finite_ones_are_null():
    assert figure_data.clean(1 / 3) == 0.333333
    assert figure_data.clean(123456789.0) == 123457000.0
    assert figure_data.clean(math.inf) is None
    assert figure_data.clean(np.ma.masked_array([1.0, 2.0], mask=[False, True])) == [1.0, None]
    assert figure_data.clean([[1, 2], [3, 4]]) == [[1.0, 2.0], [3.0, 4.0]]


def test_a_mesh_is_read_as_its_values():
    fig = Figure()
    ax = fig.subplots()
    ax.pcolormesh(np.array([[1.0, 2.0], [3.0, 4.0]]))
    mesh = figure_data.figure_data(fig)["axes"][0]["collections"][0]
    assert mesh["kind"] == "QuadMesh" and sorted(np.ravel(mesh["values"])) == [1, 2, 3, 4]
    assert figure_data.figure_data(fig)["title"] == ""


def test_a_collection_of_another_kind_is_named_with_no_values():
    from matplotlib.collections import CircleCollection

    fig = Figure()
    ax = fig.subplots()
    ax.add_collection(CircleCollection([10], offsets=[(0, 0)], offset_transform=ax.transData))
    assert figure_data.figure_data(fig)["axes"][0]["collections"] == [
        {"label": None, "kind": "CircleCollection"}
    ]
