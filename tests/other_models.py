"""Small random models of other architectures, with the embedded model's tokenizer, for the
tests that check the mechanics work on any causal LM (not only on SmolLM2's Llama shape).

A model is written once into the cache, under a name that hashes this file: its files (and so
the fingerprint that keys its figures) stay the same from one test run to the next.
"""

import hashlib
from pathlib import Path

from state_simulators.cache import atomic_folder, cache_dir

# GPT-2-shaped: absolute (learned) positions, LayerNorm, `transformer.h`, and an unembedding that
# is not tied to the embedding. Enough positions and layers for every page's experiments.
GPT2 = dict(n_positions=2048, n_embd=64, n_layer=8, n_head=4, tie_word_embeddings=False)


def _write(folder: Path, tokenizer) -> None:
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

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
