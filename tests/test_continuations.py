"""The batched experiment: its greedy rows, its recorded probabilities, and the measures."""

import math

import pytest
import torch

from snippets import continuations as c
from snippets.distributions import log_probs
from snippets.next_token import next_token_logits, plain_sampling
from snippets.sampling import GREEDY, Samplers, warp


def rows(prompt=None, setting=None):
    return [
        r
        for r in c.experiment()
        if (prompt is None or r.prompt == prompt) and (setting is None or r.setting == setting)
    ]


def test_the_batch_has_every_row_it_promises(lm):
    everything = c.experiment()
    ladder = 1 + len(c.TEMPERATURES) * c.REPLICATES
    assert len(everything) == len(c.PROMPTS) * ladder + len(c.TRUNCATIONS) * c.REPLICATES
    for r in everything:
        assert 0 < len(r.token_ids) <= c.NEW_TOKENS
        assert len(r.log_probs) == len(r.token_ids)
        assert lm.tokenizer.eos_token_id not in r.token_ids
        assert r.replicate == 0 or not r.setting.greedy  # greedy ignores the seed: one row
    assert {r.replicate for r in everything} == set(range(c.REPLICATES))


@pytest.mark.claim
def test_some_rows_end_early(lm):
    assert any(len(r.token_ids) < c.NEW_TOKENS for r in c.experiment())


def test_each_row_is_warped_by_its_own_setting_as_sampling_py_warps_it(lm):
    """transformers' warpers in the processor remove exactly what snippets/sampling.py removes."""
    settings = [GREEDY, Samplers(0.5), *c.TRUNCATIONS, Samplers(2.0, top_k=5)]
    scores = torch.stack([next_token_logits(p, lm) for p in (c.STORY, c.LANGUAGE, c.HISTORY)])
    scores = scores[torch.arange(len(settings)) % len(scores)]
    processor = c.PerRowSampling(settings)
    warped = processor(torch.zeros((len(settings), 1), dtype=torch.long), scores.clone())
    for row, setting, ours in zip(scores, settings, warped):
        theirs = warp(row, setting)
        assert torch.equal(torch.isinf(ours), torch.isinf(theirs)), setting.label
        assert torch.equal(ours[torch.isfinite(ours)], theirs[torch.isfinite(theirs)]), setting.label
    assert torch.equal(processor._previous, torch.log_softmax(scores, dim=-1))


def test_greedy_rows_are_transformers_greedy(lm):
    """The processor's greedy rows equal generate(do_sample=False) on the same padded batch."""
    batch = lm.tokenizer(list(c.PROMPTS), return_tensors="pt", padding=True, padding_side="left")
    length = c.NEW_TOKENS // 2  # half the rows' length keeps the test quick; every step is alike
    with torch.no_grad():
        out = lm.model.generate(**batch, max_new_tokens=length, **plain_sampling(None, lm.tokenizer))
    for prompt, new in zip(c.PROMPTS, out[:, batch.input_ids.shape[1] :]):
        (greedy,) = rows(prompt, GREEDY)
        assert list(greedy.token_ids[:length]) == new.tolist()


def test_recorded_log_probs_are_the_untouched_models(lm):
    """What the processor records one step late equals scoring the finished text afresh."""
    for r in (rows(c.STORY, GREEDY)[0], rows(c.STORY, Samplers(1.5))[0]):
        text_ids = list(r.token_ids)
        prompt_ids = lm.tokenizer(r.prompt).input_ids
        with torch.no_grad():
            logits = lm.model(torch.tensor([prompt_ids + text_ids])).logits[0, len(prompt_ids) - 1 : -1]
        fresh = torch.log_softmax(logits, dim=-1).gather(1, torch.tensor(text_ids)[:, None])[:, 0]
        assert torch.allclose(torch.tensor(r.log_probs), fresh, atol=2e-3)
    # and the decoded text scores the same through the page's own scorer
    greedy = rows(c.STORY, GREEDY)[0]
    rescored = log_probs(greedy.prompt, greedy.text)
    assert sum(rescored) == pytest.approx(sum(greedy.log_probs), rel=0.02)


def test_rows_follow_their_own_settings(lm):
    """A truncated row only ever drew tokens its cut allowed; greedy rows always the argmax."""
    for r in rows(c.STORY, c.TRUNCATIONS[1]):  # min-p 0.1: every token >= 0.1 x the top one
        prompt_ids = lm.tokenizer(r.prompt).input_ids
        with torch.no_grad():
            logits = lm.model(torch.tensor([prompt_ids + list(r.token_ids)])).logits[
                0, len(prompt_ids) - 1 : -1
            ]
        p = torch.softmax(logits / c.HOT, dim=-1)
        drawn = p.gather(1, torch.tensor(r.token_ids)[:, None])[:, 0]
        assert bool((drawn >= 0.1 * p.max(dim=-1).values * 0.999).all())


def test_the_experiment_names_its_prompts():
    assert list(c.NAMES) == list(c.PROMPTS)
    assert [s.label for s in c.TRUNCATIONS] == ["T = 1.5, top-p 0.9", "T = 1.5, min-p 0.1"]


def test_measures_on_hand_made_texts():
    looping = [1, 2, 3, 4, 1, 2, 3, 4, 1, 2]
    assert c.repeated_starts(looping) == [4, 5, 6]
    assert c.repeated_ngram_share(looping) == pytest.approx(3 / 7)
    assert c.repeated_positions(looping) == [4, 5, 6, 7, 8, 9]
    assert c.repeated_ngram_share([1, 2, 3, 4, 5]) == 0
    assert c.distinct_ngrams([[1, 2, 3], [1, 2, 3]]) == 0.5
    assert c.distinct_ngrams([[1, 2, 3], [4, 5, 6]]) == 1.0
    by = c.probability_by_repeat(looping, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0])
    assert by == {0: pytest.approx((0.4 + 0.5 + 0.6 + 0.7) / 4), 1: pytest.approx((0.8 + 0.9 + 1.0) / 3)}


def test_mean_log_prob():
    r = c.Continuation("x", GREEDY, 0, (1, 2), "ab", (math.log(0.5), math.log(0.25)))
    assert r.mean_log_prob == pytest.approx((math.log(0.5) + math.log(0.25)) / 2)
