"""Small random models of other architectures, with the embedded model's tokenizer, for the
tests that check the mechanics work on any causal LM (not only on SmolLM2's Llama shape).

A saved model is written once into the cache, under a name that hashes what makes it: its files
(and so the fingerprint that keys its figures) stay the same from one test run to the next.
"""

import hashlib
import inspect
from pathlib import Path

import torch
import transformers

from state_simulators.cache import atomic_folder, cache_dir
from state_simulators.model import LanguageModel

FAMILIES = ("gpt2", "llama", "qwen2")


def tiny_model(family: str, depth: int = 2, vocab: int = 97, positions: int = 1024, eos: int = 0, **config):
    """A seeded random causal LM unlike SmolLM2, width 64: GPT-2 (absolute positions,
    LayerNorm, tied embeddings), or a Llama or Qwen2 with untied embeddings."""
    torch.manual_seed(0)
    if family == "gpt2":
        settings = dict(n_layer=depth, n_embd=64, n_head=4, n_positions=positions)
        ids = dict(bos_token_id=eos, eos_token_id=eos)
        return transformers.GPT2LMHeadModel(
            transformers.GPT2Config(vocab_size=vocab, **settings, **ids, **config)
        ).eval()
    settings = dict(
        num_hidden_layers=depth, hidden_size=64, intermediate_size=128, num_attention_heads=4,
        num_key_value_heads=2, vocab_size=vocab, tie_word_embeddings=False,
        max_position_embeddings=positions, bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
    )  # fmt: skip
    if family == "llama":
        return transformers.LlamaForCausalLM(transformers.LlamaConfig(**settings, **config)).eval()
    return transformers.Qwen2ForCausalLM(transformers.Qwen2Config(**settings, **config)).eval()


TINY = ("gpt2", "llama")  # the families the mechanics tests pair with the embedded tokenizer


def tiny_lm(family: str, tokenizer) -> LanguageModel:
    """A tiny random model of `family`, paired with the embedded model's tokenizer."""
    model = tiny_model(family, vocab=len(tokenizer), eos=tokenizer.eos_token_id)
    return LanguageModel(model, tokenizer, f"tiny {family}")


# GPT-2-shaped: absolute (learned) positions, LayerNorm, `transformer.h`, and an unembedding that
# is not tied to the embedding. Enough positions and layers for every page's experiments.
GPT2 = dict(n_positions=2048, n_embd=64, n_layer=16, n_head=4, tie_word_embeddings=False)


def _write(folder: Path, tokenizer) -> None:
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **GPT2,
    )
    model = transformers.GPT2LMHeadModel(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def gpt2_folder(tokenizer) -> Path:
    """A saved tiny random GPT-2-shaped model with `tokenizer`; made on first use."""
    version = hashlib.sha256(f"{GPT2}{inspect.getsource(_write)}".encode()).hexdigest()[:12]
    folder = cache_dir("test-models") / f"gpt2-tiny-{version}"
    if not folder.exists():
        atomic_folder(folder, lambda tmp: _write(tmp, tokenizer))
    return folder
