"""The claims of docs/sampling.md about what the cuts let through, on real logits."""

import html
import math

import markdown
import pytest
import torch

from snippets import hot_texts
from snippets import truncation as tr
from snippets.hot_texts import HOT, Text
from snippets.intervals import bootstrap
from snippets.sampling import Samplers, min_p, survivors, warp, warp_temperature_last
from snippets.tables import markdown_table


def test_survivors_grow_with_temperature(lm):
    for name, curves in tr.survivor_curves().items():
        vocabulary = tr.logits()[name].numel()
        assert set(curves[tr.TOP_K.cuts]) == {min(tr.TOP_K.top_k, vocabulary)}, name
        for cut in (tr.TOP_P, tr.MIN_P):
            assert curves[cut.cuts] == sorted(curves[cut.cuts]), (name, cut.cuts)


@pytest.mark.claim
def test_top_p_lets_in_much_more_than_min_p_as_t_rises(lm):
    for name, curves in tr.survivor_curves().items():
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


def test_top_p_never_lets_in_more_tail_than_no_cut(lm):
    curves = tr.tail_curves()
    assert list(curves) == ["no cut", "top-k 50", "top-p 0.9", "min-p 0.1"]
    for no_cut, top_p in zip(curves["no cut"], curves["top-p 0.9"]):
        assert top_p <= no_cut + 1e-9
    story = tr.logits()["a story"]
    tail = torch.softmax(story, dim=-1) < tr.TAIL
    assert tr.tail_mass(story, tr.NO_CUT) == pytest.approx(float(torch.softmax(story, -1)[tail].sum()))


@pytest.mark.claim
def test_the_tail(lm):
    story = tr.logits()["a story"]
    tail = torch.softmax(story, dim=-1) < tr.TAIL
    assert int(tail.sum()) > 0.99 * story.numel()
    assert 0.05 < tr.tail_mass(story, tr.NO_CUT) < 0.5  # individually negligible, together not
    curves = tr.tail_curves()
    at = lambda label, t: curves[label][tr.GRID.index(t)]  # noqa: E731
    assert at("no cut", 2.0) > 0.5 and at("top-p 0.9", 2.0) > 0.5
    assert at("min-p 0.1", 1.0) < 1e-3 and at("min-p 0.1", 2.0) < 1e-3 and at("top-k 50", 2.0) < 1e-3
    leak = tr.first_leak(curves["min-p 0.1"], tr.LEAK)
    assert 2.0 < leak <= 3.0 and at("min-p 0.1", 3.0) > tr.LEAK


def test_the_order_does_not_matter_for_top_k(lm):
    story = tr.logits()["a story"]
    top_k = tr.TOP_K.at(tr.ORDER_T)
    first = torch.isfinite(warp(story, top_k))
    assert torch.equal(first, torch.isfinite(warp_temperature_last(story, top_k)))


@pytest.mark.claim
def test_the_order_matters_for_top_p_and_min_p(lm):
    story = tr.logits()["a story"]
    for cut in (tr.TOP_P, tr.MIN_P):
        first = survivors(warp(story, cut.at(tr.ORDER_T)))
        last = survivors(warp_temperature_last(story, cut.at(tr.ORDER_T)))
        assert first > 5 * last


def test_a_matched_top_p(lm):
    story = tr.logits()["a story"]
    p = tr.matched_p(story, HOT, 0.1)
    limit = survivors(warp(story, Samplers(HOT, min_p=0.1)))
    assert survivors(warp(story, Samplers(HOT, top_p=p))) <= limit
    if p < 1:
        assert limit < survivors(warp(story, Samplers(HOT, top_p=round(p + 0.01, 2))))


@pytest.mark.claim
def test_the_matched_top_p_is_much_smaller_than_0_9(lm):
    assert 0.1 < tr.matched_p(tr.logits()["a story"], HOT, 0.1) < 0.9


def test_generated_text_is_safe_in_a_table_cell():
    nasty = "a | b *bold* _x_ <script> $5 and $6 `code` [link](x) #tag \\ & &lt;"
    cell = tr.table_cell(nasty)
    rendered = markdown.markdown(
        markdown_table(["h"], [[cell]]),
        extensions=["tables", "pymdownx.arithmatex"],
        extension_configs={"pymdownx.arithmatex": {"generic": True}},
    )
    assert rendered.count("<td>") == 1 and "<script>" not in rendered and "<em>" not in rendered
    assert "arithmatex" not in rendered and "<code>" not in rendered and "<a " not in rendered
    cell_text = rendered.split("<td>")[1].split("</td>")[0]
    assert html.unescape(cell_text) == nasty + " …"  # the reader sees the text as it was


