import functools
import json
import math

import numpy as np
import pytest
import torch

from snippets import best_temperature, corpus
from snippets import typicality as ty
from snippets.plotting import to_svg


@functools.cache
def prompts(tokenizer) -> torch.Tensor:
    return corpus.windows(tokenizer, "held_out", length=24)[:2, :16]


def test_surprisal_and_entropy_of_a_uniform_and_a_sure_distribution():
    uniform = torch.zeros(2, 8)
    surprisal, entropy = ty.surprisal_and_entropy(uniform, torch.tensor([0, 5]))
    np.testing.assert_allclose(surprisal, [math.log(8)] * 2, rtol=1e-6)
    np.testing.assert_allclose(entropy, [math.log(8)] * 2, rtol=1e-6)
    sure = torch.tensor([[30.0, 0.0, 0.0]])
    surprisal, entropy = ty.surprisal_and_entropy(sure, torch.tensor([0]))
    assert float(surprisal) < 1e-9 and float(entropy) < 1e-9
    surprisal, _ = ty.surprisal_and_entropy(sure, torch.tensor([1]))
    assert float(surprisal) == pytest.approx(30.0, abs=1e-4)


def test_decoding_scores_from_generates_raw_logits_agree_with_a_forward_pass(lm):
    ids = prompts(lm.tokenizer)
    rows = ty.decode(ids, None, lm, new_tokens=6)
    with torch.no_grad():
        reference = lm.model.generate(
            ids, attention_mask=torch.ones_like(ids), max_new_tokens=6, do_sample=False
        )
    for (new, surprisal, entropy), full in zip(rows, reference, strict=True):
        assert new.tolist() == full[ids.shape[1] :].tolist()  # transformers' greedy text
        with torch.no_grad():
            logits = lm.model(full[None]).logits[0, ids.shape[1] - 1 : -1]
        expected = ty.surprisal_and_entropy(logits, full[ids.shape[1] :])
        np.testing.assert_allclose(surprisal, expected[0], atol=2e-3)
        np.testing.assert_allclose(entropy, expected[1], atol=2e-3)
        assert torch.all(surprisal <= entropy + 1e-5)  # −ln p_max ≤ E[−ln p], always
        top = torch.log_softmax(logits, -1).max(-1).values
        np.testing.assert_allclose(-surprisal, top, atol=2e-3)


def test_sampling_is_seeded(lm):
    ids = prompts(lm.tokenizer)
    first = ty.decode(ids, 1.0, lm, new_tokens=5, seed=3)
    again = ty.decode(ids, 1.0, lm, new_tokens=5, seed=3)
    assert [r[0].tolist() for r in first] == [r[0].tolist() for r in again]


def test_beam_search_is_scored_like_transformers_transition_scores(lm):
    ids = prompts(lm.tokenizer)[:1]
    rows = ty.beam_search(ids, 3, lm, new_tokens=6)
    with torch.no_grad():
        out = lm.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=6,
            num_beams=3,
            do_sample=False,
            output_scores=True,
            return_dict_in_generate=True,
        )
    steps = lm.model.compute_transition_scores(out.sequences, out.scores, out.beam_indices)
    new, surprisal, _ = rows[0]
    assert new.tolist() == out.sequences[0, ids.shape[1] :].tolist()
    assert -float(surprisal.sum()) == pytest.approx(float(steps[0].sum()), abs=1e-2)


def test_a_continuation_stops_before_its_end_of_text_token():
    ids = torch.tensor([5, 6, 2, 7])
    values = torch.tensor([1.0, 2.0, 3.0, 4.0])
    cut = ty.until_end("greedy", 0, ids, values, values / 2, eos=2)
    assert cut.token_ids == (5, 6) and cut.surprisal == (1.0, 2.0) and cut.entropy == (0.5, 1.0)
    assert ty.until_end("greedy", 0, ids, values, values, eos=9).token_ids == (5, 6, 2, 7)
    assert cut.log_prob == -3.0 and cut.gap == pytest.approx(1.5 - 0.75)


