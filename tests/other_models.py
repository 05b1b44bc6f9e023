"""Small random models of other architectures, with the embedded model's tokenizer, for the
tests that check the mechanics work on any causal LM (not only on SmolLM2's Llama shape).

A model is written once into the cache, under a name that hashes this file: its files (and so
the fingerprint that keys its figures) stay the same from one test run to the next.
"""

import hashlib
from pathlib import Path

import torch
from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

from state_simulators.cache import atomic_folder, cache_dir
from state_simulators.model import LanguageModel

# In memory, for mechanics tests: random causal LMs unlike SmolLM2, two layers each: GPT-2
# (absolute positions, LayerNorm, tied embeddings) and a Llama with untied embeddings.
TINY = {
    "gpt2": lambda vocab, eos: GPT2LMHeadModel(
        GPT2Config(n_layer=2, n_embd=64, n_head=4, vocab_size=vocab, bos_token_id=eos, eos_token_id=eos)
    ),
    "llama-untied": lambda vocab, eos: LlamaForCausalLM(
        LlamaConfig(
            num_hidden_layers=2,
            hidden_size=64,
            intermediate_size=128,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=vocab,
            tie_word_embeddings=False,
            bos_token_id=eos,
            eos_token_id=eos,
            pad_token_id=eos,
        )
    ),
}


def tiny_lm(kind: str, tokenizer) -> LanguageModel:
    """A seeded random model of `kind`, paired with the embedded model's tokenizer."""
    torch.manual_seed(0)
    model = TINY[kind](len(tokenizer), tokenizer.eos_token_id).eval()
    return LanguageModel(model, tokenizer, f"tiny {kind}")


# GPT-2-shaped: absolute (learned) positions, LayerNorm, `transformer.h`, and an unembedding that
# is not tied to the embedding. Enough positions and layers for every page's experiments.
GPT2 = dict(n_positions=2048, n_embd=64, n_layer=16, n_head=4, tie_word_embeddings=False)


def _write(folder: Path, tokenizer) -> None:
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **GPT2,
    )
    model = GPT2LMHeadModel(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)


def gpt2_folder(tokenizer) -> Path:
    """A saved tiny random GPT-2-shaped model with `tokenizer`; made on first use."""
    version = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    folder = cache_dir("test-models") / f"gpt2-tiny-{version}"
    if not folder.exists():
        atomic_folder(folder, lambda tmp: _write(tmp, tokenizer))
    return folder
