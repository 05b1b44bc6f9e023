import pytest
import torch

from snippets import logit_lens as ll


@pytest.mark.parametrize("prompt", [*ll.PROMPTS, ll.GRID_SENTENCE])
def test_the_lens_at_the_last_layer_is_the_models_real_output(lm, prompt):
    states, logits = ll.residual_stream(prompt, lm)
    lens = ll.logit_lens(states, lm)
    layers = lm.model.config.num_hidden_layers
    assert lens.shape == (layers + 1, logits.shape[0], lm.model.config.vocab_size)
    assert torch.allclose(lens[-1], logits, atol=1e-4)


def test_normalising_the_last_state_twice_would_be_wrong(lm):
    states, logits = ll.residual_stream(ll.PROMPTS[0], lm)
    with torch.no_grad():
        twice = lm.model.lm_head(lm.model.model.norm(states[-1]))
    assert (twice - logits).abs().max() > 1.0
    assert float(ll.lens_facts()["twice_diff"]) > 1.0


def test_the_states_are_the_embeddings_then_each_layers_output(lm):
    ids = lm.tokenizer(ll.PROMPTS[0], return_tensors="pt").input_ids
    states, _ = ll.residual_stream(ll.PROMPTS[0], lm)
    assert states.shape[0] == lm.model.config.num_hidden_layers + 1
    with torch.no_grad():
        assert torch.equal(states[0], lm.model.model.embed_tokens(ids)[0])
    seen = {}
    hook = lm.model.model.layers[4].register_forward_hook(
        lambda module, args, output: seen.setdefault("out", output)
    )
    try:
        with torch.no_grad():
            lm.model(ids)
    finally:
        hook.remove()
    assert torch.allclose(states[5], seen["out"][0], atol=1e-5)  # state l = after layer l (1-based)


def test_settling_layer():
    assert ll.settling_layer([False, True, True]) == 1
    assert ll.settling_layer([True, True, True]) == 0
    assert ll.settling_layer([True, False, True]) == 2


def test_every_answer_becomes_the_top_token_only_in_the_last_few_layers(lm):
    layers = lm.model.config.num_hidden_layers
    for track in ll.tracks():
        ranks = track["rank"]
        assert ranks[-1] == 1  # the final answer is the output's top token
        assert ranks[layers // 2] > 10, track["prompt"]  # far from the top halfway up
        assert ll.settling_layer([r == 1 for r in ranks]) >= layers - 5, track["prompt"]
        assert track["probability"][layers // 2] < 0.01
    assert [t["answer"] for t in ll.tracks()[:2]] == [" Paris", " girl"]


def test_the_grid_ends_in_the_models_predictions_and_starts_by_echoing_the_input(lm):
    g = ll.grid()
    ids = lm.tokenizer(ll.GRID_SENTENCE, return_tensors="pt").input_ids
    with torch.no_grad():
        predicted = lm.model(ids).logits[0].argmax(-1)
    assert g["top"][-1] == [lm.tokenizer.decode([int(i)]) for i in predicted]
    assert g["top"][-1][-1] == " Berlin"
    echoes = sum(a == b for a, b in zip(g["top"][0], g["inputs"]))
    assert echoes > len(g["inputs"]) / 2  # tied embeddings: layer 0 predicts the token itself
    settled = ll.grid_settling_layers(g)
    assert settled[-1] >= lm.model.config.num_hidden_layers - 5


GENERIC = {",", ".", " ", "-", " (", " the", " of", " and", " is", " a"}


def test_the_middle_layers_guess_generic_tokens(lm):
    g = ll.grid()
    layers = lm.model.config.num_hidden_layers
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
    assert ll.cell_text(g["top"][-1][-1]) in cells


def test_lens_facts_match_the_tracks(lm):
    facts = ll.lens_facts()
    first = ll.tracks()[0]
    assert facts["first_answer"] == "␣Paris"
    assert facts["first_settle"] == str(ll.settling_layer([r == 1 for r in first["rank"]]))
    assert int(facts["earliest_settle"]) >= lm.model.config.num_hidden_layers - 5
    assert facts["table"].count("\n") == len(ll.PROMPTS) + 1
    assert facts["grid_answer"] == "␣Berlin"


def test_labels_are_shortened_to_fit():
    assert ll.short_prompt("short") == "short"
    assert ll.short_prompt("x" * 40, width=10) == "…" + "x" * 9
    assert ll.cell_text(" capital") == "␣capit…"
    assert ll.cell_text(" is") == "␣is"
