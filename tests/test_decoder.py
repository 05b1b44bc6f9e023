"""One adapter reaches the layers, final norm and unembedding of Llama- and GPT-2-style models."""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from snippets import decoder


def tiny_gpt2(layers: int = 2) -> GPT2LMHeadModel:
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=50, n_positions=16, n_embd=8, n_layer=layers, n_head=2)
    return GPT2LMHeadModel(config).eval()


def tiny_llama(layers: int = 2) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=50, hidden_size=8, intermediate_size=16, num_hidden_layers=layers,
        num_attention_heads=2, num_key_value_heads=1, tie_word_embeddings=False,
    )  # fmt: skip
    return LlamaForCausalLM(config).eval()


@pytest.mark.parametrize("make", [tiny_gpt2, tiny_llama], ids=["gpt2", "llama"])
def test_the_parts_recompute_the_models_logits(make):
    model = make(3)
    parts = decoder.parts(model)
    assert parts.depth == 3 and parts.layers is not None
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        hidden = parts.body(ids).last_hidden_state  # already through the final norm
        assert torch.allclose(parts.unembedding(hidden), model(ids).logits, atol=1e-6)
        assert parts.embedding(ids).shape == (1, 4, 8)


def test_the_real_model_is_reached_the_same_way(lm):
    parts = decoder.parts(lm.model)
    assert parts.depth == lm.model.config.num_hidden_layers
    assert parts.unembedding.weight.shape[0] == lm.model.config.vocab_size


def test_a_model_without_known_parts_is_refused_in_one_line():
    model = tiny_gpt2()
    model.transformer.ln_f = None
    del model.transformer.ln_f
    with pytest.raises(decoder.UnsupportedModel, match=r"GPT2LMHeadModel has no final norm"):
        decoder.parts(model)


def test_a_page_needing_more_layers_says_so():
    with pytest.raises(
        decoder.UnsupportedModel, match=r"the layers page needs a model with at least 4 layers"
    ):
        decoder.require(tiny_gpt2(2), min_depth=4, what="the layers page")
    assert decoder.require(tiny_llama(4), min_depth=4).depth == 4


def test_a_page_needing_more_positions_than_the_model_has_says_so():
    model = tiny_gpt2(2)  # 16 absolute positions
    with pytest.raises(
        decoder.UnsupportedModel, match=r"the KV-cache timing needs 225 positions; GPT2LMHeadModel has 16"
    ):
        decoder.require(model, min_positions=225, what="the KV-cache timing")
    assert decoder.require(model, min_positions=16).depth == 2
