import math
import re

import pytest
import torch
import transformers

from snippets import next_token as nt
from snippets.decoder import parts


@pytest.mark.claim
def test_paris_leads_after_the_capital_of_france(lm):
    first, second = nt.next_token_distribution(nt.HOME_PROMPT, top=2, lm=lm)
    assert first.token == " Paris" and 0.7 < first.probability < 0.85  # measured p ≈ 0.77
    assert first.rank == 1 and second.rank == 2 and second.probability < first.probability


def test_the_distribution_covers_the_whole_vocabulary(lm):
    logits = nt.next_token_logits(nt.HOME_PROMPT, lm)
    assert logits.shape == (lm.model.config.vocab_size,)
    assert math.isclose(float(torch.softmax(logits, -1).sum()), 1.0, rel_tol=1e-5)
    top = nt.next_token_distribution(nt.HOME_PROMPT, top=5, lm=lm)
    assert [c.token_id for c in top] == torch.topk(logits, 5).indices.tolist()
    assert [c.logit for c in top] == pytest.approx(torch.topk(logits, 5).values.tolist())


def test_temperature_flattens_without_reordering(lm):
    cold = nt.next_token_distribution(nt.HOME_PROMPT, top=5, temperature=0.5, lm=lm)
    hot = nt.next_token_distribution(nt.HOME_PROMPT, top=5, temperature=2.0, lm=lm)
    assert [c.token_id for c in cold] == [c.token_id for c in hot]
    assert cold[0].probability > hot[0].probability


@pytest.mark.claim
def test_tokenize_round_trips(lm):
    pieces = nt.tokenize("Tokenisation is not word splitting", lm)
    assert "".join(piece for _, piece in pieces) == "Tokenisation is not word splitting"
    assert len(pieces) > 5  # more tokens than words: "Tokenisation" is cut into pieces


def test_show_token_makes_whitespace_visible():
    assert nt.show_token(" Paris\n") == "␣Paris↵"


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), None, "1"])
def test_temperature_must_be_positive(bad):
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        nt.check_temperature(bad)


def test_an_empty_prompt_is_refused(lm):
    with pytest.raises(ValueError, match="the prompt is empty"):
        nt.next_token_logits("  ", lm)


def test_seeded_sampling_is_reproducible_and_follows_the_probabilities():
    logits = torch.log(torch.tensor([0.7, 0.2, 0.1]))
    draws = [nt.sample_next_token(logits, seed=seed) for seed in range(2000)]
    assert draws[:50] == [nt.sample_next_token(logits, seed=seed) for seed in range(50)]
    shares = [draws.count(i) / len(draws) for i in range(3)]
    assert shares == pytest.approx([0.7, 0.2, 0.1], abs=0.03)
    cold = [nt.sample_next_token(logits, temperature=0.05, seed=seed) for seed in range(200)]
    assert set(cold) == {0}  # near-zero temperature: always the top token


def test_greedy_generation_takes_the_argmax_each_step(lm):
    text = nt.generate(nt.HOME_PROMPT, max_new_tokens=4, lm=lm)
    ids = lm.tokenizer(nt.HOME_PROMPT).input_ids
    start = len(ids)
    with torch.no_grad():
        for _ in range(4):  # on token ids: a decoded token need not re-tokenize to itself
            ids.append(int(lm.model(torch.tensor([ids])).logits[0, -1].argmax()))
    assert text == lm.tokenizer.decode(ids[start:])


def test_sampled_generation_depends_only_on_the_seed(lm):
    prompt = "Once upon a time, there was a little"
    one = nt.generate(prompt, max_new_tokens=12, temperature=1.0, seed=1, lm=lm)
    assert one == nt.generate(prompt, max_new_tokens=12, temperature=1.0, seed=1, lm=lm)
    others = {nt.generate(prompt, max_new_tokens=12, temperature=1.0, seed=s, lm=lm) for s in (2, 3, 4)}
    assert others - {one}


def test_plain_sampling_switches_every_cut_off(lm):
    eos = lm.tokenizer.eos_token_id
    assert nt.plain_sampling(None, lm.tokenizer) == {"do_sample": False, "pad_token_id": eos}
    hot = nt.plain_sampling(1.5, lm.tokenizer)
    assert hot == {"do_sample": True, "temperature": 1.5, "top_k": 0, "top_p": 1.0, "pad_token_id": eos}
    with pytest.raises(ValueError, match="greedy"):
        nt.plain_sampling(0, lm.tokenizer)


def test_plain_sampling_switches_off_the_cuts_a_generation_config_sets(lm, monkeypatch):
    monkeypatch.setattr(lm.model.generation_config, "top_k", 1)
    monkeypatch.setattr(lm.model.generation_config, "top_p", 0.01)
    ids = lm.tokenizer("Once upon a time, there was a little", return_tensors="pt")

    def first_tokens(**sampling) -> set[int]:
        drawn = set()
        for seed in range(8):
            transformers.set_seed(seed)
            with torch.no_grad():
                drawn.add(int(lm.model.generate(**ids, max_new_tokens=1, **sampling)[0, -1]))
        return drawn

    eos = lm.tokenizer.eos_token_id
    assert len(first_tokens(do_sample=True, temperature=2.0, pad_token_id=eos)) == 1  # cut to one
    assert len(first_tokens(**nt.plain_sampling(2.0, lm.tokenizer))) > 3