def test_run_continues_every_prompt_and_reads_the_human_text_from_the_scores(lm):
    windows = corpus.windows(lm.tokenizer, "held_out", length=24)[:3]
    scores = best_temperature.score_windows(windows, (1.0,), lm)
    found = ty.run(windows, scores, lm, prompt=16, new=6)
    count = {s: sum(c.source == s for c in found) for s in ty.SOURCES}
    assert count == {ty.GREEDY: 2, ty.SAMPLED: 2 * ty.SAMPLES, ty.HUMAN: 2, ty.BEAM: 2}
    people = [c for c in found if c.source == ty.HUMAN]
    assert [c.prompt for c in people] == [0, 2]
    assert people[1].token_ids == tuple(windows[2, 16:22].tolist())
    with torch.no_grad():  # the human text's scores: the same forward pass, read at 15..20
        logits = lm.model(windows[2:3]).logits[0, 15:21]
    expected, _ = ty.surprisal_and_entropy(logits, windows[2, 16:22])
    np.testing.assert_allclose(people[1].surprisal, expected, atol=1e-4)
    assert all(len(c.token_ids) <= 6 for c in found)


def synthetic() -> tuple[ty.Continuation, ...]:
    def make(source, prompt, ids, surprisal, entropy=1.0):
        return ty.Continuation(source, prompt, ids, (surprisal,) * len(ids), (entropy,) * len(ids))

    return (
        make(ty.GREEDY, 0, (1, 2, 1, 2, 1, 2, 1), 0.2),  # the most likely on prompt 0
        make(ty.GREEDY, 2, (1, 2, 3, 4, 5), 2.0),  # not on prompt 2
        make(ty.SAMPLED, 0, (3, 4, 5, 6, 7), 1.0),
        make(ty.SAMPLED, 0, (3, 4, 5, 6, 8), 1.4),
        make(ty.SAMPLED, 2, (3, 4, 5, 6, 7), 1.0),
        make(ty.SAMPLED, 2, (3, 4, 5, 6, 7), 0.6),
        make(ty.HUMAN, 0, (9, 8, 7, 6, 5), 1.1),
        make(ty.HUMAN, 2, (9, 8, 7, 6, 5), 1.1),
        make(ty.BEAM, 0, (1, 1, 1, 1, 1, 1, 1), 0.1),
    )


def test_the_comparisons_take_the_prompt_as_the_unit(monkeypatch):
    monkeypatch.setattr(ty, "experiment", synthetic)
    assert ty.per_prompt(ty.SAMPLED, "gap") == pytest.approx([0.2, -0.2])
    assert ty.per_prompt(ty.GREEDY, "repeats") == pytest.approx([0.5, 0.0])
    assert ty.interval(ty.HUMAN, "gap").estimate == pytest.approx(0.1)
    assert ty.per_prompt(ty.SAMPLED, "gap", prompts=[2]) == pytest.approx([-0.2])
    assert ty.most_likely_count() == 1
    assert ty.beam_prompts() == [0]
    assert ty.beam_gains() == pytest.approx([-0.7 + 1.4])


def test_the_continuations_are_generated_once_then_read_from_the_cache(monkeypatch, tmp_path):
    path = tmp_path / "continuations.json"
    monkeypatch.setattr(ty.keys, "step_path", lambda *args, **kwargs: path)
    monkeypatch.setattr(ty, "load", lambda: type("LM", (), {"tokenizer": None})())
    monkeypatch.setattr(ty.corpus, "windows", lambda tokenizer, part: None)
    monkeypatch.setattr(ty, "held_out_scores", lambda: None)
    monkeypatch.setattr(ty, "run", lambda windows, scores, lm: list(synthetic()))
    assert ty.experiment.__wrapped__() == synthetic()
    assert len(json.loads(path.read_text())) == len(synthetic())
    monkeypatch.setattr(ty, "run", lambda *args: pytest.fail("the cache was not used"))
    assert ty.experiment.__wrapped__() == synthetic()


@pytest.mark.claim
def test_greedy_text_is_atypical_and_beam_search_finds_likelier_loops():
    greedy, sampled = ty.interval(ty.GREEDY, "gap"), ty.interval(ty.SAMPLED, "gap")
    human = ty.interval(ty.HUMAN, "gap")
    assert greedy.n == 13 and greedy.high < -0.5  # far below the entropy
    assert sampled.low < 0 < sampled.high  # the control: T = 1 samples are typical
    assert human.low > greedy.high
    assert ty.most_likely_count() == greedy.n  # and yet it is the likeliest text, every time
    assert all(gain > 0 for gain in ty.beam_gains())
    prompts = ty.beam_prompts()
    beam = np.mean(ty.per_prompt(ty.BEAM, "repeats", prompts))
    assert beam > np.mean(ty.per_prompt(ty.GREEDY, "repeats", prompts))
    facts = ty.typicality_facts()
    assert facts["prompts"] == "13" and facts["greedy_gap"] == greedy.format()
    assert b"<svg" in to_svg(ty.typicality_figure())
