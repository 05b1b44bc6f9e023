import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from transformers import OPTConfig, OPTForCausalLM

from other_models import TINY, tiny_lm
from snippets import logit_lens as ll
from snippets import tuned_lens as tl
from snippets.decoder import UnsupportedModel, parts
from state_simulators.cache import CACHE_ENV
from state_simulators.model import LanguageModel

# Small enough to train on a tiny random model within a second or two.
TINY_RECIPE = replace(tl.RECIPE, context=24, vocabulary=64, others=256, steps=20, batch=64, measured=3)


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, lm):
    return tiny_lm(request.param, lm.tokenizer)


@pytest.fixture(scope="module")
def tiny_maps(tiny):
    return tl.fit(tiny, TINY_RECIPE)


def states_of(prompt: str, lm: LanguageModel) -> torch.Tensor:
    ids = lm.tokenizer(prompt, return_tensors="pt").input_ids
    return tl.residual_states(ids, lm)[:, 0]


def check_identity_maps_are_the_logit_lens(lm: LanguageModel):
    raw = states_of(ll.GRID_SENTENCE, lm)
    states, logits = ll.residual_stream(ll.GRID_SENTENCE, lm)
    tuned = tl.tuned_lens(raw, *tl.identity(parts(lm.model).depth, raw.shape[-1]), lm)
    assert torch.equal(raw[:-1], states[:-1])  # the same stream, before the final norm
    assert torch.allclose(tuned, ll.logit_lens(states, lm), atol=1e-5)
    assert torch.allclose(tuned[-1], logits, atol=1e-4)  # the last: the model's own output


def test_identity_maps_make_the_tuned_lens_the_logit_lens(lm):
    check_identity_maps_are_the_logit_lens(lm)


def test_identity_maps_make_the_logit_lens_for_any_model(tiny):
    check_identity_maps_are_the_logit_lens(tiny)


def test_translate_applies_one_affine_map_per_layer_and_leaves_the_output():
    states = torch.randn(3, 4, 5, 2)  # two maps, then the output
    weight = torch.stack([torch.eye(2), torch.tensor([[0.0, 1.0], [2.0, 0.0]])])
    bias = torch.tensor([[1.0, -1.0], [0.0, 0.0]])
    moved = tl.translate(states, weight, bias)
    assert torch.allclose(moved[0], states[0] + torch.tensor([1.0, -1.0]))
    assert torch.allclose(moved[1], torch.stack([states[1, ..., 1], 2 * states[1, ..., 0]], -1))
    assert torch.equal(moved[2], states[2])


def test_kl_divergence_agrees_with_torch():
    torch.manual_seed(0)
    target = torch.log_softmax(torch.randn(6, 11), -1)
    logits = torch.randn(3, 6, 11)
    expected = torch.nn.functional.kl_div(
        torch.log_softmax(logits, -1), target, log_target=True, reduction="none"
    ).sum(-1)
    assert torch.allclose(tl.kl_divergence(target, logits), expected, atol=1e-6)
    assert torch.allclose(tl.kl_divergence(target, target), torch.zeros(6), atol=1e-6)


def test_the_training_data_holds_the_most_likely_tokens(tiny):
    states, vocabulary, target = tl.training_data(tiny, TINY_RECIPE)
    depth = parts(tiny.model).depth
    windows = len(tl.corpus.windows(tiny.tokenizer, "fit"))
    positions = windows * (TINY_RECIPE.context - TINY_RECIPE.skip)
    assert states.shape == (depth + 1, positions, tiny.model.config.hidden_size)
    assert target.shape == (positions, TINY_RECIPE.vocabulary + 1)  # the rest, together
    assert torch.allclose(target.exp().sum(-1), torch.ones(positions), atol=1e-5)
    final = tl.final_log_probabilities(states[-1], tiny)
    assert torch.equal(target[:, :-1], final[:, vocabulary])
    mass = final.exp().sum(0)
    assert mass[vocabulary].min() >= mass.topk(TINY_RECIPE.vocabulary).values.min()