def test_figures_and_facts(lm):
    fig = tr.survivors_figure()
    for ax, curves in zip(fig.axes, tr.survivor_curves().values()):
        assert [list(line.get_ydata()) for line in ax.lines[:3]] == list(curves.values())
    fig = tr.tail_mass_figure()
    assert [list(line.get_ydata()) for line in fig.axes[0].lines] == list(tr.tail_curves().values())
    f = tr.truncation_facts()
    assert f["hot_table"].count("\n") == 2 + len(hot_texts.SETTINGS)  # and the human row
    assert f["order_table"].count("\n") == 1 + 2 * len(tr.SHOWN)
    assert not {"vocab", "fact_prompt", "fact_top", "story_bits_2", "tail_topk_1"} & set(f)


def test_the_survivors_table(lm):
    table = tr.truncation_facts()["survivors_table"].split("\n")
    assert table[:2] == [
        "| prompt | cut | T = 1 | T = 1.5 | T = 2 | T = 3 |",
        "|---|---|---:|---:|---:|---:|",
    ]
    story_top_p = tr.survivor_curves()["a story"]["top-p 0.9"]
    cells = [f"{story_top_p[tr.GRID.index(t)]:,}" for t in tr.TABLE_T]
    assert table[2] == "| story | top-p 0.9 | " + " | ".join(cells) + " |"
    assert [row.split(" | ")[:2] for row in table[2:]] == [
        ["| story", "top-p 0.9"],
        ["| story", "min-p 0.1"],
        ["| fact", "top-p 0.9"],
        ["| fact", "min-p 0.1"],
    ]


SETTINGS_BOTH_ORDERS = [
    Samplers(2.0, top_p=0.9),
    Samplers(2.0, min_p=0.1),
    Samplers(0.5, top_k=20, top_p=0.8),
    Samplers(3.0, top_k=100, top_p=0.95, min_p=0.05),
    Samplers(1.5),
]


@pytest.mark.parametrize("setting", SETTINGS_BOTH_ORDERS, ids=lambda s: s.label)
def test_transformers_warpers_in_both_orders_equal_the_pages_functions(lm, setting):
    """temperature first = `warp` (generate's order); temperature last = `warp_temperature_last`."""
    for z in tr.logits().values():
        orders = tr.both_orders(z, setting)
        assert list(orders) == ["temperature first", "temperature last"]
        for theirs, ours in zip(orders.values(), (warp(z, setting), warp_temperature_last(z, setting))):
            assert torch.equal(torch.isinf(theirs), torch.isinf(ours))
            assert torch.allclose(theirs[torch.isfinite(theirs)], ours[torch.isfinite(ours)])


@pytest.mark.claim
def test_the_order_table(lm):
    """T = 2, top-p 0.9: temperature first keeps far more tokens and a far less likely top token."""
    rows = tr.order_rows(tr.TOP_P.at(tr.ORDER_T))
    number = lambda cell: float(cell.replace(",", ""))  # noqa: E731
    for first, last in zip(rows[::2], rows[1::2]):
        assert (first[1], last[1]) == ("temperature first", "temperature last")
        assert number(first[2]) > 50 * number(last[2])
        assert number(first[3]) < number(last[3]) / 2


def text(ids, words="", log_probs=()):
    return Text("p", Samplers(), 0, tuple(ids), words, tuple(log_probs))


def test_the_text_measures_on_known_texts(lm):
    loop = text([1, 2, 3, 4] * 3)  # 9 four-grams, the last 5 repeat the first 4
    assert tr.repeated_ngrams([loop]) == pytest.approx(5 / 9)
    assert tr.repeated_ngrams([text([1, 2, 3, 4, 5])]) == 0
    assert tr.repeated_ngrams([loop, text([1, 2])]) == pytest.approx(5 / 9)  # too short: no 4-grams
    assert tr.repeated_ngrams([text([])]) == 0
    assert tr.distinct_2([text([1, 2, 1, 2]), text([1, 2])]) == pytest.approx(2 / 4)
    assert tr.mean_log_prob([text([1, 2], log_probs=(-1.0, -2.0)), text([3], log_probs=(-3.0,))]) == -2.0
    assert tr.mean_log_prob([text([])]) == 0


