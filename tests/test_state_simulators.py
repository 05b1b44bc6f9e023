import math
import statistics

import pytest
import torch
from matplotlib.collections import PathCollection

from other_models import TINY, tiny_lm
from snippets import state_simulators as ss
from snippets.next_token import next_token_logits


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, lm):
    return tiny_lm(request.param, lm.tokenizer)


def check_batched_scorer(lm):
    prompts = [ss.SCENARIOS[0].prompts()["as stated"], ss.SCENARIOS[0].prompts()["corrected late"]]
    batched = ss.next_token_logprobs([lm.tokenizer(p).input_ids for p in prompts], lm)
    assert batched.shape == (len(prompts), lm.model.get_output_embeddings().out_features)
    for row, prompt in zip(batched, prompts):
        alone = torch.log_softmax(next_token_logits(prompt, lm), dim=-1)
        assert torch.allclose(row, alone, atol=1e-4)


def test_the_batched_scorer_equals_one_prompt_at_a_time(lm):
    check_batched_scorer(lm)


def test_the_batched_scorer_holds_for_gpt2_style_and_untied_models(tiny):
    check_batched_scorer(tiny)


def test_every_deletion_is_scored_against_the_whole_prompt(tiny):
    prompt = ss.SCENARIOS[0].prompts()["as stated"]
    found = ss.token_influence(prompt, tiny)
    ids = tiny.tokenizer(prompt).input_ids
    assert [t for t, _ in found] == [tiny.tokenizer.decode([i]) for i in ids]
    assert all(kl >= -1e-6 for _, kl in found)  # a KL divergence is never negative
    compared = ss.compare(ss.SCENARIOS[0], tiny)
    assert list(compared) == list(ss.CONDITIONS)
    assert compared["as stated"]["kl"] == pytest.approx(0.0, abs=1e-5)


def test_kl_divergence():
    p = torch.log(torch.tensor([0.5, 0.5]))
    q = torch.log(torch.tensor([0.9, 0.1]))
    assert float(ss.kl_divergence(p, p)) == pytest.approx(0.0, abs=1e-7)
    expected = 0.5 * math.log(0.5 / 0.9) + 0.5 * math.log(0.5 / 0.1)
    assert float(ss.kl_divergence(p, q)) == pytest.approx(expected)
    assert ss.kl_divergence(p, torch.stack([p, q])).shape == (2,)


def test_the_four_versions_of_a_story():
    prompts = ss.SCENARIOS[0].prompts()
    assert list(prompts) == list(ss.CONDITIONS)
    assert prompts["changed early"].startswith("The meeting is on Friday.")
    assert "Actually, I was wrong: it is on Friday." in prompts["corrected late"]
    assert prompts["corrected late"].startswith("The meeting is on Monday.")


@pytest.mark.claim
def test_each_story_answers_with_the_fact_its_whole_text_implies():
    found = ss.comparisons()
    late_wins = 0
    for scenario, c in zip(ss.SCENARIOS, found):
        assert c["as stated"]["top"] == f" {scenario.stated}"
        assert c["as stated"]["kl"] == pytest.approx(0.0, abs=1e-5)
        assert c["neutral sentence added"]["top"] == f" {scenario.stated}"
        assert c["changed early"]["top"] == f" {scenario.corrected}"
        assert c["corrected late"]["kl"] > c["neutral sentence added"]["kl"]
        assert c["corrected late"]["p_corrected"] > c["as stated"]["p_corrected"]
        late_wins += c["corrected late"]["top"] == f" {scenario.corrected}"
    assert late_wins >= len(ss.SCENARIOS) - 1


@pytest.mark.claim
def test_an_irrelevant_sentence_often_makes_the_stated_answer_more_likely():
    found = ss.comparisons()
    sharper = sum(c["neutral sentence added"]["p_stated"] > c["as stated"]["p_stated"] for c in found)
    assert sharper > len(found) / 2


@pytest.mark.claim
def test_the_model_hedges_after_a_correction():
    after = ss.comparisons()[0]["corrected late"]
    assert after["p_corrected"] > after["p_stated"] > 0.05


def test_the_influence_chart_covers_every_token_of_the_corrected_story(lm):
    assert len(ss.influence()) == len(lm.tokenizer(ss.SCENARIOS[0].prompts()["corrected late"]).input_ids)


@pytest.mark.claim
def test_deleting_the_correction_matters_more_than_deleting_the_original_fact():
    influence = dict(ss.influence())
    assert influence[" Friday"] > 2 * influence[" Monday"]
    facts = ss.state_facts()
    assert float(facts["influence_corrected"]) > 2 * float(facts["influence_stated"])


def test_figures_draw_the_measured_numbers():
    found = ss.comparisons()
    fig = ss.corrections_figure()
    left, right = fig.axes
    points = left.collections[0].get_offsets()
    assert points[:, 0].tolist() == pytest.approx([c["as stated"]["p_stated"] for c in found])
    dots = [c for c in right.collections if isinstance(c, PathCollection)]
    assert len(dots) == len(ss.CONDITIONS) - 1  # no KL column for the reference
    assert dots[-1].get_offsets()[:, 1].tolist() == pytest.approx([c["corrected late"]["kl"] for c in found])
    fig = ss.token_influence_figure()
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert heights == pytest.approx([kl for _, kl in ss.influence()])


def test_state_facts_count_what_the_comparisons_show():
    facts = ss.state_facts()
    found = ss.comparisons()
    assert facts["late_prompt"] == ss.SCENARIOS[0].prompts()["corrected late"]
    assert facts["count"] == str(len(ss.SCENARIOS))
    late_failures = [f for f in facts["late_failures"].split(", ") if f]
    assert int(facts["late_wins"]) == len(ss.SCENARIOS) - len(late_failures)
    assert facts["kl_late"] == f"{statistics.median(c['corrected late']['kl'] for c in found):.2f}"
    table = facts["table"].splitlines()
    assert len(table) == len(ss.SCENARIOS) + 2  # header, rule, a row per story
    assert table[2].startswith(f"| {ss.SCENARIOS[0].stated} → {ss.SCENARIOS[0].corrected} | `")
    assert "stated_kl" not in facts  # the reference: always zero, never shown


@pytest.mark.claim
def test_state_facts_report_what_smollm2_answers():
    facts = ss.state_facts()
    assert facts["main_top_stated"] == facts["stated_top"] == "␣Monday"
    assert facts["late_top"] == facts["early_top"] == "␣Friday"
    assert float(facts["neutral_kl"]) < float(facts["late_kl"]) < float(facts["early_kl"])
    assert facts["neutral_wins"] == facts["early_wins"] == facts["count"] == str(len(ss.SCENARIOS))
    assert float(facts["kl_neutral"]) < float(facts["kl_late"]) < float(facts["kl_early"])
