"""Attention: which earlier positions each position reads, per layer and per head.

Every head of every layer gives each position a set of weights over the positions up to it:
the softmax of its query's scaled dot products with their keys, so each row sums to 1
(Vaswani et al. 2017, arXiv:1706.03762). transformers returns them with
`output_attentions=True`, from its plain ("eager") implementation: its fused kernels never form
the matrix. SmolLM2 uses grouped-query attention (Ainslie et al. 2023, arXiv:2305.13245): its
9 query heads share 3 key/value heads, 3 query heads to each.

Three standard patterns, each scored per layer and head:
- the attention sink: weight on the first position, whatever its token (Xiao et al. 2023,
  arXiv:2309.17453);
- previous-token heads: weight on the position just before (Elhage et al. 2021);
- induction heads: on a random token sequence shown twice, weight from a token in the second
  copy to the token after its earlier copy (Olsson et al. 2022, arXiv:2209.11895).
"""

import base64
import functools
from contextlib import contextmanager

import numpy as np
import torch

from snippets import corpus, stories
from snippets.in_context import TASKS, sequence_inputs
from snippets.layers import sink_layer
from snippets.next_token import check_prompt, token_text
from state_simulators import keys
from state_simulators.model import LanguageModel, load

WINDOW = 64  # tokens per window of held-out text: the unit of resampling for sink and previous
RANDOM_TOKENS = 24  # tokens per random sequence of the induction test, before it repeats
SEQUENCES = 20  # random sequences (seeds 0…19): the unit of resampling for induction scores
SCALE = 255  # the viewer's data stores round(weight × 255) in one byte: a step of 1/255
CODE = "def area(width, height):\n    return width * height\n\nprint(area(3, 4))"


# --8<-- [start:weights]
@contextmanager
def eager(model):
    """transformers' plain attention while the block runs, then the model's own again."""
    before = model.config._attn_implementation
    model.set_attn_implementation("eager")
    try:
        yield model
    finally:
        model.set_attn_implementation(before)


def attention(ids: torch.Tensor, lm: LanguageModel | None = None) -> torch.Tensor:
    """The attention weights of every layer and head in one pass.

    ids: (texts, positions) token ids. Returns (texts, layers, heads, positions, positions):
    [t, l, h, q, k] is the weight that query position q gives key position k; 0 where k > q,
    as a position never reads ahead. Each row (fixed t, l, h, q) sums to 1.
    """
    lm = lm or load()
    with eager(lm.model), torch.no_grad():
        out = lm.model(ids, output_attentions=True)
    return torch.stack(out.attentions, dim=1)


def kv_group(head: int, config) -> int:
    """The key/value head that query `head` reads (transformers' `repeat_kv` order)."""
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    return head // (heads // kv_heads)


# --8<-- [end:weights]


# --8<-- [start:scores]
def sink_score(weights: torch.Tensor) -> torch.Tensor:
    """Mean weight on the first position, over queries 1…: (..., q, k) -> (...)."""
    return weights[..., 1:, 0].mean(dim=-1)


def second_position_score(weights: torch.Tensor) -> torch.Tensor:
    """The control for the sink: mean weight on the second position, over queries 2…."""
    return weights[..., 2:, 1].mean(dim=-1)


def previous_token_score(weights: torch.Tensor) -> torch.Tensor:
    """Mean weight on the position just before, over queries 1…: (..., q, k) -> (...)."""
    return torch.diagonal(weights, offset=-1, dim1=-2, dim2=-1).mean(dim=-1)


def induction_score(weights: torch.Tensor, length: int) -> torch.Tensor:
    """On a sequence of `length` tokens shown twice, the mean weight from each query in the
    second copy (q = length…2·length − 1) to the key after its earlier copy (q − length + 1)."""
    # diagonal(offset=-(length - 1)) holds [q, q - length + 1] for q = length - 1, length, …
    return torch.diagonal(weights, offset=1 - length, dim1=-2, dim2=-1)[..., 1:].mean(dim=-1)


# --8<-- [end:scores]


def text_windows(lm: LanguageModel) -> torch.Tensor:
    """Windows of held-out human text: (windows, WINDOW) token ids."""
    return corpus.windows(lm.tokenizer, "held_out", WINDOW)


def random_tokens(seed: int, count: int, lm: LanguageModel) -> list[int]:
    """`count` distinct ordinary (non-special) token ids, drawn with `seed`."""
    special = set(lm.tokenizer.all_special_ids)
    ordinary = [i for i in range(len(lm.tokenizer)) if i not in special]
    return [int(i) for i in np.random.default_rng(seed).choice(ordinary, count, replace=False)]


def random_sequences(lm: LanguageModel) -> tuple[torch.Tensor, torch.Tensor]:
    """The induction test's inputs, one row per seed: each RANDOM_TOKENS random tokens shown
    twice (repeated), and, as the control, as many random tokens that never repeat."""
    draws = [random_tokens(seed, 2 * RANDOM_TOKENS, lm) for seed in range(SEQUENCES)]
    repeated = [d[:RANDOM_TOKENS] * 2 for d in draws]
    return torch.tensor(repeated), torch.tensor(draws)


