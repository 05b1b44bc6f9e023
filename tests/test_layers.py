"""Layer surgery (docs/layers-as-painters.md): the re-wiring is exact and always undone, and
every claim the page makes holds on the real model, on the page's own evaluation set."""

import json
import re

import numpy as np
import pytest
import torch
from matplotlib.figure import Figure

from snippets import layers as L


@pytest.fixture(scope="module")
def results():
    return L.experiments()


@pytest.fixture(scope="module")
def data(lm):
    return L.load_eval_set(lm)


def costs(results):
    return [L.cost(s, results) for s in results.skip_one]


def middle(results):
    return list(L.middle_layers(results.depth))


def variant_cost(results, variant, n):
    return L.mean_nll(results.variants[variant, n]) - results.baseline.nll


def cliff(results):
    return min(n for n in L.SIZES if results.sink in L.middle(results.depth, n))


# The machinery: re-wiring is exact, bounded and always undone.


def snapshot(model):
    return model.model.layers, list(model.model.layers), model.config.num_hidden_layers


def assert_restored(model, before):
    layers, members, depth = before
    assert model.model.layers is layers
    assert all(a is b for a, b in zip(model.model.layers, members, strict=True))
    assert model.config.num_hidden_layers == depth


def test_the_untouched_list_reproduces_the_models_own_loss_bit_for_bit(lm, data, results):
    with torch.inference_mode():
        plain = lm.model(input_ids=data.passages, labels=data.passages, use_cache=False).loss
    depth = lm.model.config.num_hidden_layers
    assert L.evaluate(tuple(range(depth)), data, lm).nll == float(plain)
    assert results.baseline.nll == float(plain)
    # the per-passage numbers split the same loss by passage (equal lengths: a plain mean)
    assert np.mean(results.baseline.passage_nll) == pytest.approx(float(plain), abs=1e-5)


class Double(torch.nn.Module):
    """A stand-in layer that doubles the state."""

    def forward(self, hidden_states, **kwargs):
        return 2 * hidden_states


PLANS = {
    "skip": L.surgery("skip", 8, 30),
    "repeat": L.surgery("repeat", 12, 30),
    "shuffle": L.surgery("shuffle", 6, 30, seed=2),
    "looped parallel": L.surgery("looped parallel", 4, 30),
    "longer than the model": (*range(30), 15, 15, 15),
    "with a stand-in": (*range(11), L.FirstTokenOnly(Double()), *range(12, 30)),
}


@pytest.mark.parametrize("name", PLANS)
def test_every_surgery_restores_the_same_layers_and_the_same_outputs(lm, name):
    ids = lm.tokenizer("The capital of France is", return_tensors="pt").input_ids
    before = snapshot(lm.model)
    with torch.inference_mode():
        intact = lm.model(ids, use_cache=False).logits
        with L.rewired(lm.model, PLANS[name]) as model:
            assert model is lm.model and len(model.model.layers) == len(PLANS[name])
            assert model.config.num_hidden_layers == len(PLANS[name])
            altered = model(ids, use_cache=False).logits
        after = lm.model(ids, use_cache=False).logits
    assert_restored(lm.model, before)
    assert torch.equal(intact, after) and not torch.equal(intact, altered)


def test_an_error_inside_the_block_still_restores(lm):
    before = snapshot(lm.model)
    with pytest.raises(RuntimeError, match="drill"), L.rewired(lm.model, (3, 2, 1)):
        raise RuntimeError("drill")
    assert_restored(lm.model, before)


def test_a_forward_pass_that_fails_mid_way_still_restores(lm):
    class Broken(torch.nn.Module):
        def forward(self, hidden_states, **kwargs):
            raise ValueError("broken layer")

    ids = lm.tokenizer("Hello", return_tensors="pt").input_ids
    before = snapshot(lm.model)
    with pytest.raises(ValueError, match="broken layer"), L.rewired(lm.model, (0, Broken(), 1)):
        lm.model(ids, use_cache=False)
    assert_restored(lm.model, before)


def test_a_longer_plan_runs_every_step(lm):
    calls = []

    class Count(torch.nn.Module):
        def forward(self, hidden_states, **kwargs):
            calls.append(1)
            return hidden_states

    ids = lm.tokenizer("Hello", return_tensors="pt").input_ids
    with torch.inference_mode(), L.rewired(lm.model, (*range(30), *[Count()] * 5)) as model:
        model(ids, use_cache=False)
    assert len(calls) == 5


