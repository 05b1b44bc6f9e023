from types import SimpleNamespace

import numpy as np
import pytest
import torch
from transformers import DynamicCache, GPT2Config

from other_models import TINY, tiny_lm
from snippets import kv_cache as kv
from snippets.decoder import parts
from snippets.next_token import next_token_logits


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, lm):
    return tiny_lm(request.param, lm.tokenizer)


def test_cached_decoding_gives_the_logits_of_a_full_recomputation(lm):
    same = kv.equivalence()
    prompt_tokens = len(lm.tokenizer(kv.PROMPT).input_ids)
    assert same["ids"].shape == (1, prompt_tokens + kv.NEW_TOKENS)
    # float rounding only: small next to the logits compared, whatever their size
    assert same["max_abs_diff"] <= 1e-4 * max(1.0, same["max_abs_logit"])
    assert same["same_argmax"]


def test_the_first_cached_step_is_the_plain_next_token_prediction(lm):
    _, step_logits = kv.decode_with_cache(kv.PROMPT, 2, lm)
    assert torch.allclose(step_logits[0], next_token_logits(kv.PROMPT, lm), atol=1e-4)


def check_recomputation_lines_up_with_the_cached_steps(lm, steps: int):
    ids, cached = kv.decode_with_cache(kv.PROMPT, steps, lm)
    recomputed = kv.recompute_without_cache(ids, steps, lm)
    assert cached.shape == recomputed.shape == (steps, parts(lm.model).unembedding.out_features)
    # each step's prediction is the token that was appended next
    assert recomputed.argmax(-1).tolist() == ids[0, -steps:].tolist()
    assert torch.allclose(cached, recomputed, atol=1e-3)


def test_recomputation_lines_up_each_step_with_its_position(lm):
    check_recomputation_lines_up_with_the_cached_steps(lm, 3)


def test_incremental_logits_equal_the_full_recompute_for_any_causal_lm(tiny):
    # GPT-2 (absolute positions: the cache must carry the position on) and an untied Llama
    check_recomputation_lines_up_with_the_cached_steps(tiny, 8)


def test_the_hook_counts_the_tokens_generate_feeds_any_model(tiny):
    prompt_tokens = len(tiny.tokenizer(kv.PROMPT).input_ids)
    _, with_cache = kv.greedy(kv.PROMPT, 4, True, tiny)
    _, without = kv.greedy(kv.PROMPT, 4, False, tiny)
    assert 1 <= len(with_cache) <= 4  # a random model may write its end token early
    assert with_cache == [prompt_tokens] + [1] * (len(with_cache) - 1)
    assert without == [prompt_tokens + step for step in range(len(without))]


@pytest.mark.claim
def test_generate_is_token_for_token_identical_with_and_without_its_cache(lm):
    both = kv.greedy_both_ways()
    assert both["with"] == both["without"]
    ids, _ = kv.decode_with_cache(kv.PROMPT, kv.NEW_TOKENS, lm)
    prompt_tokens = len(lm.tokenizer(kv.PROMPT).input_ids)
    assert both["with"] == lm.tokenizer.decode(ids[0, prompt_tokens:])  # same as the page's loop
    # the work: the prompt once and one token per step, against every prefix in full
    assert both["fed_with"] == [prompt_tokens] + [1] * (kv.NEW_TOKENS - 1)
    assert both["fed_without"] == [prompt_tokens + i for i in range(kv.NEW_TOKENS)]


def test_the_config_formula_predicts_the_bytes_of_a_real_cache(lm):
    cache = kv.filled_cache()
    config = lm.model.config
    tokens = len(lm.tokenizer(kv.PROMPT).input_ids)
    size = kv.cache_size(config)
    assert kv.measured_cache_bytes(cache) == size.for_tokens(tokens)
    assert len(cache.layers) == config.num_hidden_layers
    for layer in cache.layers:
        for tensor in (layer.keys, layer.values):
            assert tensor.shape == (1, size.kv_heads, tokens, size.head_dim)
            assert tensor.dtype == torch.float32


def test_the_config_formula_holds_without_grouped_queries(tiny):
    ids = tiny.tokenizer(kv.PROMPT, return_tensors="pt").input_ids
    cache = DynamicCache(config=tiny.model.config)
    with torch.no_grad():
        tiny.model(ids, cache=cache, use_cache=True)
    assert kv.measured_cache_bytes(cache) == kv.cache_size(tiny.model.config).for_tokens(ids.shape[1])


