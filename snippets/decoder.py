"""The parts of a decoder-only language model that the pages reach into, for the common
families: Llama-, Qwen2- and Mistral-style models (`model.model.layers`, `norm`) and
GPT-2-style models (`model.transformer.h`, `ln_f`). Every page reaches them through here.

A page that needs more of a model than it has (a depth, a part) says so in one line with
`require`, before it computes anything.
"""

from dataclasses import dataclass

from state_simulators.model import position_limit

LAYER_NAMES = ("layers", "h", "blocks")
NORM_NAMES = ("norm", "ln_f", "final_layer_norm")


class UnsupportedModel(ValueError):
    """The configured model lacks what a page needs; the message names both, in one line."""


# --8<-- [start:parts]
@dataclass(frozen=True)
class Decoder:
    body: "torch.nn.Module"  # noqa: F821  the stack without the head: ids -> last hidden states
    layers: "torch.nn.ModuleList"  # noqa: F821  the blocks, in order; each reads and writes the residual stream
    final_norm: "torch.nn.Module"  # noqa: F821  applied to the last hidden state before the unembedding
    unembedding: "torch.nn.Module"  # noqa: F821  hidden state (width) -> logits (vocabulary)
    embedding: "torch.nn.Module"  # noqa: F821  token ids -> vectors (width)

    @property
    def depth(self) -> int:
        return len(self.layers)


def parts(model) -> Decoder:
    """The decoder's parts, found by the names the common families use."""
    body = model.base_model
    layers = next((getattr(body, n) for n in LAYER_NAMES if hasattr(body, n)), None)
    norm = next((getattr(body, n) for n in NORM_NAMES if hasattr(body, n)), None)
    if layers is None or norm is None or model.get_output_embeddings() is None:
        raise UnsupportedModel(
            f"{type(model).__name__} has no {'layer list' if layers is None else 'final norm'} "
            "under the names the pages know (Llama/Qwen2/Mistral- or GPT-2-style models)"
        )
    return Decoder(
        body, layers, norm, model.get_output_embeddings(), model.get_input_embeddings()
    )


# --8<-- [end:parts]


def require(
    model, *, min_depth: int = 1, min_positions: int = 0, what: str = "this page"
) -> Decoder:
    """The decoder's parts, or one line naming the requirement and the model: at least
    `min_depth` layers, and room for `min_positions` tokens (absolute position tables are
    finite: GPT-2's has 1,024 rows)."""
    decoder = parts(model)
    if decoder.depth < min_depth:
        raise UnsupportedModel(
            f"{what} needs a model with at least {min_depth} layers; "
            f"{type(model).__name__} has {decoder.depth}"
        )
    limit = position_limit(model.config)
    if limit is not None and limit < min_positions:
        raise UnsupportedModel(
            f"{what} needs {min_positions} positions; {type(model).__name__} has {limit}"
        )
    return decoder
