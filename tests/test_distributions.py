"""The claims of docs/distributions.md, on the model's real outputs."""

import math

import pytest
import torch
import transformers

from snippets import continuations as c
from snippets import distributions as d
from snippets.decoder import parts
from snippets.next_token import generate, next_token_logits
from snippets.sampling import entropy_bits
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
    passage = [d.Position("a", 1.0, 0.5, True, True), d.Position("b", 1.0, 0.1, False, True)]
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
    for ax, passage in zip(fig.axes, d.passages().values()):
        hatched = [bool(bar.get_hatch()) for bar in ax.patches[: len(passage)]]
        assert hatched == [not p.starts_word for p in passage]


def test_facts_quote_the_measurements(lm):
    f = d.distributions_facts()
    assert f["uniform_bits"] == f"{math.log2(lm.model.config.vocab_size):.1f}"
    top = int(d.prompt_logits()["a fact"].argmax())
    assert f["fact_top"] == lm.tokenizer.decode([top]).strip()
    assert f["prose_tokens"] == str(len(d.passages()["prose"]))
    for key, passage in d.passages().items():
        initial = [p for p in passage if p.starts_word]
        assert int(f[f"{key}_internal_tokens"]) + len(initial) == len(passage)
        assert f[f"{key}_initial_bits"] == f"{d.mean_entropy(passage, True):.1f}"
    assert "vocab" not in f and "hidden" not in f  # the model's size is in the `model` group
    assert f["mid_prompt"] == d.MID_TOKEN and d.MID_TOKEN.startswith(f["cut_prompt"])


@pytest.mark.claim
def test_facts_quote_paris_np_and_the_whole_token(lm):
    f = d.distributions_facts()
    assert f["fact_top"] == "Paris" and f["code_top"] == "np"
    assert f["mid_whole"] == '__":' and f["cut_rank"] == "1"


@pytest.mark.parametrize("family", ["configured", "gpt2"])
def test_the_last_hidden_state_is_the_final_norms_output(lm, gpt2, family):
    """So the unembedding reads it as it is: there is no norm left to apply."""
    model = lm if family == "configured" else gpt2
    decoder = parts(model.model)
    seen = {}
    hook = decoder.final_norm.register_forward_hook(lambda m, i, o: seen.update(i=i[0], o=o))
    ids = model.tokenizer(d.PROMPTS["a fact"], return_tensors="pt").input_ids
    try:
        with torch.no_grad():
            last = decoder.body(ids).last_hidden_state
    finally:
        hook.remove()
    assert torch.equal(last, seen["o"]) and not torch.allclose(last, seen["i"])


@pytest.mark.claim
def test_normalising_twice_changes_the_logits(lm):
    decoder = parts(lm.model)
    ids = lm.tokenizer(d.PROMPTS["a fact"], return_tensors="pt").input_ids
    with torch.no_grad():
        last = decoder.body(ids).last_hidden_state[0, -1]
        twice = decoder.unembedding(decoder.final_norm(last))
    assert (twice - d.logits_from_hidden_state(d.PROMPTS["a fact"])).abs().max() > 1.0


@pytest.mark.parametrize(
    ("previous", "token", "starts"),
    [
        (" count", "_", False),
        ("_", "words", False),
        (" Red", "-", True),
        ("-", "Cap", True),
        (" upon", " a", True),
        ("(", "text", True),
        ("1", "0", False),
        ("", "Once", True),
        ("word", "\n", True),
    ],
)
def test_a_token_starts_a_word_unless_it_joins_word_characters(previous, token, starts):
    assert d.starts_word(previous, token) is starts


def test_mean_entropy_can_skip_the_pieces_that_continue_a_word():
    passage = [d.Position("a", 4.0, 0.1, False, True), d.Position("b", 0.0, 0.9, True, False)]
    assert d.mean_entropy(passage) == 2.0 and d.mean_entropy(passage, True) == 4.0


@pytest.mark.claim
def test_the_prompts_end_on_a_token_boundary(lm):
    """With their usual endings and with the model's own greedy continuation alike."""
    for kind, prompt in d.PROMPTS.items():
        assert d.ends_on_token_boundary(prompt, d.NATURAL_ENDINGS[kind], lm.tokenizer), kind
        greedy = generate(prompt, max_new_tokens=6, lm=lm)[len(prompt) :]
        assert d.ends_on_token_boundary(prompt, greedy, lm.tokenizer), (kind, greedy)
    assert not d.ends_on_token_boundary(d.MID_TOKEN, d.MID_TOKEN_ENDING, lm.tokenizer)


@pytest.mark.claim
def test_the_old_code_prompt_stops_inside_a_token(lm):
    before, token = d.straddling(d.MID_TOKEN, d.MID_TOKEN_ENDING, lm.tokenizer)
    assert before == 'if __name__ == "__main' and lm.tokenizer.decode([token]) == '__":'
    with pytest.raises(ValueError, match="ends on a token boundary"):
        d.straddling(d.PROMPTS["code"], d.NATURAL_ENDINGS["code"], lm.tokenizer)


def test_a_prompt_ending_a_text_has_no_straddling_token(lm):
    with pytest.raises(ValueError, match="ends on a token boundary"):
        d.straddling("Hello", "", lm.tokenizer)


@pytest.mark.claim
def test_word_pieces_do_not_make_the_code_look_certain(lm):
    """The contrast holds, and grows, over the tokens that start a word."""
    prose, code = d.passages()["prose"], d.passages()["code"]
    assert d.mean_entropy(code, True) < d.mean_entropy(prose, True) / 2
    internal = [p.entropy for p in code if not p.starts_word]
    assert internal and d.mean(internal) > d.mean_entropy(code)  # the name's pieces are open
