"""Layer surgery (docs/layers-as-painters.md). Mechanics, on tiny random GPT-2-, Llama- and
Qwen2-style models built here: re-wiring is exact, bounded and always undone, and the page's
experiments run on any family. Claims (marked): every result the page states holds on the
embedded model, on the page's own evaluation set."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers
from matplotlib.figure import Figure

import other_models
from snippets import layers as L
from snippets.decoder import UnsupportedModel, parts
from state_simulators import keys
from state_simulators.model import LanguageModel

VOCAB = 97
FAMILIES = other_models.FAMILIES
PAGE = Path(__file__).resolve().parents[1] / "docs" / "layers-as-painters.md"


def tiny_model(family: str, depth: int = 6, **config) -> transformers.PreTrainedModel:
    """A seeded, randomly initialised causal LM of the family, width 64."""
    return other_models.tiny_model(family, depth, vocab=VOCAB, positions=64, **config)


def random_ids(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, VOCAB, shape, generator=torch.Generator().manual_seed(seed))


def random_eval_set() -> L.EvalSet:
    """An evaluation set of random tokens, shaped like the page's (facts in batches by length,
    sums with one- and two-digit answers padded on the right)."""
    sums_answer = random_ids(6, 2, seed=5)
    sums_answer[::2, 1] = L.IGNORE
    return L.EvalSet(
        passages=random_ids(3, 12, seed=2),
        facts=(random_ids(2, 4, seed=1), random_ids(3, 7, seed=6)),
        facts_answer=(random_ids(2, 1, seed=3), random_ids(3, 1, seed=7)),
        sums=random_ids(6, 10, seed=4),
        sums_at=torch.tensor([8, 9]),
        sums_answer=sums_answer,
        names=("a", "b", "c"),
    )


@pytest.fixture(params=FAMILIES)
def tiny(request):
    return tiny_model(request.param)


@pytest.fixture(scope="module")
def results():
    return L.experiments()


@pytest.fixture(scope="module")
def data(lm):
    return L.load_eval_set(lm)


def middle(results):
    return list(L.middle_layers(results.depth))


def variant_cost(results, variant, n):
    return L.mean_nll(results.variants[variant, n]) - results.baseline.nll


# The machinery, on any family: re-wiring is exact, bounded and always undone.


def snapshot(model):
    layers = parts(model).layers
    return layers, list(layers), model.config.num_hidden_layers, getattr(model.config, "layer_types", None)


def assert_restored(model, before):
    layers, members, depth, kinds = before
    assert parts(model).layers is layers
    assert all(a is b for a, b in zip(parts(model).layers, members, strict=True))
    assert model.config.num_hidden_layers == depth
    assert getattr(model.config, "layer_types", None) == kinds


def test_the_identity_plan_reproduces_the_untouched_models_logits_exactly(tiny):
    ids = random_ids(2, 10)
    with torch.inference_mode():
        intact = tiny(ids).logits
        with L.rewired(tiny, tuple(range(parts(tiny).depth))) as model:
            same = model(ids).logits
    assert torch.equal(intact, same)


class Double(torch.nn.Module):
    """A stand-in layer that doubles the state."""

    def forward(self, hidden_states, *args, **kwargs):
        return 2 * hidden_states


PLANS = {
    **{v: L.surgery(v, 2, 6) for v in L.VARIANTS},
    "skip one": L.skip_one(3, 6),
    "longer than the model": (*range(6), 3, 3, 3),
    "with a stand-in": (0, 1, L.FirstTokenOnly(Double()), 3, 4, 5),
}


@pytest.mark.parametrize("name", PLANS)
def test_every_surgery_changes_the_logits_and_restores_the_model(tiny, name):
    ids, plan = random_ids(2, 10), PLANS[name]
    before = snapshot(tiny)
    with torch.inference_mode():
        intact = tiny(ids).logits
        with L.rewired(tiny, plan) as model:
            assert model is tiny and len(parts(model).layers) == len(plan)
            assert model.config.num_hidden_layers == len(plan)
            altered = model(ids).logits
        after = tiny(ids).logits
    assert_restored(tiny, before)
    assert torch.equal(intact, after) and not torch.allclose(intact, altered)


def test_the_kv_cache_is_off_inside_the_block(tiny):
    # A repeated layer would file its keys twice under one layer_idx.
    ids = random_ids(2, 10)
    with torch.inference_mode(), L.rewired(tiny, L.surgery("repeat", 3, 6)) as model:
        asked = model(ids, use_cache=True)
        without = model(ids, use_cache=False).logits
    assert torch.equal(asked.logits, without) and asked.past_key_values is None


def test_an_error_inside_the_block_still_restores(tiny):
    before = snapshot(tiny)
    with pytest.raises(RuntimeError, match="drill"), L.rewired(tiny, (3, 2, 1)):
        raise RuntimeError("drill")
    assert_restored(tiny, before)


def test_a_forward_pass_that_fails_mid_way_still_restores(tiny):
    class Broken(torch.nn.Module):
        def forward(self, hidden_states, *args, **kwargs):
            raise ValueError("broken layer")

    before = snapshot(tiny)
    with pytest.raises(ValueError, match="broken layer"), L.rewired(tiny, (0, Broken(), 1)):
        tiny(random_ids(1, 4))
    assert_restored(tiny, before)


def test_a_longer_plan_runs_every_step(tiny):
    calls = []

    class Count(torch.nn.Module):
        def forward(self, hidden_states, *args, **kwargs):
            calls.append(1)
            return hidden_states

    with torch.inference_mode(), L.rewired(tiny, (*range(6), *[Count()] * 5)) as model:
        model(random_ids(1, 4))
    assert len(calls) == 5


def test_parallel_keeps_the_input_once_and_adds_the_mean_update(tiny):
    a, b = parts(tiny).layers[2], parts(tiny).layers[3]
    seen = []
    hook = a.register_forward_pre_hook(lambda _l, args, kwargs: seen.append((args, kwargs)), with_kwargs=True)
    with torch.inference_mode():
        tiny(random_ids(2, 10), use_cache=False)
        hook.remove()
        (h, *args), kwargs = seen[0]
        both = L.Parallel([a, b])(h, *args, **kwargs)
        expected = h + ((a(h, *args, **kwargs) - h) + (b(h, *args, **kwargs) - h)) / 2
        assert torch.allclose(both, expected, atol=1e-5)
        assert torch.equal(L.Parallel([a])(h, *args, **kwargs), a(h, *args, **kwargs))


def test_a_plan_beyond_the_model_is_refused_in_one_line(tiny):
    before = snapshot(tiny)
    message = "a plan that runs layer 6 needs a model with at least 7 layers"
    with pytest.raises(UnsupportedModel, match=message) as error, L.rewired(tiny, (0, (1, 6), 2)):
        pass
    assert "\n" not in str(error.value)
    assert_restored(tiny, before)


def test_layers_with_different_attention_are_refused():
    model = tiny_model("qwen2", use_sliding_window=True, sliding_window=4, max_window_layers=3)
    assert len(set(model.config.layer_types)) == 2
    refused = pytest.raises(UnsupportedModel, match="one attention type for every layer")
    with refused, L.rewired(model, L.skip_one(2, 6)):
        pass
    assert parts(model).depth == model.config.num_hidden_layers == 6


# The experiments, on any family.


def test_snapshots_and_resuming_give_exactly_the_scores_of_the_full_passes(tiny):
    lm, data = LanguageModel(tiny, None, "tiny"), random_eval_set()
    saved, intact = L.snapshots(data, lm)
    with torch.inference_mode():
        own = tiny(input_ids=data.passages, labels=data.passages, output_hidden_states=True)
    assert intact == L.evaluate(tuple(range(6)), data, lm) and intact.nll == float(own.loss)
    # states[k] is the state after k layers; [0] is what the first layer reads
    assert len(saved["passages"]) == 7
    assert all(torch.equal(s, h) for s, h in zip(saved["passages"][:-1], own.hidden_states[:-1]))
    for plan in (L.skip_one(3, 6), L.surgery("parallel", 2, 6), (1, 0, *range(2, 6))):
        assert L.evaluate(plan, data, lm, saved) == L.evaluate(plan, data, lm)
    resumed = L.resume(L.skip_one(3, 6), saved["passages"])
    assert isinstance(resumed[0], L.Resume) and resumed[1:] == (4, 5)
    assert resumed[0].state is saved["passages"][3]


@pytest.fixture(scope="module", params=("gpt2", "llama"))
def tiny_results(request):
    """The page's experiments on a tiny random model just deep enough for them (which gets
    no item right: every item is kept)."""
    model = tiny_model(request.param, depth=L.MIN_DEPTH)
    with pytest.MonkeyPatch.context() as patch:  # undone before any other test runs
        patch.setattr(L, "load", lambda: LanguageModel(model, None, "tiny"))
        patch.setattr(L, "load_eval_set", lambda lm: random_eval_set())
        return L.run_experiments()


def test_the_experiments_run_on_any_family(tiny_results):
    r = tiny_results
    runs = 3 + r.depth + len(L.VARIANTS) * len(L.SIZES) + (len(L.SEEDS) - 1) * len(L.SIZES)
    assert r.depth == L.MIN_DEPTH and r.runs == runs and len(r.states) == r.depth + 1
    assert 0 <= r.sink < r.depth and all(len(v) for v in r.variants.values())
    assert len({s.nll for s in r.skip_one}) == r.depth  # each skip changes the loss its own way


def test_the_page_artifacts_are_made_for_any_family(tiny_results, monkeypatch):
    monkeypatch.setattr(L, "experiments", lambda: tiny_results)
    for make in (L.skip_figure, L.states_figure, L.variants_figure):
        assert isinstance(make(), Figure)
    facts = L.layer_facts()
    assert all(isinstance(v, str) for v in facts.values()) and facts["sink"] == str(tiny_results.sink)
    assert facts["kept"].startswith("keep every item")  # the tiny model gets nothing right


def test_the_experiments_are_computed_once_then_read_from_disk(tiny_results, tmp_path, monkeypatch):
    runs = []
    monkeypatch.setattr(L.keys, "step_path", lambda *args, **kwargs: tmp_path / "experiments.pt")
    monkeypatch.setattr(L, "run_experiments", lambda: runs.append(1) or tiny_results)
    first, second = L.experiments.__wrapped__(), L.experiments.__wrapped__()
    assert runs == [1] and (tmp_path / "experiments.pt").exists()
    assert second.variants == first.variants and second.baseline == first.baseline
    assert all(torch.equal(a, b) for a, b in zip(second.states, first.states, strict=True))


def test_a_model_shallower_than_the_page_needs_is_refused_in_one_line(monkeypatch):
    model = tiny_model("gpt2", depth=L.MIN_DEPTH - 1)
    monkeypatch.setattr(L, "load", lambda: LanguageModel(model, None, "tiny"))
    message = f"the layers page needs a model with at least {L.MIN_DEPTH} layers; GPT2LMHeadModel has "
    message += str(L.MIN_DEPTH - 1)
    with pytest.raises(UnsupportedModel, match=re.escape(message)) as error:
        L.run_experiments()
    assert "\n" not in str(error.value)


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


# On the embedded model (any model the site is configured with): the evaluation set and the
# shortcuts the experiments take.


def test_the_untouched_list_reproduces_the_models_own_loss_bit_for_bit(lm, data, results):
    with torch.inference_mode():
        plain = lm.model(input_ids=data.passages, labels=data.passages, use_cache=False).loss
    assert L.evaluate(tuple(range(parts(lm.model).depth)), data, lm).nll == float(plain)
    assert results.baseline.nll == float(plain)
    # the per-passage numbers split the same loss by passage (equal lengths: a plain mean)
    assert np.mean(results.baseline.passage_nll) == pytest.approx(float(plain), abs=1e-5)


def test_logits_only_where_they_are_read_are_those_of_each_prompt_alone(lm, data):
    inputs = data.inputs()
    with torch.inference_mode():
        facts = lm.model(**inputs["facts 1"]).logits
        all_facts = lm.model(input_ids=data.facts[1]).logits
        sums = lm.model(**inputs["sums"]).logits
        all_sums = lm.model(input_ids=data.sums).logits
    assert facts.shape[1] == 1 and torch.allclose(facts[:, 0], all_facts[:, -1], atol=1e-4)
    assert len({f.shape[1] for f in data.facts}) == len(data.facts)  # one batch per length
    assert sums.shape[1] == len(data.sums_at)
    assert torch.allclose(sums, all_sums[:, data.sums_at - 1], atol=1e-4)


def test_answer_logp_sums_the_answer_tokens_and_skips_padding():
    logits = torch.randn(3, 2, 5, generator=torch.Generator().manual_seed(0))
    answer = torch.tensor([[1, 2], [logits[1, 0].argmax(), L.IGNORE], [0, 0]])
    logp, right = L.answer_logp(logits, answer)
    table = logits.log_softmax(-1)
    assert logp[0] == pytest.approx(float(table[0, 0, 1] + table[0, 1, 2]), abs=1e-5)
    assert logp[1] == pytest.approx(float(table[1, 0].max()), abs=1e-5) and right[1]


def test_the_evaluation_set_is_what_the_page_describes(lm, data, results):
    spec = json.loads(L.EVAL_FILE.read_text())
    assert data.passages.shape == (len(spec["passages"]), L.PASSAGE_TOKENS)
    assert all(p["source"].endswith(")") and "18" in p["source"] for p in spec["passages"])
    assert sum(map(len, data.facts)) == len(spec["facts"])
    assert len(data.sums) == spec["sums"]["candidates"]
    questions = L.sum_questions(spec["sums"])
    assert len(set(questions)) == len(questions) == len(data.sums)  # each sum asked once
    assert len({a for _, a in questions}) >= 10  # varied answers
    decode = lm.tokenizer.decode
    for row, (question, answer) in zip(range(len(data.sums)), questions):
        digits = [int(t) for t in data.sums_answer[row] if t != L.IGNORE]
        assert decode(digits) == answer  # and the row holds every digit but the last
        assert data.sums[row, data.sums_at[: len(digits) - 1]].tolist() == digits[:-1]
        assert decode(data.sums[row, : data.sums_at[0]]) == question and answer not in question
    assert L.sum_questions(spec["sums"]) == questions  # drawn with a fixed seed


def test_only_the_items_the_intact_model_gets_right_are_kept(results, lm, data):
    saved, intact = L.snapshots(data, lm)
    kept, kept_saved, kept_intact = L.keep_right(data, saved, intact)
    assert sum(map(len, kept.facts)) == sum(intact.facts) and len(kept.sums) == sum(intact.sums)
    assert all(kept_intact.facts) and all(kept_intact.sums)
    assert [s[3].shape[0] for n, s in kept_saved.items() if n.startswith("facts")] == [
        len(f) for f in kept.facts
    ]
    again = L.evaluate(tuple(range(parts(lm.model).depth)), kept, lm, kept_saved)
    assert again.facts == kept_intact.facts and again.sums == kept_intact.sums
    assert again.fact_logp == pytest.approx(kept_intact.fact_logp, abs=1e-4)
    assert again.sum_logp == pytest.approx(kept_intact.sum_logp, abs=1e-4)
    assert kept_intact.fact_logp == results.baseline.fact_logp  # what the experiments kept


@pytest.mark.claim
def test_at_least_50_facts_and_50_sums_are_kept(results):
    assert len(results.baseline.facts) >= 50 and len(results.baseline.sums) >= 50


def test_a_model_that_gets_almost_nothing_right_keeps_every_item(data):
    scores = L.Scores(1.0, (1.0,), (True,) * sum(map(len, data.facts)), (False,) * len(data.sums))
    assert L.keep_right(data, {}, scores) == (data, {}, scores)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda spec: spec["passages"][0].update(text="Too short."), "needs at least"),
        (lambda spec: spec["facts"][0].__setitem__(1, " Paris, France"), "single token"),
        (lambda spec: spec["facts"][0].__setitem__(0, "Paris: capital of"), "already in"),
        (lambda spec: spec["sums"].update(digits=[8, 10]), "equally long"),
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


@pytest.mark.claim
def test_the_first_layer_matters_most_then_the_second(results):
    skip = L.skip_costs(results)
    assert np.argsort(skip)[::-1][:2].tolist() == [0, 1]
    assert not any(results.skip_one[0].facts) and not any(results.skip_one[0].sums)


@pytest.mark.claim
def test_the_tallest_bars_are_the_first_two_the_special_middle_layer_and_the_last(results):
    top = set(np.argsort(L.skip_costs(results))[::-1][:4].tolist())
    assert top == {0, 1, results.sink, results.depth - 1}


@pytest.mark.claim
def test_one_middle_layer_usually_costs_a_few_per_cent(results):
    skip, mid = L.skip_costs(results), middle(results)
    assert np.median([skip[i] for i in mid]) < 0.1 * results.baseline.nll
    gentle = [i for i in mid if skip[i] < 0.1 * results.baseline.nll]
    assert len(gentle) > len(mid) / 2  # "most of them can be left out ... one at a time"
    assert skip[results.depth - 1] > 5 * np.median([skip[i] for i in mid])  # "matters too"


@pytest.mark.claim
def test_the_special_layer_costs_more_than_any_other_middle_layer(results):
    skip, mid = L.skip_costs(results), middle(results)
    assert results.sink in mid
    assert skip[results.sink] == max(skip[i] for i in mid) > skip[results.depth - 1]


@pytest.mark.claim
def test_sums_lose_more_than_facts_on_average_but_not_after_every_skip(results):
    mid = [results.skip_one[i] for i in middle(results)]
    facts, sums = L.change(mid, results, "facts"), L.change(mid, results, "sums")
    assert sums.high < facts.low < 0  # on average, with the item as the unit
    verdicts = [L.more_fragile([s], results) for s in mid]
    assert verdicts.count("sums") > len(mid) / 3 and verdicts.count("facts") > 0
    assert not any(results.skip_one[0].facts) and not any(results.skip_one[0].sums)
    facts_kept, sums_kept = L.accuracies(mid)
    assert facts_kept > sums_kept  # "on average 72 % of the facts and 59 % of the sums"


@pytest.mark.claim
def test_repetition_and_the_sink_write_hurt_facts_at_least_as_much(results):
    small = L.SIZES[0]
    assert L.more_fragile(results.variants["repeat", small], results) == "facts"
    assert L.more_fragile([results.sink_all_but_first], results) != "sums"
    others = [v for v in L.VARIANTS if v != "repeat"]
    assert all(L.more_fragile(results.variants[v, small], results) == "sums" for v in others)


def test_a_change_is_measured_item_by_item_against_the_intact_model():
    base = L.Scores(4.0, (4.0,), (True,) * 3, (True,) * 3, (-0.5, -0.1, -0.2), (-0.1, -0.1, -0.3))
    hurt = L.Scores(4.5, (4.5,), (True,) * 3, (False,) * 3, (-0.6, -0.2, -0.3), (-3.1, -2.1, -4.3))
    r = L.Results(30, base, (), {}, 0, base, base, (), 0, 0.0)
    assert L.logp_change(hurt, r, "facts") == pytest.approx([-0.1, -0.1, -0.1])
    assert L.change([hurt, base], r, "sums").estimate == pytest.approx(-1.5)  # runs averaged first
    assert L.change([hurt], r, "sums").n == 3
    assert L.more_fragile([hurt], r) == "sums" and L.more_fragile([base], r) == "neither"
    assert L.more_fragile([L.Scores(4, (4,), (), (), (-3, -2.1, -4), (-0.1, -0.2, -0.3))], r) == "facts"


# "Why the middle tolerates it"


@pytest.mark.claim
def test_layer_0_rewrites_the_embedding_and_middle_layers_make_small_edits(results):
    sim, writes = L.similarity(results.states), L.write_sizes(results.states)
    mid = middle(results)
    assert abs(sim[0, 1]) < 0.05 and np.abs(sim[0, 1:]).max() < 0.1 and writes[0] > 10
    assert np.median([writes[i] for i in mid]) < 0.5
    assert np.median([sim[i, i + 1] for i in mid]) > 0.9
    # the dark block: middle states resemble each other more than the embeddings or the output
    block = sim[mid[0] + 1 : mid[-1] + 2, mid[0] + 1 : mid[-1] + 2]
    assert block.mean() > 2 * max(sim[0, 1:].mean(), sim[-1, mid[0] + 1 : mid[-1] + 2].mean())


@pytest.mark.claim
def test_a_few_dimensions_hold_most_of_the_middle_states_length(results):
    share = L.outlier_share(results.states)
    assert np.median([share[i + 1] for i in middle(results)]) > 0.3  # 4 of hundreds of dims


@pytest.mark.claim
def test_the_robust_measures_see_small_steps_but_no_single_middle_block(results):
    mid = middle(results)
    raw, z = L.similarity(results.states), L.similarity(results.states, standardise=True)
    cka = L.linear_cka(results.states)
    for sim in (raw, z, cka):
        assert np.median([sim[i, i + 1] for i in mid]) > 0.8  # neighbours alike
    across = lambda sim: sim[mid[0], mid[-1] + 1]  # noqa: E731
    assert across(z) < 0.3 and across(cka) < 0.3 and across(raw) > across(z)
    after = slice(results.sink + 1, mid[-1] + 2)
    assert cka[after, after].min() > 0.5 > cka[mid[0] + 1, results.sink + 2]  # two CKA blocks


def test_the_robust_measures_ignore_what_they_should_and_raw_cosine_does_not():
    x = torch.randn(3, 2, 9, 16, generator=torch.Generator().manual_seed(0))
    states = [x[0], x[1], x[2]]
    rotation = torch.linalg.qr(torch.randn(16, 16, generator=torch.Generator().manual_seed(1)))[0]
    cka = L.linear_cka(states)
    assert np.allclose(np.diag(cka), 1) and np.allclose(cka, cka.T)
    moved = L.linear_cka([x[0], 3 * x[0] @ rotation + 5])  # rotated, scaled, shifted
    assert moved[0, 1] == pytest.approx(1, abs=1e-6)
    outlier = torch.zeros(16)
    outlier[0] = 1000  # one huge dimension, shared by two otherwise unrelated sets of states
    loud = [x[0] + outlier, x[1] + outlier]
    assert L.similarity(loud)[0, 1] > 0.99  # raw cosine: "the same"
    assert abs(L.similarity(loud, standardise=True)[0, 1]) < 0.2  # z-scored: unrelated
    assert abs(L.similarity([x[0], x[1]])[0, 1]) < 0.2
    scaled = L.similarity([x[0], x[0] * torch.linspace(0.1, 10, 16)], standardise=True)
    assert scaled[0, 1] == pytest.approx(1, abs=1e-6)  # per-dimension scales do not count
    assert L.outlier_share(loud, top=1)[0] > 0.99


@pytest.mark.claim
def test_the_largest_middle_edit_is_one_the_facts_need(results):
    writes, mid = L.write_sizes(results.states), middle(results)
    big = max(mid, key=lambda i: writes[i])
    assert big != results.sink and results.skip_one[big].fact_accuracy <= 0.25


# "One middle layer with a special job"


@pytest.mark.claim
def test_the_special_layer_blows_up_the_first_token_only(results):
    first, rest = L.norms(results.states)
    s = results.sink
    assert first[s + 1] / first[s] > 100 and rest[s + 1] / rest[s] < 2
    each = [state[:, 0].norm(dim=-1) for state in results.states[s : s + 2]]
    assert bool((each[1] / each[0] > 100).all())  # for the first token of every passage
    assert first[s + 1] > 100 * rest[s + 1]
    assert all(first[i] > 0.9 * first[s + 1] for i in range(s + 1, results.depth - 2))


@pytest.mark.claim
def test_its_first_token_write_is_what_matters(results):
    skipped = L.cost(results.skip_one[results.sink], results)
    assert L.cost(results.sink_first_only, results) < 0.1 * skipped  # "nearly recovers"
    assert results.sink_first_only.fact_accuracy > 0.75
    assert L.change([results.sink_first_only], results, "facts").estimate > -0.5
    assert L.cost(results.sink_all_but_first, results) > 0.75 * skipped  # "almost as badly"
    assert results.sink_all_but_first.fact_accuracy < 0.05


# "Skip, repeat, reverse, shuffle, run side by side"


@pytest.mark.claim
def test_at_the_smallest_size_only_repetition_hurts_much(results):
    n = L.SIZES[0]
    mild = [variant_cost(results, v, n) for v in L.VARIANTS if v != "repeat"]
    assert max(mild) < 0.15 * results.baseline.nll
    assert variant_cost(results, "repeat", n) > variant_cost(results, "skip", n) > 0


@pytest.mark.claim
def test_repetition_is_the_worst_surgery_at_every_size(results):
    for n in L.SIZES:
        assert max(L.VARIANTS, key=lambda v: variant_cost(results, v, n)) == "repeat"


@pytest.mark.claim
def test_every_surgery_gets_much_worse_once_the_block_holds_the_special_layer(results):
    at = L.cliff(results)
    before = L.SIZES[L.SIZES.index(at) - 1]
    assert results.sink not in L.middle(results.depth, before)
    assert all(variant_cost(results, v, at) > 2 * variant_cost(results, v, before) for v in L.VARIANTS)
    dropped = min(variant_cost(results, v, at) for v in ("skip", "repeat", "reverse"))
    side_by_side = max(variant_cost(results, v, at) for v in ("parallel", "looped parallel"))
    assert dropped > variant_cost(results, "shuffle", at) > side_by_side


@pytest.mark.claim
def test_parallel_blocks_cost_little_keep_facts_and_looping_helps(results):
    n = L.SIZES[0]
    parallel = results.variants["parallel", n][0]
    assert L.cost(parallel, results) < variant_cost(results, "skip", n)
    assert parallel.fact_accuracy > results.variants["skip", n][0].fact_accuracy
    for size in L.SIZES:
        looped = variant_cost(results, "looped parallel", size)
        assert looped < variant_cost(results, "parallel", size)
    facts = {v: L.change(results.variants[v, n], results, "facts").estimate for v in L.VARIANTS}
    assert min(facts["parallel"], facts["looped parallel"]) >= max(
        f for v, f in facts.items() if "parallel" not in v and v != "shuffle"
    )
    assert not results.variants["parallel", L.SIZES[1]][0].facts  # larger blocks: loss only


@pytest.mark.claim
def test_sums_survive_no_surgery_on_the_smallest_block(results):
    runs = [s for v in L.VARIANTS for s in results.variants[v, L.SIZES[0]]]
    assert max(s.sum_accuracy for s in runs) < 0.5


@pytest.mark.claim
def test_the_large_effects_hold_passage_by_passage(results):
    robust = L.per_passage(results)
    assert all(robust["layer0_worst"]) and all(robust["sink_top4"])
    assert all(robust["repeat_worst"])
    assert len(robust["repeat_worst"]) == len(L.SIZES) * len(results.baseline.passage_nll)


# The page's artifacts, computed from the same results.


def test_the_experiments_are_cached_on_disk_and_read_back_whole(results):
    path = keys.step_path("layers", "experiments", ["snippets.layers"], suffix=".pt", files=L.DATA_FILES)
    assert path.exists()
    again = L.from_saved(torch.load(path, weights_only=True))
    for field in ("depth", "baseline", "skip_one", "variants", "sink", "sink_first_only", "runs"):
        assert getattr(again, field) == getattr(results, field)
    assert all(torch.equal(a, b) for a, b in zip(again.states, results.states, strict=True))


def test_the_figures_and_numbers(results):
    for make in (L.skip_figure, L.states_figure, L.variants_figure):
        assert isinstance(make(), Figure)
    facts = L.layer_facts()
    assert all(isinstance(v, str) for v in facts.values())
    assert facts["sink"] == str(results.sink) and facts["runs"] == str(results.runs)
    assert facts["kept"] == "keep only the items the intact model gets right"
    assert float(L.layer_timing_facts()["seconds"]) > 0


@pytest.mark.parametrize("group, make", [("layers", L.layer_facts), ("layers-timing", L.layer_timing_facts)])
def test_the_page_uses_every_number_and_only_these(results, group, make):
    used = set(re.findall(r"\{\{\s*" + re.escape(group) + r"\.(\w+)\s*\}\}", PAGE.read_text()))
    assert used == set(make())


def test_the_page_is_built_with_its_figures_and_numbers(built_site):
    html = (built_site / "layers-as-painters" / "index.html").read_text()
    for name in ("layer-skip", "layer-states", "layer-variants"):
        assert f'src="../figures/{name}.svg"' in html
    left = re.findall(r".{80}\{\{\s*[\w-]+\.\w+\s*\}\}.{20}", html)
    assert not left, left  # every number was filled in
    assert "FirstTokenOnly" in html and "last_layer" in html  # the code is included
    assert "● agrees" in html  # the table of findings
