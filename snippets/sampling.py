"""Samplers: temperature, top-k, top-p and min-p, each a small function of one row of logits.

Every function takes the 1-D logits of one position and returns new logits, with the tokens it
removes set to -inf (so a softmax gives them probability 0). They match `transformers`' own
logits warpers, which the tests check token by token on the model's real logits.
"""

import math

import torch
from torch import Tensor

from snippets.next_token import check_temperature

REMOVED = -math.inf


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(
            f"top-k needs a whole number k >= 1 (got {k!r}); k = 1 is greedy, "
            "and to keep every token leave top-k out"
        )
    return k


def _check_fraction(name: str, value: float) -> float:
    if not 0 < value <= 1:
        raise ValueError(
            f"{name} must be in (0, 1] (got {value!r}); {name} = 1 keeps every "
            f"token, and to switch {name} off leave it out"
        )
    return value


# --8<-- [start:temperature]
def apply_temperature(logits: Tensor, temperature: float) -> Tensor:
    """Divide the logits by T. That is all: no noise, and the ranking stays."""
    return logits / check_temperature(temperature)


# --8<-- [end:temperature]


# --8<-- [start:top_k]
def top_k(logits: Tensor, k: int) -> Tensor:
    """Keep the k highest logits (and any tied with the k-th); cut the rest."""
    k = min(_check_k(k), logits.numel())
    kth_best = torch.topk(logits, k).values[-1]
    return logits.masked_fill(logits < kth_best, REMOVED)


# --8<-- [end:top_k]


# --8<-- [start:top_p]
def top_p(logits: Tensor, p: float) -> Tensor:
    """Drop the least likely tokens while together they hold at most 1 - p."""
    _check_fraction("top-p", p)
    ascending, order = torch.sort(logits)
    tail_mass = torch.softmax(ascending, dim=-1).cumsum(dim=-1)
    remove = tail_mass <= 1 - p
    remove[-1] = False  # the most likely token always stays
    return logits.masked_fill(remove.scatter(0, order, remove), REMOVED)


# --8<-- [end:top_p]


# --8<-- [start:min_p]
def min_p(logits: Tensor, p_base: float) -> Tensor:
    """Keep a token if its probability is at least p_base x the top one's."""
    _check_fraction("min-p", p_base)
    probabilities = torch.softmax(logits, dim=-1)
    too_small = probabilities < p_base * probabilities.max()
    return logits.masked_fill(too_small, REMOVED)


# --8<-- [end:min_p]


# --8<-- [start:pipeline]
def warp(
    logits: Tensor,
    temperature: float = 1.0,
    k: int | None = None,
    p: float | None = None,
    p_base: float | None = None,
) -> Tensor:
    """All four, in the order `transformers` applies them: temperature first."""
    logits = apply_temperature(logits, temperature)
    if k is not None:
        logits = top_k(logits, k)
    if p is not None:
        logits = top_p(logits, p)
    if p_base is not None:
        logits = min_p(logits, p_base)
    return logits


def sample(logits: Tensor, generator: torch.Generator | None = None, **settings) -> int:
    """Draw one token id from the warped distribution (settings as for warp)."""
    probabilities = torch.softmax(warp(logits, **settings), dim=-1)
    return int(torch.multinomial(probabilities, 1, generator=generator))


# --8<-- [end:pipeline]


# --8<-- [start:measures]
def entropy_bits(logits: Tensor) -> float:
    """How uncertain the distribution is: 0 bits if sure, 1 for a coin."""
    log_p = torch.log_softmax(logits.double(), dim=-1)
    p = log_p.exp()
    return float(-(p[p > 0] * log_p[p > 0]).sum() / math.log(2))


def survivors(logits: Tensor) -> int:
    """How many tokens the cuts left in (those whose logit is not -inf)."""
    return int(torch.isfinite(logits).sum())


# --8<-- [end:measures]


# --8<-- [start:order]
def warp_temperature_last(
    logits: Tensor,
    temperature: float = 1.0,
    k: int | None = None,
    p: float | None = None,
    p_base: float | None = None,
) -> Tensor:
    """The other order: cut the T = 1 distribution, then divide by T."""
    return apply_temperature(warp(logits, 1.0, k, p, p_base), temperature)


# --8<-- [end:order]


def add_arguments(parser) -> None:
    parser.add_argument("--prompt", default="The capital of France is")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--top-p", type=float, default=0.9)
    parser.add_argument("--min-p", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)


def demo(args, console) -> None:
    """`python -m snippets.sampling`: what each sampler keeps of one real distribution."""
    from rich.table import Table

    from snippets.next_token import next_token_logits
    from state_simulators.model import load

    logits = next_token_logits(args.prompt)
    table = Table(title=f"After {args.prompt!r}, at T = {args.temperature:g}")
    for column in ("sampler", "tokens kept", "entropy (bits)", "a draw (seed)"):
        table.add_column(column)
    for label, settings in {
        "temperature only": {},
        f"top-k {args.top_k}": {"k": args.top_k},
        f"top-p {args.top_p:g}": {"p": args.top_p},
        f"min-p {args.min_p:g}": {"p_base": args.min_p},
    }.items():
        warped = warp(logits, args.temperature, **settings)
        drawn = sample(
            logits,
            torch.Generator().manual_seed(args.seed),
            temperature=args.temperature,
            **settings,
        )
        table.add_row(
            label,
            str(survivors(warped)),
            f"{abs(entropy_bits(warped)):.2f}",
            repr(load().tokenizer.decode([drawn])),
        )
    console.print(table)


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