def test_parallel_keeps_the_input_once_and_adds_the_mean_update(lm):
    a, b = lm.model.model.layers[5], lm.model.model.layers[6]
    ids = lm.tokenizer("Call me Ishmael.", return_tensors="pt").input_ids
    with torch.inference_mode():
        h = lm.model.model.embed_tokens(ids)
        position = torch.arange(ids.shape[1])[None]
        kwargs = {
            "position_embeddings": lm.model.model.rotary_emb(h, position_ids=position),
            "attention_mask": None,
        }
        both = L.Parallel([a, b])(h, **kwargs)
        expected = h + ((a(h, **kwargs) - h) + (b(h, **kwargs) - h)) / 2
        assert torch.allclose(both, expected, atol=1e-5)
        assert torch.equal(L.Parallel([a])(h, **kwargs), a(h, **kwargs))


# The plans are the paper's variants.


def test_the_middle_block_is_centred():
    assert L.middle(30, 4) == [13, 14, 15, 16]
    assert L.middle(30, 8) == list(range(11, 19))
    for bad in (0, 30):
        with pytest.raises(ValueError, match="can alter 1 to 29 middle layers"):
            L.middle(30, bad)


@pytest.mark.parametrize("n", L.SIZES)
def test_each_variant_alters_only_the_middle_block(n):
    block = L.middle(30, n)
    keep = lambda plan: (plan[: block[0]], plan[len(plan) - (29 - block[-1]) :])  # noqa: E731
    edges = (tuple(range(block[0])), tuple(range(block[-1] + 1, 30)))
    plans = {v: L.surgery(v, n, 30) for v in L.VARIANTS}
    assert all(keep(p) == edges for p in plans.values())
    assert len(plans["skip"]) == 30 - n
    assert plans["repeat"][block[0] : block[-1] + 1] == (15,) * n
    assert plans["reverse"][block[0] : block[-1] + 1] == tuple(reversed(block))
    assert plans["parallel"][block[0]] == tuple(block) and len(plans["parallel"]) == 31 - n
    assert plans["looped parallel"][block[0] : block[0] + L.LOOPS] == (tuple(block),) * L.LOOPS
    orders = [L.surgery("shuffle", n, 30, seed)[block[0] : block[-1] + 1] for seed in L.SEEDS]
    assert all(sorted(o) == block and o not in (tuple(block), tuple(reversed(block))) for o in orders)
    assert len(set(orders)) == len(L.SEEDS)  # different orders, not one order three times


def test_an_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown variant 'twist'"):
        L.surgery("twist", 4, 30)


def test_logits_only_where_they_are_read_are_those_of_the_full_pass(lm, data):
    inputs = data.inputs()
    with torch.inference_mode():
        facts = lm.model(**inputs["facts"]).logits
        all_facts = lm.model(input_ids=data.facts, attention_mask=data.facts_mask).logits
        sums = lm.model(**inputs["sums"]).logits[0]
        all_sums = lm.model(input_ids=data.sums).logits[0]
    kept = data.facts_last.unique()
    assert len(kept) < data.facts.shape[1] and sums.shape[0] == len(data.sums_at)
    assert torch.allclose(facts, all_facts[:, kept], atol=1e-4)
    assert torch.allclose(sums, all_sums[data.sums_at - 1], atol=1e-4)


def test_resuming_from_saved_states_gives_exactly_the_same_scores(lm, data):
    saved, intact = L.snapshots(data, lm)
    assert intact == L.evaluate(tuple(range(30)), data, lm)  # scored from the same passes
    for plan in (L.skip_one(5, 30), L.surgery("parallel", 8, 30)):
        assert L.evaluate(plan, data, lm, saved) == L.evaluate(plan, data, lm)
    shifted = (1, 0, *range(2, 30))
    assert L.resume(shifted, saved["passages"]) == shifted  # nothing untouched to skip
    resumed = L.resume(L.skip_one(5, 30), saved["passages"])
    assert isinstance(resumed[0], L.Resume) and resumed[1:] == tuple(range(6, 30))


# The evaluation set: what the page says about it.


