import types

import numpy as np
import pytest
import torch
from transformers.models.llama.modeling_llama import repeat_kv

from conftest import twice_as_two_processes
from snippets import attention as at
from snippets import stories

HALF_STEP = 0.5 / at.SCALE
FEW = stories.items()[:1]


def reference_weights(ids: list[int], lm) -> np.ndarray:
    """transformers' own weights, asked for directly: (layers, heads, q, k)."""
    before = lm.model.config._attn_implementation
    lm.model.set_attn_implementation("eager")
    try:
        with torch.no_grad():
            out = lm.model(torch.tensor([ids]), output_attentions=True)
    finally:
        lm.model.set_attn_implementation(before)
    return torch.stack(out.attentions, dim=1)[0].double().numpy()


@pytest.mark.parametrize("label", ["story", "icl", "code", "repeated"])
def test_the_stored_weights_are_transformers_weights_within_half_a_step(lm, label):
    ids = at.view_ids(label, lm)
    entry = at.viewer_data(label, ids, lm)
    stored, exact = at.decode_weights(entry), reference_weights(ids, lm)
    assert stored.shape == exact.shape == (entry["layers"], entry["heads"], len(ids), len(ids))
    assert np.abs(stored - exact).max() <= HALF_STEP + 1e-6
    assert len(entry["tokens"]) == len(ids)
    if label != "repeated":  # random tokens may be pieces of one character; texts read back whole
        assert "".join(entry["tokens"]) == lm.tokenizer.decode(ids)
    # every row sums to 1: exactly in the model, within the rounding of its cells when stored
    assert np.allclose(exact.sum(axis=-1), 1, atol=1e-5)
    rows = stored.sum(axis=-1)
    assert np.all(np.abs(rows - 1) <= HALF_STEP * np.arange(1, len(ids) + 1) + 1e-9)
    assert np.all(np.triu(stored, k=1) == 0)  # nothing stored for keys after the query


def test_eager_attention_is_switched_back_even_after_an_error(lm):
    before = lm.model.config._attn_implementation
    with pytest.raises(RuntimeError), at.eager(lm.model):
        assert lm.model.config._attn_implementation == "eager"
        raise RuntimeError("inside")
    assert lm.model.config._attn_implementation == before


def test_attention_returns_one_row_of_weights_per_query(lm):
    ids = torch.tensor([lm.tokenizer("The cat sat on the mat").input_ids] * 2)
    weights = at.attention(ids, lm)
    config = lm.model.config
    assert weights.shape == (
        2,
        config.num_hidden_layers,
        config.num_attention_heads,
        ids.shape[1],
        ids.shape[1],
    )
    assert torch.allclose(weights.sum(dim=-1), torch.ones(()), atol=1e-5)


def test_kv_group_is_the_order_transformers_repeats_key_value_heads_in(lm):
    config = lm.model.config
    kv_heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    group = config.num_attention_heads // kv_heads
    labels = torch.arange(kv_heads, dtype=torch.float).reshape(1, kv_heads, 1, 1)
    repeated = repeat_kv(labels, group)[0, :, 0, 0]  # which key/value head each query head gets
    assert [at.kv_group(h, config) for h in range(config.num_attention_heads)] == repeated.long().tolist()


def test_kv_group_of_a_model_without_grouped_query_attention():
    gpt2_like = types.SimpleNamespace(num_attention_heads=4)
    assert [at.kv_group(h, gpt2_like) for h in range(4)] == [0, 1, 2, 3]
    grouped = types.SimpleNamespace(num_attention_heads=6, num_key_value_heads=2)
    assert [at.kv_group(h, grouped) for h in range(6)] == [0, 0, 0, 1, 1, 1]


def causal_uniform(n: int) -> torch.Tensor:
    return torch.tril(torch.ones(n, n)) / torch.arange(1, n + 1).unsqueeze(1)


def one_hot_pattern(n: int, key_of) -> torch.Tensor:
    """Every query q puts all its weight on key_of(q)."""
    weights = torch.zeros(n, n)
    for q in range(n):
        weights[q, key_of(q)] = 1
    return weights


