"""The samplers of snippets/sampling.py against transformers' own logits warpers."""

import functools
import math

import pytest
import torch
import transformers
from transformers import (
    LogitsProcessorList,
    MinPLogitsWarper,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from snippets import sampling
from snippets.next_token import next_token_logits
from snippets.sampling import GREEDY, Samplers

PROMPTS = (
    "The capital of France is",
    "Once upon a time, there was a little",
    'if __name__ == "__main__',
    "The cat sat on the",
)
TEMPERATURES = (0.25, 0.7, 1.0, 1.5, 2.0, 3.0)


@functools.cache
def real_logits() -> tuple[torch.Tensor, ...]:
    return tuple(next_token_logits(p) for p in PROMPTS)


def theirs(processor, logits: torch.Tensor) -> torch.Tensor:
    """Run a transformers processor on one row, as generate does (a batch of one)."""
    return processor(torch.zeros((1, 1), dtype=torch.long), logits[None].clone())[0]


def same(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same tokens removed, same values for the others."""
    return torch.equal(torch.isinf(a), torch.isinf(b)) and torch.equal(a[~torch.isinf(a)], b[~torch.isinf(b)])


# Distributions that stress the edges: exact ties, uniform, one certain token, a tiny vocabulary.
EDGES = {
    "ties": torch.tensor([2.0, 2.0, 2.0, 2.0, 1.0, 1.0, 0.0, -1.0]),
    "uniform": torch.zeros(49152),
    "peaked": torch.cat([torch.tensor([200.0]), torch.zeros(999)]),
    "two tokens": torch.tensor([0.3, -0.3]),
    "one token": torch.tensor([1.5]),
}


def scaled(i: int, t: float) -> torch.Tensor:
    return real_logits()[i] / t


@pytest.mark.parametrize("temperature", TEMPERATURES + (0.01, 100.0))
def test_temperature_equals_transformers(lm, temperature):
    for logits in real_logits():
        assert torch.equal(
            sampling.apply_temperature(logits, temperature),
            theirs(TemperatureLogitsWarper(temperature), logits),
        )


@pytest.mark.parametrize("k", [1, 2, 5, 50, 256, 49152, 10**6])
def test_top_k_equals_transformers_on_real_logits(lm, k):
    for i in range(len(PROMPTS)):
        for t in (0.5, 1.0, 2.0):
            z = scaled(i, t)
            assert same(sampling.top_k(z, k), theirs(TopKLogitsWarper(k), z))
            assert sampling.survivors(sampling.top_k(z, k)) == min(k, z.numel())


@pytest.mark.parametrize("p", [0.01, 0.1, 0.5, 0.9, 0.95, 0.999, 1.0])
def test_top_p_equals_transformers_on_real_logits(lm, p):
    for i in range(len(PROMPTS)):
        for t in TEMPERATURES:
            z = scaled(i, t)
            assert same(sampling.top_p(z, p), theirs(TopPLogitsWarper(p), z))


@pytest.mark.parametrize("p_base", [0.001, 0.05, 0.1, 0.3, 1.0])
def test_min_p_equals_transformers_on_real_logits(lm, p_base):
    for i in range(len(PROMPTS)):
        for t in TEMPERATURES:
            z = scaled(i, t)
            assert same(sampling.min_p(z, p_base), theirs(MinPLogitsWarper(p_base), z))


@pytest.mark.parametrize("name", EDGES)
def test_every_sampler_equals_transformers_on_edge_cases(name):
    z = EDGES[name]
    for k in (1, 2, 3, 4, 5, 8, 100000):
        assert same(sampling.top_k(z, k), theirs(TopKLogitsWarper(k), z)), k
    for p in (0.1, 0.25, 0.5, 0.75, 0.9, 1.0):
        assert same(sampling.top_p(z, p), theirs(TopPLogitsWarper(p), z)), p
    for p_base in (0.01, 0.5, 0.9, 1.0):
        assert same(sampling.min_p(z, p_base), theirs(MinPLogitsWarper(p_base), z)), p_base


def test_edge_cases_behave_as_the_page_says():
    ties = EDGES["ties"]
    assert sampling.survivors(sampling.top_k(ties, 2)) == 4  # all four tied with the 2nd stay
    assert sampling.survivors(sampling.top_k(ties, 5)) == 6
    uniform = EDGES["uniform"]
    assert sampling.survivors(sampling.top_p(uniform, 1.0)) == uniform.numel()
    assert sampling.survivors(sampling.min_p(uniform, 1.0)) == uniform.numel()  # all equal the top
    assert sampling.entropy_bits(uniform) == pytest.approx(math.log2(uniform.numel()))
    peaked = EDGES["peaked"]
    for cut in (sampling.top_p(peaked, 0.999), sampling.min_p(peaked, 0.001), sampling.top_k(peaked, 1)):
        assert sampling.survivors(cut) == 1
    assert sampling.entropy_bits(peaked) == pytest.approx(0, abs=1e-12)
    assert sampling.entropy_bits(EDGES["two tokens"] * 0) == pytest.approx(1.0)  # a fair coin


COMBOS = [
    dict(top_k=50, top_p=0.9),
    dict(top_p=0.9, min_p=0.05),
    dict(top_k=20, top_p=0.5, min_p=0.2),
    dict(top_k=3),
    dict(min_p=0.1),
    dict(),
]


def test_cuts_compose_like_transformers(lm):
    """The pipeline equals transformers' processors chained in generate's order, -inf included;
    and `Samplers.processors` is that chain."""
    for z in real_logits():
        for t in (0.5, 1.0, 2.0):
            for combo in COMBOS:
                chain = [TemperatureLogitsWarper(t)]
                if "top_k" in combo:
                    chain.append(TopKLogitsWarper(combo["top_k"]))
                if "top_p" in combo:
                    chain.append(TopPLogitsWarper(combo["top_p"]))
                if "min_p" in combo:
                    chain.append(MinPLogitsWarper(combo["min_p"]))
                samplers = Samplers(t, **combo)
                ours = sampling.warp(z, samplers)
                assert same(ours, theirs(LogitsProcessorList(chain), z)), (t, combo)
                assert same(ours, theirs(samplers.processors(), z)), (t, combo)


def test_greedy_keeps_only_the_best_token(lm):
    for z in real_logits() + tuple(EDGES.values()):
        kept = torch.isfinite(sampling.warp(z, GREEDY))
        assert kept.tolist() == (z == z.max()).tolist()  # ties with the best stay, as in top-k
        assert same(sampling.warp(z, GREEDY), theirs(GREEDY.processors(), z))
        assert z[sampling.sample(z, GREEDY)] == z.max()


def test_a_setting_names_itself_and_travels_as_json():
    assert GREEDY.label == "greedy" and GREEDY.greedy and not Samplers().greedy
    assert Samplers(0.5).label == "T = 0.5" and Samplers(0.5).cuts == "no cut"
    hot = Samplers(1.5, top_k=4, top_p=0.9, min_p=0.1)
    assert hot.label == "T = 1.5, top-k 4, top-p 0.9, min-p 0.1"
    assert Samplers(min_p=0.1).cuts == "min-p 0.1"
    assert hot.to_json() == {"temperature": 1.5, "top_k": 4, "top_p": 0.9, "min_p": 0.1}
    assert Samplers(**hot.to_json()) == hot and Samplers(**GREEDY.to_json()) == GREEDY
    assert hot.at(2.0) == Samplers(2.0, top_k=4, top_p=0.9, min_p=0.1) and hot.at(None).greedy


@pytest.mark.parametrize(
    "settings",
    [
        Samplers(0.8, top_k=40, top_p=0.9, min_p=0.05),
        Samplers(1.3, top_p=0.95),
        Samplers(1.0, min_p=0.1),
    ],
)
def test_sample_draws_what_generate_draws(lm, settings):
    """Token for token, with the same seed: our sampler is what generate does."""
    prompt = PROMPTS[1]
    ids = lm.tokenizer(prompt, return_tensors="pt").input_ids
    transformers.set_seed(7)
    with torch.no_grad():
        out = lm.model.generate(
            ids,
            max_new_tokens=8,
            do_sample=True,
            pad_token_id=lm.tokenizer.eos_token_id,
            temperature=settings.temperature,
            top_k=settings.top_k or 0,
            top_p=settings.top_p or 1.0,
            min_p=settings.min_p,
        )
    transformers.set_seed(7)
    tokens = ids[0].tolist()
    with torch.no_grad():
        for _ in range(8):
            tokens.append(sampling.sample(lm.model(torch.tensor([tokens])).logits[0, -1], settings))
    assert tokens == out[0].tolist()


def test_sample_with_its_own_generator_is_reproducible_and_respects_the_cuts(lm):
    z = real_logits()[1]
    hot = Samplers(2.0, top_k=3)
    draws = [sampling.sample(z, hot, torch.Generator().manual_seed(s)) for s in range(40)]
    assert draws == [sampling.sample(z, hot, torch.Generator().manual_seed(s)) for s in range(40)]
    assert set(draws) <= set(torch.topk(z, 3).indices.tolist())
    assert len(set(draws)) > 1  # at T = 2 the three survivors all get drawn


def test_temperature_last_differs_only_for_the_probability_cuts(lm):
    for z in real_logits():
        top_k, top_p = Samplers(2.0, top_k=10), Samplers(2.0, top_p=0.9)
        first, last = sampling.warp(z, top_k), sampling.warp_temperature_last(z, top_k)
        assert torch.equal(torch.isinf(first), torch.isinf(last))  # top-k: the order does not matter
        assert sampling.survivors(sampling.warp_temperature_last(z, top_p)) < sampling.survivors(
            sampling.warp(z, top_p)
        )
        at_one = top_p.at(1.0)
        assert torch.equal(sampling.warp_temperature_last(z, at_one), sampling.warp(z, at_one))


@pytest.mark.parametrize("name", sorted(EDGES))
def test_transformers_warpers_with_temperature_last_equal_warp_temperature_last(name):
    logits = EDGES[name]
    for setting in (Samplers(2.0, top_p=0.9), Samplers(0.5, top_k=3, min_p=0.2), Samplers(3.0)):
        chain = setting.processors(temperature_last=True)
        assert isinstance(chain[-1], TemperatureLogitsWarper)
        assert same(theirs(chain, logits), sampling.warp_temperature_last(logits, setting))
    assert len(GREEDY.processors(temperature_last=True)) == 1  # greedy has no temperature


def test_typical_and_eta_sampling_are_in_transformers():
    """The page names them as available there: `generate` builds their warpers."""
    config = transformers.GenerationConfig(do_sample=True, typical_p=0.9, eta_cutoff=3e-4)
    assert config.typical_p == 0.9 and config.eta_cutoff == 3e-4
    uniform = EDGES["uniform"][None]
    typical = transformers.TypicalLogitsWarper(0.9)(None, uniform.clone())
    assert torch.isfinite(typical).all()  # on a uniform distribution every token is typical
    assert torch.isfinite(transformers.EtaLogitsWarper(3e-4)(None, uniform.clone())).all()


@pytest.mark.parametrize(
    "call, fix",
    [
        (lambda z: sampling.apply_temperature(z, 0), "greedy"),
        (lambda z: sampling.apply_temperature(z, -1.0), "greedy"),
        (lambda z: sampling.apply_temperature(z, float("nan")), "greedy"),
        (lambda z: sampling.top_k(z, 0), "leave top-k out"),
        (lambda z: sampling.top_k(z, 2.5), "whole number"),
        (lambda z: sampling.top_k(z, True), "whole number"),
        (lambda z: sampling.top_p(z, 0), "leave it out"),
        (lambda z: sampling.top_p(z, 1.5), "(0, 1]"),
        (lambda z: sampling.top_p(z, -0.1), "(0, 1]"),
        (lambda z: sampling.min_p(z, 0.0), "leave it out"),
        (lambda z: sampling.min_p(z, 2.0), "(0, 1]"),
        (lambda z: Samplers(top_p=float("nan")), "(0, 1]"),
        (lambda z: Samplers(0), "greedy"),
        (lambda z: Samplers(top_k=0), "leave top-k out"),
        (lambda z: Samplers(top_k=50.0), "whole number"),
        (lambda z: Samplers(min_p=1.5), "(0, 1]"),
        (lambda z: sampling.warp_temperature_last(z, GREEDY), "greedy"),
    ],
)
def test_bad_settings_raise_one_line_that_names_the_fix(call, fix):
    with pytest.raises(ValueError) as error:
        call(EDGES["ties"])
    message = str(error.value)
    assert fix in message and "\n" not in message


def test_transformers_refuses_temperature_zero_too(lm):
    ids = lm.tokenizer(PROMPTS[0], return_tensors="pt").input_ids
    with pytest.raises(ValueError, match="greedy"):
        lm.model.generate(
            ids, do_sample=True, temperature=0.0, max_new_tokens=1, pad_token_id=lm.tokenizer.eos_token_id
        )


def test_measures():
    assert sampling.survivors(torch.tensor([0.0, -math.inf, 3.0])) == 2
    assert sampling.entropy_bits(torch.tensor([0.0, 0.0, 0.0, 0.0])) == pytest.approx(2.0)
    assert sampling.entropy_bits(torch.tensor([5.0, -math.inf])) == 0.0


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(min_p=2), r"min-p must be in \(0, 1\] \(got 2\); min-p = 1 keeps only the top token"),
        (dict(top_p=0), r"top-p must be in \(0, 1\] \(got 0\); top-p = 1 keeps every token"),
        (dict(top_p=True), r"top-p must be in \(0, 1\]"),
        (dict(temperature=float("inf")), r"temperature must be a finite number > 0"),
    ],
)
def test_every_refused_setting_names_a_correct_fix(settings, message):
    with pytest.raises(ValueError, match=message):
        Samplers(**settings)