def test_the_evaluation_set_is_what_the_page_describes(lm, data, results):
    spec = json.loads(L.EVAL_FILE.read_text())
    assert data.passages.shape == (len(spec["passages"]), L.PASSAGE_TOKENS)
    assert all(p["source"].endswith(")") and "18" in p["source"] for p in spec["passages"])
    assert len(results.baseline.facts) == len(spec["facts"])
    answers = [lm.tokenizer.decode(int(t)) for t in data.sums[0, data.sums_at]]
    assert answers == [str(a + b) for a, b in spec["sums"]["problems"]]
    # "Both lists keep only items the intact model gets right"
    assert all(results.baseline.facts) and all(results.baseline.sums)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda spec: spec["passages"][0].update(text="Too short."), "needs at least"),
        (lambda spec: spec["facts"][0].__setitem__(1, " Paris, France"), "single token"),
    ],
)
def test_a_broken_evaluation_set_is_refused(lm, tmp_path, monkeypatch, change, message):
    spec = json.loads(L.EVAL_FILE.read_text())
    change(spec)
    (tmp_path / "eval.json").write_text(json.dumps(spec))
    monkeypatch.setattr(L, "EVAL_FILE", tmp_path / "eval.json")
    with pytest.raises(ValueError, match=message):
        L.load_eval_set(lm)


# "Take one layer out"


def test_the_first_layer_matters_most_then_the_second(results):
    skip = costs(results)
    assert np.argsort(skip)[::-1][:2].tolist() == [0, 1]
    assert not any(results.skip_one[0].facts) and not any(results.skip_one[0].sums)


def test_the_tallest_bars_are_the_first_two_the_special_middle_layer_and_the_last(results):
    top = set(np.argsort(costs(results))[::-1][:4].tolist())
    assert top == {0, 1, results.sink, results.depth - 1}


def test_one_middle_layer_usually_costs_a_few_per_cent(results):
    skip, mid = costs(results), middle(results)
    assert np.median([skip[i] for i in mid]) < 0.1 * results.baseline.nll
    gentle = [i for i in mid if skip[i] < 0.1 * results.baseline.nll]
    assert len(gentle) > len(mid) / 2  # "most of them can be left out ... one at a time"
    assert skip[results.depth - 1] > 5 * np.median([skip[i] for i in mid])  # "matters too"


def test_the_special_layer_costs_more_than_any_other_middle_layer(results):
    skip, mid = costs(results), middle(results)
    assert results.sink in mid
    assert skip[results.sink] == max(skip[i] for i in mid) > skip[results.depth - 1]


def test_sums_are_more_fragile_than_facts(results):
    mid = middle(results)
    all_facts = sum(all(results.skip_one[i].facts) for i in mid)
    all_sums = sum(all(results.skip_one[i].sums) for i in mid)
    assert all_facts > all_sums
    facts_kept, sums_kept = L.accuracies([results.skip_one[i] for i in mid])
    assert facts_kept > 0.75 and facts_kept - sums_kept > 0.2


def test_keeping_every_fact_still_costs_loss(results):
    kept = [s for s in results.skip_one if all(s.facts)]
    assert kept and all(L.cost(s, results) > 0 for s in kept)


# "Why the middle tolerates it"


def test_layer_0_rewrites_the_embedding_and_middle_layers_make_small_edits(results):
    sim, writes = L.similarity(results.states), L.write_sizes(results.states)
    mid = middle(results)
    assert abs(sim[0, 1]) < 0.05 and np.abs(sim[0, 1:]).max() < 0.1 and writes[0] > 10
    assert np.median([writes[i] for i in mid]) < 0.5
    assert np.median([sim[i, i + 1] for i in mid]) > 0.9
    # the dark block: middle states resemble each other more than the embeddings or the output
    block = sim[mid[0] + 1 : mid[-1] + 2, mid[0] + 1 : mid[-1] + 2]
    assert block.mean() > 2 * max(sim[0, 1:].mean(), sim[-1, mid[0] + 1 : mid[-1] + 2].mean())


def test_the_largest_middle_edit_is_one_the_facts_need(results):
    writes, mid = L.write_sizes(results.states), middle(results)
    big = max(mid, key=lambda i: writes[i])
    assert big != results.sink and results.skip_one[big].fact_accuracy <= 0.25


# "One middle layer with a special job"


def test_the_special_layer_blows_up_the_first_token_only(results):
    first, rest = L.norms(results.states)
    s = results.sink
    assert first[s + 1] / first[s] > 100 and rest[s + 1] / rest[s] < 2
    each = [state[:, 0].norm(dim=-1) for state in results.states[s : s + 2]]
    assert bool((each[1] / each[0] > 100).all())  # for the first token of every passage
    assert first[s + 1] > 100 * rest[s + 1]
    assert all(first[i] > 0.9 * first[s + 1] for i in range(s + 1, results.depth - 2))


