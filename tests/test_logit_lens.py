import inspect

import pytest
import torch
from transformers import OPTConfig, OPTForCausalLM

from other_models import TINY, tiny_lm
from snippets import logit_lens as ll
from snippets.decoder import UnsupportedModel, parts
from state_simulators.model import LanguageModel


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, lm):
    return tiny_lm(request.param, lm.tokenizer)


def check_lens_ends_in_the_real_logits(prompt: str, lm: LanguageModel):
    states, logits = ll.residual_stream(prompt, lm)
    lens = ll.logit_lens(states, lm)
    depth = parts(lm.model).depth
    assert lens.shape == (depth + 1, logits.shape[0], logits.shape[-1])
    assert torch.allclose(lens[-1], logits, atol=1e-4)


@pytest.mark.parametrize("prompt", [*ll.PROMPTS, ll.GRID_SENTENCE])
def test_the_lens_at_the_last_layer_is_the_models_real_output(lm, prompt):
    check_lens_ends_in_the_real_logits(prompt, lm)


def test_the_lens_works_for_gpt2_style_and_untied_models(tiny):
    check_lens_ends_in_the_real_logits(ll.GRID_SENTENCE, tiny)


def check_states_are_layer_inputs_and_outputs(lm: LanguageModel):
    """states[0] enters the first layer, states[l] leaves layer l, and the last one is also
    normalised: the tensor the unembedding reads."""
    decoder = parts(lm.model)
    ids = lm.tokenizer(ll.PROMPTS[0], return_tensors="pt").input_ids
    states, _ = ll.residual_stream(ll.PROMPTS[0], lm)
    seen = []
    hooks = [decoder.layers[0].register_forward_pre_hook(lambda m, args: seen.append(args[0]))]
    hooks += [
        layer.register_forward_hook(
            lambda m, args, out: seen.append(out[0] if isinstance(out, tuple) else out)
        )
        for layer in decoder.layers
    ]
    try:
        with torch.no_grad():
            lm.model(ids)
            last = decoder.final_norm(seen[-1])
    finally:
        for hook in hooks:
            hook.remove()
    assert states.shape[0] == decoder.depth + 1 == len(seen)
    for state, layer_side in zip(states[:-1], seen[:-1]):
        assert torch.allclose(state, layer_side[0], atol=1e-5)
    assert torch.allclose(states[-1], last[0], atol=1e-5)


def test_the_states_are_the_embeddings_then_each_layers_output(lm):
    check_states_are_layer_inputs_and_outputs(lm)


def test_the_states_line_up_with_the_layers_of_any_model(tiny):
    check_states_are_layer_inputs_and_outputs(tiny)


def test_a_model_the_lens_cannot_read_is_one_clear_error(lm):
    config = OPTConfig(
        num_hidden_layers=1, hidden_size=16, ffn_dim=32, num_attention_heads=2, word_embed_proj_dim=16
    )
    other = LanguageModel(OPTForCausalLM(config), lm.tokenizer, "tiny OPT")
    with pytest.raises(UnsupportedModel, match="OPTForCausalLM has no layer list"):
        ll.logit_lens(torch.zeros(2, 3, 16), other)


@pytest.mark.claim
def test_normalising_the_last_state_twice_would_be_wrong(lm):
    decoder = parts(lm.model)
    states, logits = ll.residual_stream(ll.PROMPTS[0], lm)
    with torch.no_grad():
        twice = decoder.unembedding(decoder.final_norm(states[-1]))
    assert (twice - logits).abs().max() > 1.0  # the norm's learned weights, applied twice
    assert float(ll.lens_facts()["twice_diff"]) > 1.0


def test_settling_layer():
    assert ll.settling_layer([False, True, True]) == 1
    assert ll.settling_layer([True, True, True]) == 0
    assert ll.settling_layer([True, False, True]) == 2


def test_a_track_follows_the_final_answer_through_every_layer(tiny):
    track = ll.track_answer(ll.PROMPTS[0], tiny)
    depth = parts(tiny.model).depth
    assert len(track["probability"]) == len(track["rank"]) == depth + 1
    assert track["rank"][-1] == 1  # the answer is the output's top token, by definition
    assert all(0 <= p <= 1 for p in track["probability"])


