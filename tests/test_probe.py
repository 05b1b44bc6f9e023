import numpy as np
import pytest

from conftest import twice_as_two_processes
from other_models import tiny_lm
from snippets import probe as pr
from snippets import stories
from snippets.state_simulators import measure_stories
from state_simulators.cache import CACHE_ENV


def test_labels_name_the_valid_and_the_other_value():
    items = stories.items()[:2]
    valid, other = pr.labels(items)
    assert valid.shape == other.shape == (2, len(stories.CONDITIONS))
    j = [c.name for c in stories.CONDITIONS].index("corrected")
    assert (valid[0, j], other[0, j]) == (items[0].second, items[0].first)
    assert (valid[0, 0], other[0, 0]) == (items[0].first, items[0].second)
    assert set(pr.AGREE) | set(pr.AGAINST) == set(range(len(stories.CONDITIONS)))


def test_a_probe_reads_a_linear_code_and_not_shuffled_labels():
    rng = np.random.default_rng(1)
    values = np.array(["a", "b", "c", "d"])
    valid = np.repeat(values, 40)
    other = np.roll(valid, 40)
    codes = rng.normal(size=(4, 16))
    features = codes[np.repeat(np.arange(4), 40)] + 0.3 * rng.normal(size=(160, 16))
    folds = np.tile(np.arange(4), 40)
    assert pr.probe_scores(features, valid, other, folds).mean() == 1.0
    shuffled = pr.probe_scores(features, valid, other, folds, seed=0).mean()
    assert 0.2 < shuffled < 0.8


def test_the_figure_and_facts_show_what_the_probe_found(lm, monkeypatch):
    items = stories.items()[:8]  # one kind: its four pairs, both orders (four folds)
    found = measure_stories(items, tiny_lm("llama", lm.tokenizer))
    result = pr.run_probe(items, found)
    depth = found.states.shape[0] - 1
    assert result.states == list(range(depth + 1))  # every state, embeddings to output
    assert result.right.shape == (len(result.states), 8, len(stories.CONDITIONS))
    assert result.model.shape == (8, len(stories.CONDITIONS))
    monkeypatch.setattr(pr, "probe", lambda: result)
    lines = pr.probe_figure().axes[0].lines
    assert list(lines[0].get_xdata()) == result.states
    heights = [pr.accuracy(r, pr.AGREE).estimate for r in result.right]
    assert list(lines[0].get_ydata()) == pytest.approx(heights)
    facts = pr.probe_facts()
    assert facts["items"] == "8" and facts["rows"] == str(8 * len(stories.CONDITIONS))
    assert int(facts["against_best_layer"]) in result.states


def test_the_page_probe_reads_every_story_once_then_from_disk(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    fits = []
    result = pr.ProbeResult(
        states=[0, 2],
        right=np.ones((2, 3, 4), dtype=bool),
        shuffled=np.zeros((2, 3, 4), dtype=bool),
        model=np.ones((3, 4), dtype=bool),
    )
    monkeypatch.setattr(pr, "readings", lambda: "the cached readings")
    monkeypatch.setattr(
        pr, "run_probe", lambda items, readings: fits.append((len(items), readings)) or result
    )
    first, again = twice_as_two_processes(pr.probe)
    assert fits == [(len(stories.items()), "the cached readings")]  # fitted once
    assert first.states == again.states == [0, 2] and again.right.all() and not again.shuffled.any()
    assert list(tmp_path.glob("probe/results.*.npz"))


@pytest.mark.claim
def test_the_probe_reads_first_or_last_mentions_and_never_the_valid_value_beyond_them():
    found = pr.probe()
    assert found.right.shape[1] == len(stories.items())
    for state, right in zip(found.states, found.right):
        against, second = pr.accuracy(right, pr.AGAINST), pr.accuracy(right, pr.SECOND)
        assert not (against.low > 0.5 and second.low > 0.5), state  # "a negative result"
    best = max(range(len(found.states)), key=lambda s: pr.accuracy(found.right[s], pr.AGAINST).estimate)
    assert pr.accuracy(found.right[best], pr.AGAINST).low > 0.5  # it reads the first value there…
    assert pr.accuracy(found.right[best], pr.SECOND).low < 0.5  # …not the valid one
    last_against, last_second = (pr.accuracy(found.right[-1], c) for c in (pr.AGAINST, pr.SECOND))
    assert last_second.low > 0.5 and last_against.low < 0.5 < last_against.high  # the most recent
    shuffled = pr.accuracy(found.shuffled[-1], pr.AGREE + pr.AGAINST)
    assert shuffled.low < 0.5 < shuffled.high  # the control knows nothing