def test_a_gpt2_config_has_a_key_value_head_per_query_head():
    size = kv.cache_size(GPT2Config(n_layer=3, n_embd=64, n_head=4))
    assert size == kv.CacheSize(layers=3, kv_heads=4, head_dim=16, bytes_per_number=4)


def test_cache_size_arithmetic_and_the_head_dim_fallback():
    config = SimpleNamespace(
        num_hidden_layers=2, num_key_value_heads=3, hidden_size=64, num_attention_heads=4
    )  # no head_dim: 64 / 4 = 16
    size = kv.cache_size(config, torch.bfloat16)
    assert size == kv.CacheSize(layers=2, kv_heads=3, head_dim=16, bytes_per_number=2)
    assert size.per_token == 2 * 2 * 3 * 16 * 2
    assert size.for_tokens(10) == 10 * size.per_token


def test_kv_cache_facts_are_the_measured_numbers(lm):
    facts = kv.kv_cache_facts()
    both = kv.greedy_both_ways()
    size = kv.cache_size(lm.model.config)
    assert float(facts["max_abs_diff"]) == pytest.approx(kv.equivalence()["max_abs_diff"], rel=0.1)
    assert facts["fed_with"] == str(sum(both["fed_with"]))
    assert facts["fed_without"].replace(",", "") == str(sum(both["fed_without"]))
    assert facts["per_token"].replace(",", "") == str(size.per_token)
    assert facts["context_memory"] == f"{size.for_tokens(2048) / 2**20:,.1f} MiB"
    # grouped queries: full multi-head attention would cost query_heads / kv_heads times more
    ratio = lm.model.config.num_attention_heads // size.kv_heads
    assert float(facts["context_memory_mha"].split()[0]) == pytest.approx(
        ratio * float(facts["context_memory"].split()[0]), abs=0.2
    )
    assert facts["greedy_text"] and "\n" not in facts["greedy_text"]
    assert not {"layers", "kv_heads", "query_heads", "max_context"} & set(facts)  # `model` group's


@pytest.mark.claim
def test_the_cache_is_modest_next_to_smollm2s_weights(lm):
    assert kv.kv_cache_facts()["identical"] == "identical"
    weights = sum(p.numel() * p.element_size() for p in lm.model.parameters())
    assert kv.cache_size(lm.model.config).for_tokens(2048) < weights / 2


def test_cumulative_cost_is_linear_with_a_flat_step_and_quadratic_with_a_linear_one():
    times = {1: (1.0, 1.0), 100: (1.0, 100.0)}  # cached: flat; uncached: grows with context
    totals = kv.cumulative_seconds(times, np.array([10, 100]))
    assert totals[0].tolist() == pytest.approx([10, 100])
    assert totals[1].tolist() == pytest.approx([55, 5050])  # 1 + 2 + … + n


@pytest.mark.claim
def test_a_cached_step_is_much_cheaper_than_recomputing_a_long_context():
    times = kv.step_times()
    cached, full = times[max(times)]
    assert cached * 3 < full  # measured ratio is ~10-50x; the margin absorbs a busy machine
    shortest, longest = min(times), max(times)
    assert times[longest][1] > times[shortest][1]  # recomputing grows with the context
    # ... much faster than one cached step does (that grows only by the attention over keys)
    growth_cached = times[longest][0] / times[shortest][0]
    growth_full = times[longest][1] / times[shortest][1]
    assert growth_cached < growth_full


def test_the_timing_figure_and_facts_show_the_measurements():
    times = kv.step_times()
    fig = kv.kv_cache_timing_figure()
    left, right = fig.axes
    without, cached = (line.get_ydata() for line in left.get_lines())
    assert list(cached) == pytest.approx([times[n][0] * 1000 for n in sorted(times)])
    assert list(without) == pytest.approx([times[n][1] * 1000 for n in sorted(times)])
    slow, fast = (line.get_ydata() for line in right.get_lines())
    assert slow[-1] > fast[-1]
    facts = kv.kv_cache_timing_facts()
    assert facts["longest"] == str(max(times))
    cached, full = times[max(times)]
    assert facts["speedup"] == f"{full / cached:.0f}"


