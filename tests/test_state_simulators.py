import math

import numpy as np
import pytest
import torch

from conftest import twice_as_two_processes
from other_models import TINY, tiny_lm
from snippets import patching, stories
from snippets import state_simulators as ss
from snippets.next_token import next_token_logits
from state_simulators.cache import CACHE_ENV

EXAMPLE = ss.EXAMPLE.prompt(stories.BY_NAME["corrected"])


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, lm):
    return tiny_lm(request.param, lm.tokenizer)


def check_batched_scorer(lm):
    prompts = [ss.EXAMPLE.prompt(stories.CONDITIONS[0]), EXAMPLE]
    batched = ss.next_token_logprobs([lm.tokenizer(p).input_ids for p in prompts], lm)
    assert batched.shape == (len(prompts), lm.model.get_output_embeddings().out_features)
    for row, prompt in zip(batched, prompts):
        alone = torch.log_softmax(next_token_logits(prompt, lm), dim=-1)
        assert torch.allclose(row, alone, atol=1e-4)


def test_the_batched_scorer_equals_one_prompt_at_a_time(lm):
    check_batched_scorer(lm)


def test_the_batched_scorer_holds_for_gpt2_style_and_untied_models(tiny):
    check_batched_scorer(tiny)


def test_final_position_states_are_each_texts_own_stream(tiny):
    texts = [tiny.tokenizer(p).input_ids for p in (EXAMPLE, "The meeting is on")]
    states, logprobs = ss.final_position_states(texts, tiny)
    depth = tiny.model.config.num_hidden_layers
    assert states.shape[:2] == (depth + 1, 2)
    for row, ids in enumerate(texts):
        alone = patching.residual_streams(ids, tiny)[:, -1]
        assert torch.allclose(states[:, row], alone, atol=1e-4)
    assert torch.allclose(logprobs, ss.next_token_logprobs(texts, tiny), atol=1e-5)


def test_every_deletion_is_scored_against_the_whole_prompt(tiny):
    found = ss.token_influence(EXAMPLE, tiny)
    ids = tiny.tokenizer(EXAMPLE).input_ids
    assert [t for t, _ in found] == [tiny.tokenizer.decode([i]) for i in ids]
    assert all(kl >= -1e-6 for _, kl in found)  # a KL divergence is never negative


def test_kl_divergence():
    p = torch.log(torch.tensor([0.5, 0.5]))
    q = torch.log(torch.tensor([0.9, 0.1]))
    assert float(ss.kl_divergence(p, p)) == pytest.approx(0.0, abs=1e-7)
    expected = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert float(ss.kl_divergence(p, q)) == pytest.approx(expected)
    assert ss.kl_divergence(p, torch.stack([p, q])).shape == (2,)


def test_measured_stories_read_the_values_probabilities(tiny):
    items = stories.items()[:3]
    found = ss.measure_stories(items, tiny)
    shape = (3, len(stories.CONDITIONS))
    assert found.p_first.shape == found.p_second.shape == found.top.shape == shape
    logprobs = ss.next_token_logprobs(
        [tiny.tokenizer(items[1].prompt(stories.CONDITIONS[2])).input_ids], tiny
    )
    assert found.p_first[1, 2] == pytest.approx(
        float(logprobs[0, ss.token_id(items[1].first, tiny)].exp()), rel=1e-4
    )
    assert found.p_second[1, 2] == pytest.approx(
        float(logprobs[0, ss.token_id(items[1].second, tiny)].exp()), rel=1e-4
    )


def test_the_summary_takes_the_valid_value_per_condition():
    n, c = 4, len(stories.CONDITIONS)
    first = np.tile(np.linspace(0.5, 0.8, n)[:, None], (1, c))
    found = ss.Readings(first, np.full((n, c), 0.1), np.full((n, c), " x"), np.zeros((1, n, c, 1)))
    for result in ss.summarise(found):
        if result.condition.valid == "X":
            assert result.p_valid.estimate == pytest.approx(0.65) and result.valid_wins.estimate == 1
        else:
            assert result.p_valid.estimate == pytest.approx(0.1) and result.valid_wins.estimate == 0
    assert not ss.recency_agrees(stories.BY_NAME["negated"])
    assert ss.recency_agrees(stories.BY_NAME["corrected"])


def test_figures_and_facts_draw_the_measured_numbers():
    found = ss.results()
    fig = ss.corrections_figure()
    points = fig.axes[0].lines[0].get_xdata()
    assert list(points) == pytest.approx([r.p_valid.estimate for r in found])
    heights = [bar.get_height() for bar in ss.token_influence_figure().axes[0].patches]
    assert heights == pytest.approx([kl for _, kl in ss.influence()])
    facts = ss.state_facts()
    assert facts["items"] == str(len(stories.items()))
    assert facts["corrected_prompt"] == EXAMPLE
    assert len(facts["table"].splitlines()) == len(stories.CONDITIONS) + 2
    assert facts["negated_wins"] == found[
        [c.name for c in stories.CONDITIONS].index("negated")
    ].valid_wins.format(digits=0, scale=100, unit=" %")


@pytest.mark.claim
def test_the_model_follows_corrections_but_not_only_the_story():
    found = {r.condition.name: r for r in ss.results()}
    for name in ("stated", "neutral sentence", "corrected", "corrected, then neutral", "negated"):
        assert found[name].valid_wins.low > 0.5, name  # the valid value wins in most items
    for name in ("mentioned, not a correction", "correction retracted"):
        assert found[name].valid_wins.estimate < 0.5, name  # recency wins: a failed control
    assert found["corrected"].p_other.low > found["stated"].p_other.high  # it hedges


def test_the_readings_are_measured_once_then_read_from_disk(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    made = []
    fake = ss.Readings(
        p_first=np.full((2, 3), 0.25),
        p_second=np.full((2, 3), 0.5),
        top=np.array([["a", "b", "c"], ["d", "e", "f"]]),
        states=np.zeros((2, 2, 3, 4), dtype=np.float32),
    )
    monkeypatch.setattr(ss, "load", lambda: None)
    monkeypatch.setattr(ss, "measure_stories", lambda items, lm: made.append(1) or fake)
    first, again = twice_as_two_processes(ss.readings)
    assert made == [1] and list(tmp_path.glob("state-simulators/story-readings.*.npz"))
    assert np.array_equal(first.top, fake.top) and np.array_equal(again.p_second, fake.p_second)