def test_lumped_logits_give_the_rest_of_the_vocabulary_one_logit():
    torch.manual_seed(0)
    unembedding = torch.nn.Linear(4, 10)
    normed = torch.randn(3, 4)
    vocabulary, rest = torch.tensor([1, 5, 7]), torch.tensor([0, 2, 3, 4, 6, 8, 9])
    full = unembedding(normed)
    exact = tl.lumped_logits(normed, vocabulary, rest, unembedding)  # every other token
    assert torch.allclose(exact[:, :-1], full[:, vocabulary])
    assert torch.allclose(exact[:, -1], full[:, rest].logsumexp(-1))
    same = torch.tensor([2, 2, 2])  # a sample of one token, thrice: 7 tokens like it
    estimate = tl.lumped_logits(normed, vocabulary, same, unembedding)[:, -1]
    assert torch.allclose(estimate, full[:, 2] + np.log(7))


def test_training_leaves_the_model_alone_and_is_deterministic(tiny, tiny_maps):
    before = {k: v.clone() for k, v in tiny.model.state_dict().items()}
    again = tl.fit(tiny, TINY_RECIPE)
    for name, tensor in tiny_maps.items():
        assert torch.equal(again[name], tensor), name
    after = tiny.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert all(p.grad is None for p in tiny.model.parameters())
    depth = parts(tiny.model).depth
    assert tiny_maps["weight"].shape == (depth, *[tiny.model.config.hidden_size] * 2)
    assert tiny_maps["history"].shape == (TINY_RECIPE.steps, depth)
    assert not torch.are_deterministic_algorithms_enabled()  # put back as it was