def test_home_facts_match_the_distribution(lm):
    facts = nt.home_facts()
    first, second, third = nt.next_token_distribution(nt.HOME_PROMPT, top=3, lm=lm)
    assert facts["top_token"] == nt.show_token(first.token)
    assert facts["second_p"] == f"{second.probability:.2f}"
    assert facts["top_p"] == f"{first.probability:.2f}"
    assert facts["third_token"] == nt.show_token(third.token)
    assert set(facts) == {f"{k}_{v}" for k in ("top", "second", "third") for v in ("token", "p")}


@pytest.mark.claim
def test_home_facts_quote_paris(lm):
    assert nt.home_facts()["top_token"] == "␣Paris"


def test_model_facts_are_read_from_the_model(lm):
    facts = nt.model_facts()
    config = lm.model.config
    assert facts["name"] == lm.name
    assert facts["vocab"] == f"{config.vocab_size:,}"
    assert facts["layers"] == str(parts(lm.model).depth) == str(config.num_hidden_layers)
    assert facts["hidden"] == str(config.hidden_size)
    parameters = sum(p.numel() for p in lm.model.parameters())
    assert facts["parameters"] == f"{parameters:,}"
    assert float(facts["parameters_millions"].split()[0]) == pytest.approx(parameters / 1e6, abs=0.5)


@pytest.mark.claim
def test_model_facts_describe_smollm2(lm):
    facts = nt.model_facts()
    assert (facts["vocab"], facts["layers"], facts["hidden"]) == ("49,152", "30", "576")
    assert facts["parameters_millions"] == "135 million"


def test_the_home_figure_shows_the_top_tokens_and_the_rest(lm):
    fig = nt.next_token_figure()
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    first = nt.next_token_distribution(nt.HOME_PROMPT, top=1, lm=lm)[0]
    assert labels[0] == nt.show_token(first.token) and labels[-1] == "all others"
    assert len(labels) == 13
    heights = [bar.get_height() for bar in fig.axes[0].patches]
    assert sum(heights) == pytest.approx(1.0, abs=1e-5)


def test_temperature_never_changes_the_order_even_near_zero(lm):
    plain = nt.next_token_distribution(nt.HOME_PROMPT, top=5, temperature=1.0, lm=lm)
    cold = nt.next_token_distribution(nt.HOME_PROMPT, top=5, temperature=1e-9, lm=lm)
    assert [c.token_id for c in cold] == [c.token_id for c in plain]  # ranked by logits
    assert cold[0].probability == pytest.approx(1.0) and all(c.probability < 1e-6 for c in cold[1:])


@pytest.mark.parametrize(
    "temperature, message",
    [
        (float("inf"), "temperature must be a finite number > 0"),
        (float("nan"), "temperature must be a finite number > 0"),
        (0, "temperature must be a finite number > 0"),
        (True, "temperature must be a finite number > 0"),
        (1e-50, "below 1e-30, where logits / T overflows; .* use greedy decoding"),
    ],
)
def test_temperatures_that_cannot_work_are_one_line_naming_the_fix(temperature, message):
    with pytest.raises(ValueError, match=message):
        nt.check_temperature(temperature)


def test_more_tokens_than_the_vocabulary_are_all_of_it(lm):
    assert len(nt.next_token_distribution("Hi", top=10**6, lm=lm)) == len(lm.tokenizer)


def test_a_token_that_is_part_of_a_character_shows_its_bytes(lm):
    shown = [text for _, text in nt.tokenize("🤗 東京", lm)]
    assert "\ufffd" not in "".join(shown)
    assert all(text.startswith(("<", " <")) or text for text in shown)
    assert any(re.fullmatch(r"<[0-9A-F]{2}( [0-9A-F]{2})*>", text) for text in shown)
    assert nt.token_text(lm.tokenizer, lm.tokenizer("Paris").input_ids[0]) == "Paris"


def test_a_prompt_longer_than_the_model_has_positions_is_one_line(lm, monkeypatch):
    monkeypatch.setattr(lm.tokenizer, "model_max_length", 4)
    with pytest.raises(ValueError, match=r"the prompt needs 5 positions but .* has 4: shorten it"):
        nt.next_token_logits("one two three four five", lm)
    with pytest.raises(ValueError, match=r"the prompt and its new tokens needs \d+ positions"):
        nt.generate("one", max_new_tokens=10, lm=lm)


class Pieces:
    """A tokenizer stand-in: each id decodes to '�' and has a raw token of its own."""

    def __init__(self, raw: dict[int, str]):
        self.raw = raw

    def decode(self, ids):
        return "\ufffd"

    def convert_ids_to_tokens(self, token_id):
        return self.raw[token_id]


def test_byte_tokens_of_every_kind_are_shown_as_text_or_bytes():
    tokenizer = Pieces({1: "<0xF0>", 2: "ðŁ¤Ĺ", 3: "▁odd"})
    assert nt.token_text(tokenizer, 1) == "<F0>"  # SentencePiece byte fallback
    assert nt.token_text(tokenizer, 2) == "🤗"  # byte-level BPE, a whole character
    assert nt.token_text(tokenizer, 3) == "\ufffd"  # nothing better to show