def batched(ids: torch.Tensor, score, lm: LanguageModel, batch: int = 8) -> np.ndarray:
    """`score(weights)` over texts in batches (the weights of all texts at once are large)."""
    parts = [score(attention(ids[i : i + batch], lm)) for i in range(0, len(ids), batch)]
    return torch.cat(parts).numpy()


def compute_head_scores(lm: LanguageModel) -> dict[str, np.ndarray]:
    """Every score per text (the unit) and head: arrays (texts, layers, heads)."""
    texts = text_windows(lm)
    repeated, control = random_sequences(lm)

    def induction(w):
        return induction_score(w, RANDOM_TOKENS)

    with torch.no_grad():
        states = lm.model(texts[:8], output_hidden_states=True).hidden_states
    return {
        "sink": batched(texts, sink_score, lm),
        "second": batched(texts, second_position_score, lm),
        "previous": batched(texts, previous_token_score, lm),
        "induction": batched(repeated, induction, lm),
        "induction_control": batched(control, induction, lm),
        "sink_layer": np.array(sink_layer(states)),
    }


@functools.cache
def head_scores() -> dict[str, np.ndarray]:
    """`compute_head_scores` on the page's model, cached on disk for the figures, facts, tests."""
    path = keys.step_path("attention", "heads", [__name__], suffix=".npz")
    return keys.cached_arrays(path, lambda: compute_head_scores(load()))


# --8<-- [start:correction]
def value_positions(item: stories.Item, ids: list[int], lm: LanguageModel) -> tuple[int, int]:
    """Where the story states its first value (X) and its second value (Y), each once."""
    found = []
    for value in (item.first, item.second):
        token = lm.tokenizer(f" {value}").input_ids[0]
        where = [i for i, t in enumerate(ids) if t == token]
        if len(where) != 1:
            raise ValueError(f"{value!r} is {len(where)} tokens of the story, not 1: {ids}")
        found.append(where[0])
    return found[0], found[1]


def final_position_reads(condition: str, lm: LanguageModel) -> np.ndarray:
    """For every story in `condition`: the last position's weight (mean over heads) on the
    first-stated and on the second value, per layer: (stories, 2, layers)."""
    rows = []
    for item in stories.items():
        ids = lm.tokenizer(item.prompt(stories.BY_NAME[condition])).input_ids
        x, y = value_positions(item, ids, lm)
        last = attention(torch.tensor([ids]), lm)[0, :, :, -1]  # (layers, heads, keys)
        rows.append(last[:, :, [x, y]].mean(dim=1).T.numpy())
    return np.stack(rows)


# --8<-- [end:correction]

CONDITIONS = ("corrected", "mentioned, not a correction")


@functools.cache
def correction_reads() -> dict[str, np.ndarray]:
    """`final_position_reads` for each of CONDITIONS, cached on disk."""
    path = keys.step_path("attention", "correction", [__name__], suffix=".npz")
    lm = load()
    return keys.cached_arrays(
        path, lambda: {c: final_position_reads(c, lm) for c in CONDITIONS}
    )


# --8<-- [start:viewer]
def lower_triangle(weights: torch.Tensor) -> bytes:
    """(layers, heads, q, k) weights as bytes: round(w × SCALE) for k ≤ q, row after row."""
    rows = np.tril_indices(weights.shape[-1])
    flat = weights[..., rows[0], rows[1]].reshape(-1)  # layer, head, then q and k ≤ q
    return np.round(flat.numpy() * SCALE).astype(np.uint8).tobytes()


def viewer_data(title: str, ids: list[int], lm: LanguageModel) -> dict:
    """What the attention viewer loads for one text: its tokens and every layer's and head's
    weights, quantised to one byte each and base64-encoded."""
    weights = attention(torch.tensor([ids]), lm)[0]
    config = lm.model.config
    return {
        "title": title,
        "tokens": [token_text(lm.tokenizer, i) for i in ids],
        "layers": weights.shape[0],
        "heads": weights.shape[1],
        "groups": [kv_group(h, config) for h in range(weights.shape[1])],
        "scale": SCALE,
        "weights": base64.b64encode(lower_triangle(weights)).decode("ascii"),
    }


# --8<-- [end:viewer]


def decode_weights(entry: dict) -> np.ndarray:
    """A viewer file's weights back as (layers, heads, q, k) floats, 0 above the diagonal."""
    n = len(entry["tokens"])
    flat = np.frombuffer(base64.b64decode(entry["weights"]), dtype=np.uint8) / entry["scale"]
    out = np.zeros((entry["layers"], entry["heads"], n, n))
    rows = np.tril_indices(n)
    out[..., rows[0], rows[1]] = flat.reshape(entry["layers"], entry["heads"], -1)
    return out


def icl_text(examples: int = 6) -> str:
    """The first examples of the in-context learning page's first task, one per line."""
    task = TASKS[0]
    return "".join(f"{x} → {task.answer(x)}\n" for x in sequence_inputs(task, 0)[:examples])


def view_ids(label: str, lm: LanguageModel) -> list[int]:
    """The token ids of one of the viewer's texts."""
    if label == "repeated":
        return random_tokens(0, 12, lm) * 2
    text = {
        "story": stories.items()[0].prompt(stories.BY_NAME["corrected"]),
        "icl": icl_text(),
        "code": CODE,
    }[label]
    return lm.tokenizer(check_prompt(text)).input_ids
