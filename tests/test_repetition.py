"""Self-reinforcement of repetition (docs/distributions.md), measured with a control."""

import numpy as np
import pytest

from snippets import repetition as r
from snippets.intervals import bootstrap


def test_one_forward_gives_every_copy_as_separate_forwards_would(lm):
    """Each position sees only what precedes it: the k-th copy read from the longest text
    is the k-th copy of a text that stops after it."""
    lead = lm.tokenizer(r.LEAD).input_ids
    copy = r.sentence_ids("The cat sat on the mat.", lm.tokenizer)
    longest = r.copy_probabilities(copy, lead, 4, lm)
    assert longest.shape == (5, len(copy))
    assert ((longest > 0) & (longest <= 1)).all()
    for k in range(3):
        shorter = r.copy_probabilities(copy, lead, k, lm)
        assert shorter == pytest.approx(longest[: k + 1], rel=1e-4, abs=1e-7)


def test_random_sentences_are_seeded_words_of_the_same_length(lm):
    tokenizer = lm.tokenizer
    words = r.word_tokens(tokenizer)
    assert len(words) > 1000
    assert all(r.WORD_TOKEN.fullmatch(tokenizer.decode([i])) for i in words[:200])
    sets = r.sentence_sets(lm)
    assert [len(s) for s in sets["natural"]] == [len(s) for s in sets["random words"]]
    assert r.sentence_sets(lm) == sets  # seeded
    for ids in sets["random words"]:
        assert set(ids[:-1]) <= set(words) and ids[-1:] == tokenizer(".").input_ids
        assert tokenizer(tokenizer.decode(ids)).input_ids == ids  # the tokenizer writes it so
    first = r.random_sentence(6, tokenizer, np.random.default_rng(1))
    assert first == r.random_sentence(6, tokenizer, np.random.default_rng(1)) and len(first) == 6


def test_the_measures_read_the_right_axis():
    one = np.array([[0.1, 0.5], [0.9, 1.0]])  # copies x tokens
    assert r.token_probability([one]).tolist() == [[0.3, 0.95]]
    assert r.first_token([one]).tolist() == [[0.1, 0.9]]
    assert r.whole_copy([one]) == pytest.approx(np.array([[0.05, 0.9]]))


@pytest.mark.claim
def test_repetition_reinforces_itself_beyond_copying(lm):
    """Xu et al. (2022): TP keeps rising after the first copy, for natural and random
    sentences alike (the interval over sentences excludes 0), and natural ones end higher."""
    tp = {kind: r.token_probability(p) for kind, p in r.measured().items()}
    for kind, values in tp.items():
        means = values.mean(axis=0)
        assert means[0] < means[1] < means[-1], kind
        assert bootstrap(values[:, -1] - values[:, 1]).low > 0.1, kind
        first = r.first_token(r.measured()[kind])
        assert bootstrap(first[:, -1] - first[:, 1]).low > 0, kind
    assert tp["random words"][:, 0].mean() < tp["natural"][:, 0].mean() / 10
    assert tp["random words"][:, -1].mean() < tp["natural"][:, -1].mean()


def test_the_figure_draws_the_measured_curves(lm):
    fig = r.self_reinforcement_figure()
    assert len(fig.axes) == len(r.PANELS)
    for ax, measure in zip(fig.axes, r.PANELS.values()):
        for line, per_sentence in zip(ax.lines[::3], r.measured().values()):
            assert list(line.get_ydata()) == pytest.approx(measure(per_sentence).mean(axis=0))


def test_facts_quote_the_measurements(lm):
    f = r.repetition_facts()
    tp = r.token_probability(r.measured()["natural"])
    assert f["natural_tp_last"] == bootstrap(tp[:, -1]).format()
    assert f["sentences"] == str(len(r.SENTENCES)) and f["copies"] == str(r.COPIES)
    assert f["example"] == r.SENTENCES[0] and "95 % CI" in f["random_rise"]
    low, high = map(int, f["tokens"].split("–"))
    assert low <= len(r.sentence_ids(r.SENTENCES[0], lm.tokenizer)) <= high
