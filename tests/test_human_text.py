"""Greedy, sampled and human continuations of the same prompts (docs/distributions.md)."""

import math

import numpy as np
import pytest

from snippets import continuations as c
from snippets import human_text as h
from snippets.distributions import mean, starts_word
from snippets.intervals import bootstrap


def test_book_prompts_cut_where_the_tokenizer_cuts(lm):
    pairs = h.prompts(lm)
    assert next(iter(pairs)) == "Red-Cap" and len(pairs) == 1 + h.BOOK_PROMPTS
    for prompt, human in pairs.values():
        alone = lm.tokenizer(prompt).input_ids + lm.tokenizer(human).input_ids
        assert alone == lm.tokenizer(prompt + human).input_ids
        assert starts_word(prompt, human)
        assert len(lm.tokenizer(human).input_ids) <= h.NEW_TOKENS + 2
    assert len(set(pairs.values())) == len(pairs)


def test_a_cut_inside_a_word_is_refused(lm):
    ids = lm.tokenizer(" remarking as it went, one side will make you grow taller").input_ids
    pieces = [lm.tokenizer.decode([i]) for i in ids]
    inside = next(i for i in range(1, len(ids)) if not starts_word(pieces[i - 1], pieces[i]))
    assert h.split_on_boundary(ids, lm.tokenizer, inside) is None
    assert h.split_on_boundary(ids, lm.tokenizer, len(ids) - 3) is not None


def test_a_continuation_ends_with_the_end_of_text_token(lm):
    end = lm.tokenizer.eos_token_id
    assert h.until_end([5, end, end], [-1.0, -2.0, -0.1], lm) == [-1.0, -2.0]
    assert h.until_end([5, 6], [-1.0, -2.0], lm) == [-1.0, -2.0]


def test_low_share_counts_surprising_tokens():
    assert h.low_share([math.log(0.01), math.log(0.5), math.log(0.04), 0.0]) == 0.5


def test_scoring_gives_one_greedy_and_every_sample(lm, monkeypatch):
    monkeypatch.setattr(h, "SAMPLES", 3)
    monkeypatch.setattr(h, "NEW_TOKENS", 5)
    rows = h.score({"a": ("The cat", " sat on the mat"), "b": ("Once upon", " a time")}, lm)
    assert [r.name for r in rows] == ["a", "b"]
    for row in rows:
        assert len(row.samples) == 3 and all(0 < len(s) <= 5 for s in row.samples)
        assert 0 < len(row.greedy) <= 5 and all(v <= 0 for v in row.greedy)
    greedy_alone = c.continue_batch([("The cat", h.GREEDY)], 5, lm=lm)[0][1]
    assert list(rows[0].greedy) == pytest.approx(greedy_alone[: len(rows[0].greedy)], abs=1e-3)
    assert rows[1].human == pytest.approx(h.log_probs("Once upon", " a time", lm))


@pytest.mark.claim
def test_greedy_is_far_more_probable_than_human_text_and_samples(lm):
    rows = h.scored()
    assert len(rows) >= 5 and all(len(r.samples) >= 20 for r in rows)
    for row in rows:
        assert mean(row.greedy) > max(mean(s) for s in row.samples), row.name
    lp = h.per_prompt(mean)
    assert bootstrap(np.subtract(lp["greedy"], lp["human"])).low > 0.5


@pytest.mark.claim
def test_human_text_scores_like_a_sample(lm):
    lp, low = h.per_prompt(mean), h.per_prompt(h.low_share)
    gap = bootstrap(np.subtract(lp["samples"], lp["human"]))
    assert gap.low < 0 < gap.high  # no difference that the prompts can show
    assert bootstrap(lp["below_human"]).low < 0.5 < bootstrap(lp["below_human"]).high
    assert min(low["human"]) > 0.2 > max(low["greedy"])  # human text keeps surprising it


def test_the_figure_draws_the_measured_numbers(lm):
    fig = h.greedy_versus_human_figure()
    rows = h.scored()
    for ax, measure in zip(fig.axes, h.MEASURES.values()):
        greedy, human = ax.collections[:2]
        assert list(greedy.get_offsets()[:, 1]) == pytest.approx([measure(r.greedy) for r in rows])
        assert list(human.get_offsets()[:, 1]) == pytest.approx([measure(r.human) for r in rows])
        medians = [line.get_ydata()[0] for line in ax.lines if line.get_color() == h.PALETTE[0]]
        expected = [np.median([measure(s) for s in r.samples]) for r in rows]
        assert medians == pytest.approx(expected)
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == [r.name for r in rows]


def test_facts_quote_the_measurements(lm):
    f = h.human_text_facts()
    lp = h.per_prompt(mean)
    assert f["greedy_minus_human"] == bootstrap(np.subtract(lp["greedy"], lp["human"])).format()
    assert f["prompts"] == str(len(h.scored())) and f["samples"] == str(h.SAMPLES)
    assert f["greedy_text"].startswith(c.STORY)
    assert all(len(line) <= 76 for line in f["greedy_text"].split("\n"))
    assert all(line.startswith("    ") for line in f["sample_text"].split("\n")[1:])
    greedy = next(r for r in c.experiment() if r.prompt == c.STORY and r.setting == h.GREEDY)
    assert c.repeated_ngram_share(list(greedy.token_ids)) > 0.1  # greedy goes round in circles