def test_whole_token_words(lm):
    common = "the cat sat on the house"
    assert tr.word_share([common], lm.tokenizer) == 1.0
    ids = lm.tokenizer(" Serekealed Lalveckend", add_special_tokens=False).input_ids
    assert len(ids) > 2 and tr.word_share(["Serekealed Lalveckend"], lm.tokenizer) == 0.0
    assert tr.word_share(["the Serekealed, 42 !"]) == 0.5  # runs of letters only; numbers are no words
    assert tr.word_share([""]) == 0
    assert tr.whole_words([text([], common), text([], "Serekealed")]) == pytest.approx(6 / 7)


def test_intervals_have_the_prompt_as_unit(lm):
    intervals = tr.hot_intervals()
    assert list(intervals) == [s.label for s in hot_texts.SETTINGS]
    for setting in hot_texts.SETTINGS:
        for name, (measure, *_) in tr.MEASURES.items():
            values = tr.per_prompt(measure, setting)
            assert len(values) == len(hot_texts.PROMPTS)
            assert intervals[setting.label][name] == bootstrap(values)
    none, _, min_p_ = hot_texts.SETTINGS
    difference = tr.paired_difference(tr.whole_words, min_p_, none)
    assert difference.n == len(hot_texts.PROMPTS)
    words = {label: row["whole-token words"].estimate for label, row in intervals.items()}
    assert difference.estimate == pytest.approx(words[min_p_.label] - words[none.label])


def test_the_samples_shown_are_the_first_of_each_setting(lm):
    table = tr.samples_table(shown=2).split("\n")
    assert len(table) == 2 + 2 * len(hot_texts.SETTINGS)
    first = next(t for t in hot_texts.texts() if t.setting == hot_texts.SETTINGS[0])
    row = [hot_texts.SETTINGS[0].label, "1", tr.table_cell(first.text)]
    assert table[2] == markdown_table(["setting", "sample", "first words"], [row]).split("\n")[2]


def test_human_units_are_as_long_as_the_generated_texts(lm):
    units = tr.human_units(lm.tokenizer)
    assert len(units) >= 2 and all(len(unit) == hot_texts.SAMPLES for unit in units)
    assert all(len(piece.token_ids) == hot_texts.NEW_TOKENS for unit in units for piece in unit)
    row = tr.human_row()
    assert row[0] == f"human text ({len(units)} units)" and row[-1] == "—"
    assert len(row) == 1 + len(tr.MEASURES)


@pytest.mark.claim
def test_at_high_temperature_min_p_keeps_the_words_whole(lm):
    """What the page says of the whole texts, against human text as the control."""
    none, top_p, min_p_ = hot_texts.SETTINGS
    intervals = tr.hot_intervals()
    words = {s: intervals[s.label]["whole-token words"] for s in hot_texts.SETTINGS}
    human = bootstrap([tr.whole_words(unit) for unit in tr.human_units(lm.tokenizer)])
    assert words[min_p_].low > 0.95 and human.low > 0.9  # almost every word whole
    for setting in (none, top_p):  # "a fifth or so" of the words are not
        assert 0.1 < 1 - words[setting].estimate < 0.3, setting.label
    for other in (none, top_p):
        assert tr.paired_difference(tr.whole_words, min_p_, other).low > 0.05, other.label
    for setting in hot_texts.SETTINGS:  # nothing loops
        assert intervals[setting.label]["repeated 4-grams"].high < 0.02, setting.label
    distinct = {s: intervals[s.label]["distinct-2"].estimate for s in hot_texts.SETTINGS}
    human_distinct = bootstrap([tr.distinct_2(unit) for unit in tr.human_units(lm.tokenizer)])
    assert distinct[none] > distinct[min_p_] > human_distinct.estimate  # min-p between the two


def test_no_curve_of_the_tail_figure_hides_another(lm):
    """Curves that coincide over most of the range (top-k 50 and min-p 0.1 both sit on zero)
    must still be told apart there: by their width or their markers."""
    fig = tr.tail_mass_figure()
    lines = [line for line in fig.axes[0].get_lines() if line.get_label() in tr.STYLES]
    assert len(lines) == len(tr.STYLES)
    for i, a in enumerate(lines):
        for b in lines[i + 1 :]:
            same = sum(ya == yb for ya, yb in zip(a.get_ydata(), b.get_ydata()))
            if same > len(tr.GRID) / 2:
                looks = [(line.get_linewidth(), line.get_marker()) for line in (a, b)]
                assert looks[0] != looks[1], (a.get_label(), b.get_label())
