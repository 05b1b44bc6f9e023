"""The claims of docs/distributions.md, on the model's real outputs."""

import math

import pytest
import torch
import transformers

from snippets import continuations as c
from snippets import distributions as d
from snippets.next_token import next_token_logits
from snippets.sampling import GREEDY, entropy_bits
from state_simulators.model import LanguageModel


@pytest.fixture(scope="module")
def gpt2(lm):
    """A small GPT-2-style model (random weights, untied unembedding) on the same tokenizer."""
    torch.manual_seed(0)
    tokenizer = lm.tokenizer
    config = transformers.GPT2Config(
        vocab_size=max(len(tokenizer), lm.model.config.vocab_size),
        n_positions=256,
        n_embd=32,
        n_layer=2,
        n_head=2,
        tie_word_embeddings=False,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    assert model.lm_head.weight.data_ptr() != model.transformer.wte.weight.data_ptr()
    return LanguageModel(model, tokenizer, "a small GPT-2")


@pytest.mark.parametrize("family", ["configured", "gpt2"])
def test_hidden_state_times_unembedding_is_the_models_logits(lm, gpt2, family):
    model = lm if family == "configured" else gpt2
    for prompt in d.PROMPTS.values():
        ours = d.logits_from_hidden_state(prompt, model)
        assert ours.shape == (model.model.config.vocab_size,)
        assert torch.allclose(ours, next_token_logits(prompt, model), atol=1e-4)


def test_positions_and_scores_hold_for_a_gpt2_style_model(gpt2):
    passage = d.positions(d.CODE, gpt2)
    assert len(passage) == len(gpt2.tokenizer(d.CODE).input_ids) - 1
    scored = d.log_probs("def", d.CODE[3:], gpt2)
    assert len(scored) == len(gpt2.tokenizer(d.CODE[3:]).input_ids)
    assert all(v <= 0 for v in scored)
    assert all(0 <= p.entropy <= math.log2(gpt2.model.config.vocab_size) + 1e-6 for p in passage)


def test_only_differences_between_logits_matter(lm):
    z = d.prompt_logits()["a story"]
    assert torch.allclose(torch.softmax(z + 123.0, dim=-1), torch.softmax(z, dim=-1), atol=1e-6)


@pytest.mark.claim
def test_three_prompts_of_very_different_certainty(lm):
    bits = {kind: entropy_bits(z) for kind, z in d.prompt_logits().items()}
    assert bits["code"] < bits["a fact"] < bits["a story"]
    assert bits["a story"] > 2 * bits["code"]


def test_positions_agree_with_the_scorer(lm):
    """Two code paths, one answer: per-position probabilities equal the continuation scorer's."""
    passage = d.positions(d.PROSE)
    prompt_len = len(lm.tokenizer(c.STORY).input_ids)
    scored = d.log_probs(c.STORY, d.PROSE[len(c.STORY) :])
    assert [math.exp(v) for v in scored] == pytest.approx(
        [p.probability for p in passage[prompt_len - 1 :]], rel=1e-3
    )
    assert passage[0].entropy == pytest.approx(entropy_bits(next_token_logits("Once", lm)), abs=1e-3)


@pytest.mark.claim
def test_code_is_more_determined_than_prose(lm):
    prose, code = d.passages()["prose"], d.passages()["code"]
    bits = {k: [p.entropy for p in v] for k, v in d.passages().items()}
    assert d.mean(bits["code"]) < d.mean(bits["prose"]) / 2
    sure = {k: d.mean([b < d.SURE for b in v]) for k, v in bits.items()}
    assert sure["code"] > 0.5 > sure["prose"]
    # the least predictable token of the code is in its first line (the function's name)
    first_line = len(lm.tokenizer(d.CODE.split("\n")[0]).input_ids) - 1
    worst = max(range(len(code)), key=lambda i: code[i].entropy)
    assert worst < first_line
    assert "words" in code[worst].token
    assert len(prose) == len(lm.tokenizer(d.PROSE).input_ids) - 1


@pytest.mark.claim
def test_hedging_is_what_the_loss_pays_for(lm):
    prose = d.passages()["prose"]
    loss = d.mean([-math.log(p.probability) for p in prose])
    assert d.mean([p.top_guess for p in prose]) < 0.5  # the top guess is usually wrong
    assert d.all_in_loss(prose, d.BET, lm.model.config.vocab_size) > 2 * loss


def test_all_in_loss_counts_right_and_wrong_guesses():
    passage = [d.Position("a", 1.0, 0.5, True), d.Position("b", 1.0, 0.1, False)]
    expected = (-math.log(0.9) - math.log(0.1 / 9)) / 2
    assert d.all_in_loss(passage, 0.9, 10) == pytest.approx(expected)


def test_the_expected_loss_is_lowest_for_the_distribution_itself(lm):
    """Gibbs: the expected loss under q is lowest when the prediction is q itself."""
    q = torch.softmax(d.prompt_logits()["a story"].double(), dim=-1)
    entropy = float(-(q * q.log()).sum())
    for t in (0.5, 0.8, 1.25, 2.0):
        p = torch.softmax(d.prompt_logits()["a story"].double() / t, dim=-1)
        cross = float(-(q * p.log()).sum())
        kl = float((q * (q.log() - p.log())).sum())
        assert cross > entropy and cross == pytest.approx(entropy + kl)


@pytest.mark.claim
def test_the_most_likely_text_is_not_what_text_looks_like(lm):
    greedy, samples = d.story_rows()["greedy"][0], d.story_rows()["samples"]
    human = d.mean(d.human_log_probs())
    assert len(samples) == c.REPLICATES
    assert all(greedy.mean_log_prob > s.mean_log_prob + 1 for s in samples)
    assert greedy.mean_log_prob > human + 1
    means = [s.mean_log_prob for s in samples]
    assert min(means) - 0.5 < human < max(means) + 0.5  # human text scores like the samples
    assert c.repeated_ngram_share(list(greedy.token_ids)) > 0.1  # greedy goes round in circles
    low = lambda lps: d.mean([math.exp(v) < d.LOW for v in lps])  # noqa: E731
    assert low(d.human_log_probs()) > 0.25 > low(greedy.log_probs)


@pytest.mark.claim
def test_repetition_feeds_itself(lm):
    """In every greedy text that loops, each earlier occurrence makes the 4-gram more likely."""
    looping = 0
    for r in c.experiment():
        if r.setting == GREEDY and c.repeated_ngram_share(list(r.token_ids)) > 0.1:
            by = c.probability_by_repeat(list(r.token_ids), [math.exp(v) for v in r.log_probs])
            values = [by[k] for k in sorted(by)]
            assert len(values) >= 3 and values == sorted(values) and values[-1] > values[0] + 0.3
            looping += 1
    assert looping >= 2


def test_tables_are_markdown_tables(lm):
    feedback = d.feedback_table().split("\n")
    assert len(feedback) == 2 + len(c.PROMPTS)
    assert feedback[0].startswith("| greedy text | 1st time | 2nd time |")
    assert feedback[1].startswith("|---|---:|---:|")
    assert {line.split(" | ")[0].strip("| ") for line in feedback[2:]} == set(c.NAMES.values())
    table = d.score_table([("greedy", (-1.0, -2.0)), ("a | b", (-0.5,))]).split("\n")
    assert table == [
        "| continuation | mean ln p per token | total ln p (tokens) |",
        "|---|---:|---:|",
        "| greedy | -1.50 | -3 (2) |",
        "| a \\| b | -0.50 | -0 (1) |",
    ]


def test_figures_draw_the_measured_numbers(lm):
    fig = d.three_distributions_figure()
    for ax, z in zip(fig.axes, d.prompt_logits().values()):
        widths = sorted((bar.get_width() for bar in ax.patches), reverse=True)
        best = torch.topk(torch.softmax(z, dim=-1), 8).values.tolist()
        assert len(widths) == 9 and sum(widths) == pytest.approx(1, abs=1e-5)
        assert widths[0] == pytest.approx(best[0], abs=1e-6)
    fig = d.entropy_by_position_figure()
    for ax, passage in zip(fig.axes, d.passages().values()):
        assert [b.get_height() for b in ax.patches] == pytest.approx([p.entropy for p in passage])
    fig = d.greedy_versus_human_figure()
    lines = [ax.lines[0].get_ydata() for ax in fig.axes]
    assert list(lines[2]) == pytest.approx([math.exp(v) for v in d.human_log_probs()])
    assert len(fig.axes[0].patches) > 0  # the greedy loop is shaded


def test_facts_quote_the_measurements(lm):
    f = d.distributions_facts()
    assert f["uniform_bits"] == f"{math.log2(lm.model.config.vocab_size):.1f}"
    top = int(d.prompt_logits()["a fact"].argmax())
    assert f["fact_top"] == lm.tokenizer.decode([top]).strip()
    assert f["table"].count("\n") == 2 + c.REPLICATES + 1
    assert f["prose_tokens"] == str(len(d.passages()["prose"]))
    assert "vocab" not in f and "hidden" not in f  # the model's size is in the `model` group
    assert f["greedy_text"].startswith(c.STORY)
    assert all(len(line) <= 76 for line in f["greedy_text"].split("\n"))
    assert all(line.startswith("    ") for line in f["sample_text"].split("\n")[1:])


@pytest.mark.claim
def test_facts_quote_paris_and_a_closing_quote(lm):
    f = d.distributions_facts()
    assert f["fact_top"] == "Paris" and f["code_top"] == '"'
