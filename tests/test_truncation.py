"""The claims of docs/sampling.md about what the cuts let through, on real logits."""

import math

import markdown
import torch

from snippets import continuations as c
from snippets import truncation as tr
from snippets.sampling import min_p, survivors, warp, warp_temperature_last


def test_survivors_grow_with_temperature_top_p_much_faster_than_min_p(lm):
    for name, curves in tr.survivor_curves().items():
        assert set(curves["top-k 50"]) == {50}, name
        for label in ("top-p 0.9", "min-p 0.1"):
            assert curves[label] == sorted(curves[label]), (name, label)
        at = lambda label, temperature, curves=curves: curves[label][tr.GRID.index(temperature)]  # noqa: E731
        assert at("top-p 0.9", 2.0) > 1000 and at("top-p 0.9", 3.0) > 10000, name
        assert at("min-p 0.1", 2.0) < 50 and at("min-p 0.1", 3.0) < 200, name
        assert all(at("min-p 0.1", t) <= at("top-p 0.9", t) for t in tr.GRID if t >= 1.0), name


def test_min_p_is_a_window_below_the_top_logit(lm):
    """p_i >= p_base p_max  <=>  z_i >= z_max - T ln(1 / p_base), on real logits."""
    for z in tr.logits().values():
        for temperature in (0.5, 1.0, 2.0, 3.0):
            for p_base in (0.05, 0.1, 0.3):
                kept = torch.isfinite(min_p(z / temperature, p_base))
                window = z >= z.max() - temperature * math.log(1 / p_base)
                assert int((kept != window).sum()) <= 1  # at most a float tie at the edge


def test_the_tail(lm):
    story = tr.logits()["a story"]
    tail = torch.softmax(story, dim=-1) < tr.TAIL
    assert int(tail.sum()) > 0.99 * story.numel()
    assert 0.05 < tr.tail_mass(story, 1.0) < 0.5  # individually negligible, together not
    curves = tr.tail_curves()
    at = lambda label, t: curves[label][tr.GRID.index(t)]  # noqa: E731
    for t in tr.GRID:
        assert at("top-p 0.9", t) <= at("no cut", t) + 1e-9
    assert at("no cut", 2.0) > 0.5 and at("top-p 0.9", 2.0) > 0.5
    assert at("min-p 0.1", 1.0) < 1e-3 and at("min-p 0.1", 2.0) < 1e-3 and at("top-k 50", 2.0) < 1e-3
    leak = tr.first_leak(curves["min-p 0.1"], tr.LEAK)
    assert 2.0 < leak <= 3.0 and at("min-p 0.1", 3.0) > tr.LEAK


def test_the_order_matters_for_top_p_and_min_p_only(lm):
    story = tr.logits()["a story"]
    for cut in ({"p": 0.9}, {"p_base": 0.1}):
        first = survivors(warp(story, tr.ORDER_T, **cut))
        last = survivors(warp_temperature_last(story, tr.ORDER_T, **cut))
        assert first > 5 * last
    first = torch.isfinite(warp(story, tr.ORDER_T, k=50))
    assert torch.equal(first, torch.isfinite(warp_temperature_last(story, tr.ORDER_T, k=50)))


def test_min_p_keeps_hot_text_plausible_where_top_p_0_9_does_not(lm):
    rows = tr.hot_rows()
    mean = {label: sum(r.mean_log_prob for r in rs) / len(rs) for label, rs in rows.items()}
    none, top_p, min_p_ = (mean[s.label] for s in (c.Setting(c.HOT), *c.TRUNCATIONS))
    assert min_p_ > top_p + 3 and min_p_ > none + 3
    assert all(len(rs) == c.REPLICATES for rs in rows.values())


def test_a_matched_top_p(lm):
    story = tr.logits()["a story"]
    p = tr.matched_p(story, c.HOT, 0.1)
    limit = survivors(warp(story, c.HOT, p_base=0.1))
    assert survivors(warp(story, c.HOT, p=p)) <= limit < survivors(warp(story, c.HOT, p=round(p + 0.01, 2)))
    assert 0.1 < p < 0.9  # a much smaller p than the usual 0.9


def test_generated_text_is_safe_in_a_table_cell():
    nasty = "a | b *bold* _x_ <script> $5 and $6 `code` [link](x) #tag"
    cell = tr.table_cell(nasty)
    html = markdown.markdown(
        f"| h |\n|---|\n| {cell} |",
        extensions=["tables", "pymdownx.arithmatex"],
        extension_configs={"pymdownx.arithmatex": {"generic": True}},
    )
    assert html.count("<td>") == 1 and "<script>" not in html and "<em>" not in html
    assert "arithmatex" not in html and "$5 and $6" in html
    assert "<code>" not in html and "<a " not in html and "&lt;script&gt;" in html


def test_figures_and_facts(lm):
    fig = tr.survivors_figure()
    for ax, curves in zip(fig.axes, tr.survivor_curves().values()):
        assert [list(line.get_ydata()) for line in ax.lines[:3]] == list(curves.values())
    fig = tr.tail_mass_figure()
    assert [list(line.get_ydata()) for line in fig.axes[0].lines] == list(tr.tail_curves().values())
    f = tr.truncation_facts()
    assert f["story_topp_2"] == f"{tr.survivor_curves()['a story']['top-p 0.9'][tr.GRID.index(2.0)]:,}"
    assert f["hot_table"].count("\n") == 2 + len(c.TRUNCATIONS)