def test_its_first_token_write_is_what_matters(results):
    skipped = L.cost(results.skip_one[results.sink], results)
    assert L.cost(results.sink_first_only, results) < 0.1 * skipped  # "nearly recovers"
    assert all(results.sink_first_only.facts)
    assert L.cost(results.sink_all_but_first, results) > 0.75 * skipped  # "almost as badly"
    assert not any(results.sink_all_but_first.facts)


# "Skip, repeat, reverse, shuffle, run side by side"


def test_at_the_smallest_size_only_repetition_hurts_much(results):
    n = L.SIZES[0]
    mild = [variant_cost(results, v, n) for v in L.VARIANTS if v != "repeat"]
    assert max(mild) < 0.15 * results.baseline.nll
    assert variant_cost(results, "repeat", n) > variant_cost(results, "skip", n) > 0


def test_repetition_is_the_worst_surgery_at_every_size(results):
    for n in L.SIZES:
        assert max(L.VARIANTS, key=lambda v: variant_cost(results, v, n)) == "repeat"


def test_every_surgery_gets_much_worse_once_the_block_holds_the_special_layer(results):
    at = cliff(results)
    before = L.SIZES[L.SIZES.index(at) - 1]
    assert results.sink not in L.middle(results.depth, before)
    assert all(variant_cost(results, v, at) > 2 * variant_cost(results, v, before) for v in L.VARIANTS)
    dropped = min(variant_cost(results, v, at) for v in ("skip", "repeat", "reverse"))
    side_by_side = max(variant_cost(results, v, at) for v in ("parallel", "looped parallel"))
    assert dropped > variant_cost(results, "shuffle", at) > side_by_side


def test_parallel_blocks_cost_little_keep_facts_and_looping_helps(results):
    n = L.SIZES[0]
    parallel = results.variants["parallel", n][0]
    assert L.cost(parallel, results) < variant_cost(results, "skip", n)
    assert all(parallel.facts)
    for size in L.SIZES:
        looped = variant_cost(results, "looped parallel", size)
        assert looped < variant_cost(results, "parallel", size)
        facts = {v: L.accuracies(results.variants[v, size])[0] for v in L.VARIANTS}
        assert min(facts["parallel"], facts["looped parallel"]) >= max(
            f for v, f in facts.items() if "parallel" not in v
        )


def test_sums_survive_no_surgery_on_the_smallest_block(results):
    runs = [s for v in L.VARIANTS for s in results.variants[v, L.SIZES[0]]]
    assert max(s.sum_accuracy for s in runs) < 0.5


def test_the_large_effects_hold_passage_by_passage(results):
    robust = L.per_passage(results)
    assert all(robust["layer0_worst"]) and all(robust["sink_top4"])
    assert all(robust["repeat_worst"])
    assert len(robust["repeat_worst"]) == len(L.SIZES) * len(results.baseline.passage_nll)


# "The paper beside this model": the verdicts the prose and the summary count.


def test_the_verdicts(results):
    assert [row.verdict for row in L.comparison(results)] == [
        "agrees",  # first layer
        "partly",  # last layer: the special middle layer costs more
        "partly",  # shared space: a few middle layers cost more than 10 %
        "agrees",  # a few skipped
        "agrees",  # repeat is worst
        "agrees",  # order matters somewhat
        "agrees",  # parallel, except maths
        "agrees",  # looping helps
        "partly",  # shuffle and looped parallel mildest: looped always, shuffle not always
        "agrees",  # maths most fragile
    ]


# The page's artifacts, computed from the same results.


def test_the_figures_and_numbers(results):
    for make in (L.skip_figure, L.states_figure, L.variants_figure):
        assert isinstance(make(), Figure)
    facts = L.layer_facts()
    assert all(isinstance(v, str) for v in facts.values())
    assert facts["sink"] == str(results.sink) and facts["runs"] == str(results.runs)
    assert facts["table"].count("\n") == 1 + len(L.comparison(results))
    assert int(facts["agrees"]) + int(facts["partly"]) + int(facts["differs"]) == int(facts["findings"])
    assert float(L.layer_timing_facts()["seconds"]) > 0


def test_the_page_is_built_with_its_figures_and_numbers(built_site):
    html = (built_site / "layers-as-painters" / "index.html").read_text()
    for name in ("layer-skip", "layer-states", "layer-variants"):
        assert f'src="../figures/{name}.svg"' in html
    left = re.findall(r".{80}\{\{\s*[\w-]+\.\w+\s*\}\}.{20}", html)
    assert not left, left  # every number was filled in
    assert "FirstTokenOnly" in html and "● agrees" in html  # the code is included