@pytest.mark.claim
def test_every_answer_becomes_the_top_token_only_in_the_last_few_layers(lm):
    layers = parts(lm.model).depth
    assert layers == 30
    for track in ll.tracks():
        ranks = track["rank"]
        assert ranks[-1] == 1  # the final answer is the output's top token
        assert ranks[layers // 2] > 10, track["prompt"]  # far from the top halfway up
        assert ll.settling_layer([r == 1 for r in ranks]) >= layers - 5, track["prompt"]
        assert track["probability"][layers // 2] < 0.01
    assert [t["answer"] for t in ll.tracks()[:2]] == [" Paris", " girl"]


def test_the_grid_ends_in_the_models_predictions(lm):
    g = ll.grid()
    ids = lm.tokenizer(ll.GRID_SENTENCE, return_tensors="pt").input_ids
    with torch.no_grad():
        predicted = lm.model(ids).logits[0].argmax(-1)
    assert g["top"][-1] == [lm.tokenizer.decode([int(i)]) for i in predicted]
    assert len(g["top"]) == parts(lm.model).depth + 1
    assert g["probability"].shape == (len(g["top"]), len(g["inputs"]))


@pytest.mark.claim
def test_the_grid_starts_by_echoing_the_input_and_names_berlin_late(lm):
    g = ll.grid()
    assert g["top"][-1][-1] == " Berlin"
    echoes = sum(a == b for a, b in zip(g["top"][0], g["inputs"]))
    assert echoes > len(g["inputs"]) / 2  # tied embeddings: layer 0 predicts the token itself
    settled = ll.grid_settling_layers(g)
    assert settled[-1] >= parts(lm.model).depth - 5


GENERIC = {",", ".", " ", "-", " (", " the", " of", " and", " is", " a"}


@pytest.mark.claim
def test_the_middle_layers_guess_generic_tokens(lm):
    g = ll.grid()
    layers = parts(lm.model).depth
    middle = [token for row in g["top"][layers // 3 : 2 * layers // 3] for token in row]
    assert sum(token in GENERIC for token in middle) > 0.8 * len(middle)


def test_figures_draw_the_tracked_numbers():
    tracks = ll.tracks()
    fig = ll.logit_lens_answers_figure()
    left, right = fig.axes
    assert len(left.get_lines()) == len(tracks)
    assert list(left.get_lines()[0].get_ydata()) == pytest.approx(tracks[0]["probability"])
    assert list(right.get_lines()[0].get_ydata()) == tracks[0]["rank"]
    fig = ll.logit_lens_grid_figure()
    cells = [t.get_text() for t in fig.axes[0].texts]
    g = ll.grid()
    assert len(cells) == len(g["top"]) * len(g["inputs"])
    width = inspect.signature(ll.draw_grid).parameters["width"].default  # as the grid cuts
    assert ll.cell_text(g["top"][-1][-1], width) in cells


def test_lens_facts_match_the_tracks(lm):
    facts = ll.lens_facts()
    first = ll.tracks()[0]
    assert facts["first_settle"] == str(ll.settling_layer([r == 1 for r in first["rank"]]))
    assert facts["states"] == str(parts(lm.model).depth + 1)
    table = facts["table"].splitlines()
    assert len(table) == len(ll.PROMPTS) + 2  # header, rule, a row per prompt
    assert "`def add(a, b):↵    return a`" in facts["table"]  # one line per prompt
    assert not {"layers", "hidden", "vocab"} & set(facts)  # those are the `model` group's


@pytest.mark.claim
def test_lens_facts_name_what_smollm2_answers(lm):
    facts = ll.lens_facts()
    assert facts["first_answer"] == "␣Paris"
    assert int(facts["earliest_settle"]) >= parts(lm.model).depth - 5
    assert facts["grid_answer"] == "␣Berlin"


def test_labels_are_shortened_to_fit():
    assert ll.short_prompt("short") == "short"
    assert ll.short_prompt("x" * 40, width=10) == "…" + "x" * 9
    assert ll.cell_text(" capital") == "␣capit…"
    assert ll.cell_text(" is") == "␣is"


def test_every_prompt_of_the_answers_figure_has_a_colour_unlike_the_others():
    """No two prompts in one hue: their hues differ by 10 degrees or more, black aside (the
    palette's blue and sky blue share a hue, told apart only by lightness)."""
    import colorsys
    from itertools import combinations

    from matplotlib.colors import to_rgb

    assert len(ll.ANSWER_COLOURS) >= len(ll.PROMPTS)
    shown = [colorsys.rgb_to_hls(*to_rgb(c)) for c in ll.ANSWER_COLOURS[: len(ll.PROMPTS)]]
    hues = [360 * h for h, _, saturation in shown if saturation > 0.1]
    gaps = [min(abs(a - b), 360 - abs(a - b)) for a, b in combinations(hues, 2)]
    assert len(hues) >= len(shown) - 1  # at most one grey
    assert min(gaps) >= 10, min(gaps)