def tiny_texts(lm, batch=2, tokens=24):
    seeded = torch.Generator().manual_seed(0)
    return torch.randint(100, min(5000, lm.model.config.vocab_size), (batch, tokens), generator=seeded)


def test_eviction_keeps_the_first_and_the_last_positions_in_every_layer(tiny):
    ids = tiny_texts(tiny)
    _, cache = kv.exact_pass(ids, 4, tiny)
    kept = kv.evict(cache, 2, 5, 20, tiny.model.config)
    wanted = [0, 1, 15, 16, 17, 18, 19]
    assert kept.get_seq_length() == len(wanted) and len(kept.layers) == len(cache.layers)
    for old, new in zip(cache.layers, kept.layers):
        assert torch.equal(new.keys, old.keys[:, :, wanted])
        assert torch.equal(new.values, old.values[:, :, wanted])
    assert kv.evict(cache, 30, 30, 20, tiny.model.config).get_seq_length() == 20  # nothing twice
    assert kv.evict(cache, 0, 3, 20, tiny.model.config).get_seq_length() == 3  # a plain window


def test_an_eviction_that_keeps_everything_gives_the_exact_predictions(tiny):
    ids = tiny_texts(tiny)
    exact, cache = kv.exact_pass(ids, 4, tiny)
    assert exact.shape == (2, 4, tiny.model.config.vocab_size)
    # the scored tokens keep their positions: RoPE (or GPT-2's position table) sees the same
    whole = kv.evicted_pass(ids, cache, 0, 20, 4, tiny)
    assert torch.allclose(whole, exact, atol=1e-4)
    kl, same = kv.divergence(exact, whole)
    assert max(kl) < 1e-4 and same == [1.0, 1.0]
    kl, same = kv.divergence(exact, kv.evicted_pass(ids, cache, 0, 2, 4, tiny))
    assert len(kl) == 2 and min(kl) > 1e-4  # a window of 2 moves the predictions


def test_divergence_is_the_kl_and_top_1_agreement_per_text():
    p = torch.tensor([[[0.4, 0.6], [0.9, 0.1]]]).log()
    q = torch.tensor([[[0.9, 0.1], [0.9, 0.1]]]).log()
    kl, same = kv.divergence(p, q)
    expected = (0.4 * np.log(0.4 / 0.9) + 0.6 * np.log(0.6 / 0.1)) / 2  # the second: 0
    assert kl == pytest.approx([expected]) and same == [0.5]


@pytest.mark.claim
def test_attention_sinks_matter_more_than_the_size_of_the_window():
    results = kv.eviction_study()["results"]
    widest, smallest = max(kv.WINDOWS), min(kv.WINDOWS)
    for w in kv.WINDOWS:  # keeping the first positions helps at every window
        assert results[kv.SINKS, w][0].high < results[0, w][0].low
        assert results[kv.SINKS, w][1].estimate > results[0, w][1].estimate
    # which positions go matters more than how many: dropping only the first few moves the
    # predictions more than keeping the sinks and a window of about half the text; dropping
    # a few in the middle hardly moves them
    assert results[0, widest][0].low > results[kv.SINKS, 128][0].high
    assert results[kv.SINKS, widest][0].high < 0.05
    assert results[0, smallest][0].estimate > results[0, widest][0].estimate  # smaller: worse


def test_the_eviction_figure_and_facts_show_the_study():
    study = kv.eviction_study()
    fig = kv.kv_cache_eviction_figure()
    left, right = fig.axes
    assert len(left.get_lines()) >= 2 and right.get_ylim()[1] == pytest.approx(1.02)
    window = [study["results"][0, w][0].estimate for w in kv.WINDOWS]
    assert list(left.get_lines()[0].get_ydata()) == pytest.approx(window)
    facts = kv.kv_eviction_facts()
    assert facts["texts"] == str(study["texts"]) and facts["scored"] == str(kv.SCORED)
    assert int(facts["prefix"]) == study["tokens"] - kv.SCORED
    rows = facts["table"].splitlines()[2:]
    assert len(rows) == len(kv.WINDOWS)
    first = study["results"][0, kv.WINDOWS[0]][0]
    assert rows[0].startswith(f"| {kv.WINDOWS[0]} | {first.estimate:.2f} ({first.low:.2f}–")
    assert kv.short(first) in facts["table"]