def test_training_lowers_the_held_out_kl_of_any_model(tiny, tiny_maps):
    found = tl.held_out_losses(tiny_maps, tiny, TINY_RECIPE)
    windows = len(tl.corpus.windows(tiny.tokenizer, "held_out"))
    depth = parts(tiny.model).depth
    for lens in ("logit", "tuned"):
        for loss in ("kl", "ce"):
            assert np.shape(found[lens][loss]) == (depth + 1, windows)
        assert found[lens]["kl"][-1] == pytest.approx([0] * windows, abs=1e-4)
    assert found["logit"]["ce"][-1] == pytest.approx(found["tuned"]["ce"][-1])
    assert np.mean(found["tuned"]["kl"][depth // 2]) < np.mean(found["logit"]["kl"][depth // 2])
    assert all(0 < c <= 1 + 1e-6 for c in found["coverage"])


def test_the_held_out_positions_read_the_next_token(tiny):
    recipe = replace(TINY_RECIPE, measured=5)
    states, following = tl.held_out_data(tiny, recipe)
    ids = tl.corpus.windows(tiny.tokenizer, "held_out")[:, : recipe.context]
    full = tl.residual_states(ids, tiny)
    for window in (0, len(ids) - 1):
        for j in range(recipe.measured):
            match = (full[:, window] == states[:, window, j, None]).all(-1).all(0)
            (position,) = match.nonzero()[:, 0].tolist()
            assert recipe.skip <= position < recipe.context - 1
            assert following[window, j] == ids[window, position + 1]


def test_the_cache_computes_a_step_once(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    calls = []

    def compute():
        calls.append(1)
        return {"x": 1}

    def step():
        return tl.cached_step(
            "test", ".json", compute, lambda d: json.dumps(d).encode(),
            lambda p: json.loads(p.read_text()), TINY_RECIPE,
        )  # fmt: skip

    assert step() == step() == {"x": 1}
    assert len(calls) == 1


def test_a_model_the_tuned_lens_cannot_read_is_one_clear_error(lm):
    config = OPTConfig(
        num_hidden_layers=1, hidden_size=16, ffn_dim=32, num_attention_heads=2, word_embed_proj_dim=16
    )
    other = LanguageModel(OPTForCausalLM(config), lm.tokenizer, "tiny OPT")
    with pytest.raises(UnsupportedModel, match="OPTForCausalLM has no layer list"):
        tl.residual_states(torch.zeros(1, 3, dtype=torch.long), other)


def test_the_trained_lens_ends_in_the_models_own_logits(lm):
    maps = tl.translators()
    depth = parts(lm.model).depth
    assert maps["weight"].shape == (depth, lm.model.config.hidden_size, lm.model.config.hidden_size)
    _, logits = ll.residual_stream(ll.PROMPTS[0], lm)
    tuned = tl.tuned_lens(states_of(ll.PROMPTS[0], lm), maps["weight"], maps["bias"], lm)
    assert torch.allclose(tuned[-1], logits, atol=1e-4)
    assert not torch.allclose(tuned[depth // 2], ll.logit_lens(states_of(ll.PROMPTS[0], lm), lm)[depth // 2])


def test_the_figures_and_facts_show_the_losses(lm):
    found = tl.loss_intervals()
    depth = parts(lm.model).depth
    fig = tl.tuned_lens_loss_figure()
    kl_axis, ce_axis = fig.axes
    assert len(kl_axis.get_lines()) == len(ce_axis.get_lines()) == 2
    assert list(kl_axis.get_lines()[1].get_ydata()) == [i.estimate for i in found["tuned"]["kl"][:-1]]
    assert list(ce_axis.get_lines()[0].get_ydata()) == [i.estimate for i in found["logit"]["ce"]]
    fig = tl.tuned_lens_grid_figure()
    cells = [t.get_text() for ax in fig.axes for t in ax.texts]
    assert len(cells) == 2 * (depth + 1) * len(ll.grid()["inputs"])
    facts = tl.tuned_facts()
    assert facts["kl_tuned_mid"] == found["tuned"]["kl"][depth // 2].format()
    assert facts["mid_layer"] == str(depth // 2)
    assert facts["table"].count("\n") >= 4


@pytest.mark.claim
def test_the_tuned_lens_reads_the_middle_layers_far_better():
    found = tl.loss_intervals()
    depth = len(found["logit"]["kl"]) - 1
    logit, tuned = found["logit"]["kl"], found["tuned"]["kl"]
    for layer in range(1, depth):  # all but the embeddings (an echo) and the output (equal)
        assert tuned[layer].high < logit[layer].low, layer  # intervals apart
    assert tuned[depth // 2].estimate < logit[depth // 2].estimate / 2
    ce_logit, ce_tuned = found["logit"]["ce"], found["tuned"]["ce"]
    assert ce_tuned[depth // 2].estimate < ce_logit[depth // 2].estimate


@pytest.mark.claim
def test_through_the_tuned_lens_the_answers_still_arrive_late(lm):
    facts = tl.tuned_facts()
    depth = parts(lm.model).depth
    assert int(facts["first_rank_mid"].replace(",", "")) > 100  # " Paris", halfway up
    assert int(facts["first_settle"]) >= depth - 5
    assert int(facts["grid_answer_layer"]) >= depth - 5  # " Berlin"


def test_losses_are_measured_once_for_the_trained_maps(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    seen = []
    monkeypatch.setattr(tl, "translators", lambda recipe: {"weight": "maps"})
    monkeypatch.setattr(tl, "load", lambda: "model")
    monkeypatch.setattr(tl, "held_out_losses", lambda *args: seen.append(args) or {"kl": [1.5]})
    assert tl.losses.__wrapped__(TINY_RECIPE) == tl.losses.__wrapped__(TINY_RECIPE) == {"kl": [1.5]}
    assert seen == [({"weight": "maps"}, "model", TINY_RECIPE)]


def test_every_artifact_of_the_page_depends_on_the_corpus():
    from state_simulators.artifacts import discover

    mine = [a for a in discover().values() if a.module == tl.__name__]
    assert len(mine) == 3 and all(a.depends == (tl.TEXT,) for a in mine)
    assert (tl.corpus.PATH.parent.parent.parent / tl.TEXT) == tl.corpus.PATH
