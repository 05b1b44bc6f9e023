"""Texts of different lengths through the model in one pass: padded on the right, masked.

Padding goes after each text. Causal attention never lets a real token see a later position,
and the attention mask hides the padding from every position, so each text's hidden states are
those it would get alone, and its tokens keep their positions (0, 1, 2… from its first token),
which matters for models with absolute position embeddings such as GPT-2.
"""

import torch

from snippets.decoder import parts
from state_simulators.model import LanguageModel


# --8<-- [start:batch]
def right_padded(sequences: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids, (texts, longest), padded after each text with `pad_id`, and the attention
    mask of the same shape (1 = a real token, 0 = padding).

    Raises ValueError when there is no text or a text has no token.
    """
    if not sequences or not all(sequences):
        raise ValueError("right_padded needs at least one text, and every text a token")
    width = max(len(ids) for ids in sequences)
    batch = torch.full((len(sequences), width), pad_id)
    mask = torch.zeros_like(batch)
    for row, ids in enumerate(sequences):
        batch[row, : len(ids)], mask[row, : len(ids)] = torch.tensor(ids), 1
    return batch, mask


def final_hidden_states(sequences: list[list[int]], lm: LanguageModel) -> torch.Tensor:
    """The last hidden state (after the final norm: what the unembedding reads) at every
    position of every text, in one batched pass: (texts, longest, hidden). Positions from a
    text's length on are padding: read only positions < len(text)."""
    batch, mask = right_padded(sequences, lm.tokenizer.eos_token_id)
    with torch.no_grad():
        return parts(lm.model).body(batch, attention_mask=mask).last_hidden_state


# --8<-- [end:batch]