def test_the_scores_of_patterns_whose_answer_is_known():
    n, length = 10, 5
    previous = one_hot_pattern(n, lambda q: max(q - 1, 0))
    sink = one_hot_pattern(n, lambda q: 0)
    induction = one_hot_pattern(n, lambda q: q - length + 1 if q >= length else 0)
    assert at.previous_token_score(previous) == pytest.approx(1)
    assert at.previous_token_score(sink) == pytest.approx(1 / (n - 1))  # only query 1's
    assert at.sink_score(sink) == pytest.approx(1)
    assert at.second_position_score(sink) == 0
    assert at.second_position_score(one_hot_pattern(n, lambda q: min(q, 1))) == 1
    assert at.induction_score(induction, length) == pytest.approx(1)
    assert at.induction_score(previous, length) == 0
    uniform = causal_uniform(n)
    assert at.previous_token_score(uniform) == pytest.approx(np.mean([1 / (q + 1) for q in range(1, n)]))
    # scores keep the leading (texts, layers, heads) dimensions
    assert at.sink_score(torch.stack([sink, uniform])).shape == (2,)


def test_the_induction_inputs_repeat_and_the_control_does_not(lm):
    repeated, control = at.random_sequences(lm)
    assert repeated.shape == control.shape == (at.SEQUENCES, 2 * at.RANDOM_TOKENS)
    assert torch.equal(repeated[:, : at.RANDOM_TOKENS], repeated[:, at.RANDOM_TOKENS :])
    assert all(len(set(row.tolist())) == row.numel() for row in control)
    assert not set(control.flatten().tolist()) & set(lm.tokenizer.all_special_ids)
    assert at.random_tokens(3, 5, lm) == at.random_tokens(3, 5, lm) != at.random_tokens(4, 5, lm)


def test_value_positions_finds_each_value_once_or_refuses(lm):
    item = stories.items()[0]
    ids = lm.tokenizer(item.prompt(stories.BY_NAME["corrected"])).input_ids
    x, y = at.value_positions(item, ids, lm)
    assert lm.tokenizer.decode([ids[x]]).strip() == item.first
    assert lm.tokenizer.decode([ids[y]]).strip() == item.second
    assert x < y
    restated = lm.tokenizer(item.prompt(stories.BY_NAME["retracted, value restated"])).input_ids
    with pytest.raises(ValueError, match=f"'{item.first}' is 2 tokens of the story"):
        at.value_positions(item, restated, lm)


def test_final_position_reads_are_weights_at_the_value_tokens(lm, monkeypatch):
    monkeypatch.setattr(stories, "items", lambda: FEW)
    item = FEW[0]
    reads = at.final_position_reads("corrected", lm)
    ids = lm.tokenizer(item.prompt(stories.BY_NAME["corrected"])).input_ids
    x, y = at.value_positions(item, ids, lm)
    last = reference_weights(ids, lm)[:, :, -1]
    assert reads.shape == (1, 2, lm.model.config.num_hidden_layers)
    assert np.allclose(reads[0, 0], last[:, :, x].mean(axis=1), atol=1e-6)
    assert np.allclose(reads[0, 1], last[:, :, y].mean(axis=1), atol=1e-6)


def test_the_step_results_come_back_from_disk_as_they_went_in(lm, tmp_path, monkeypatch):
    from state_simulators.cache import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(at, "SEQUENCES", 2)
    monkeypatch.setattr(at, "text_windows", lambda lm: at.corpus.windows(lm.tokenizer, "held_out", 16)[:3])
    monkeypatch.setattr(stories, "items", lambda: FEW)
    for step in (at.head_scores, at.correction_reads):
        first, again = twice_as_two_processes(step)
        assert first.keys() == again.keys()
        assert all(np.array_equal(first[k], again[k]) for k in first)
    assert again["corrected"].shape[0] == 1


def test_the_text_windows_are_held_out_text(lm):
    windows = at.text_windows(lm)
    assert windows.shape[1] == at.WINDOW and windows.shape[0] >= 2
    assert lm.tokenizer.decode(windows[0]) in at.corpus.text("held_out")


def test_the_viewer_texts(lm):
    assert at.view_ids("repeated", lm)[:12] == at.view_ids("repeated", lm)[12:]
    assert lm.tokenizer.decode(at.view_ids("code", lm)) == at.CODE
    assert at.icl_text(2).count("\n") == 2 and " → " in at.icl_text(2)
