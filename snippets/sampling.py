"""Samplers: temperature, top-k, top-p and min-p, each a small function of one row of logits.

Every function takes the 1-D logits of one position and returns new logits, with the tokens it
removes set to -inf (so a softmax gives them probability 0). They match `transformers`' own
logits warpers, which the tests check token by token on the model's real logits. One setting of
all four is a `Samplers`: the one form the pages, the batched experiment and the explorer's
data file use.
"""

import dataclasses
import math
from dataclasses import dataclass

import torch
import transformers
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


# What the extreme value keeps, for the error message: each must name a correct fix.
AT_ONE = {
    "top-p": "top-p = 1 keeps every token",
    "min-p": "min-p = 1 keeps only the top token",
}


def _check_fraction(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
        raise ValueError(
            f"{name} must be in (0, 1] (got {value!r}); {AT_ONE[name]}, "
            f"and to switch {name} off leave it out"
        )
    return value


@dataclass(frozen=True)
class Samplers:
    """One sampler setting: a temperature and up to three cuts, each None when not used.

    `temperature=None` is greedy decoding (only the most likely token survives). Impossible
    values (T <= 0, k < 1, p outside (0, 1]) raise ValueError with one line naming the fix.
    """

    temperature: float | None = 1.0
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None

    def __post_init__(self) -> None:
        if self.temperature is not None:
            check_temperature(self.temperature)
        if self.top_k is not None:
            _check_k(self.top_k)
        for name, value in (("top-p", self.top_p), ("min-p", self.min_p)):
            if value is not None:
                _check_fraction(name, value)

    @property
    def greedy(self) -> bool:
        return self.temperature is None

    @property
    def cuts(self) -> str:
        """The cuts as a reader names them: "top-k 50, min-p 0.1", or "no cut"."""
        named = (("top-k", self.top_k), ("top-p", self.top_p), ("min-p", self.min_p))
        return ", ".join(f"{name} {v}" for name, v in named if v is not None) or "no cut"

    @property
    def label(self) -> str:
        """How pages name the setting: "greedy", "T = 1.5" or "T = 1.5, top-p 0.9"."""
        if self.greedy:
            return "greedy"
        temperature = f"T = {self.temperature:g}"
        return temperature if self.cuts == "no cut" else f"{temperature}, {self.cuts}"

    def at(self, temperature: float | None) -> "Samplers":
        """The same cuts at another temperature."""
        return dataclasses.replace(self, temperature=temperature)

    def processors(self, temperature_last: bool = False) -> transformers.LogitsProcessorList:
        """transformers' own logits warpers for this setting, in the order `generate` runs
        them (temperature first); greedy is top-k 1. `temperature_last=True` moves the
        temperature after the cuts, the order of llama.cpp's default sampler chain."""
        if self.greedy:
            return transformers.LogitsProcessorList([transformers.TopKLogitsWarper(1)])
        cuts = [
            warper(value)
            for value, warper in (
                (self.top_k, transformers.TopKLogitsWarper),
                (self.top_p, transformers.TopPLogitsWarper),
                (self.min_p, transformers.MinPLogitsWarper),
            )
            if value is not None
        ]
        temperature = [transformers.TemperatureLogitsWarper(self.temperature)]
        chain = cuts + temperature if temperature_last else temperature + cuts
        return transformers.LogitsProcessorList(chain)

    def to_json(self) -> dict:
        """The setting as the explorer's data file stores it (null: not used);
        `Samplers(**data)` reads it back."""
        return dataclasses.asdict(self)


GREEDY = Samplers(temperature=None)


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
def warp(logits: Tensor, samplers: Samplers) -> Tensor:
    """All four, in the order `transformers` applies them: temperature first.
    `samplers` holds a temperature and the cuts to make (None: not made)."""
    if samplers.greedy:
        return top_k(logits, 1)
    logits = apply_temperature(logits, samplers.temperature)
    if samplers.top_k is not None:
        logits = top_k(logits, samplers.top_k)
    if samplers.top_p is not None:
        logits = top_p(logits, samplers.top_p)
    if samplers.min_p is not None:
        logits = min_p(logits, samplers.min_p)
    return logits


def sample(
    logits: Tensor, samplers: Samplers, generator: torch.Generator | None = None
) -> int:
    """Draw one token id from the warped distribution."""
    probabilities = torch.softmax(warp(logits, samplers), dim=-1)
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
def warp_temperature_last(logits: Tensor, samplers: Samplers) -> Tensor:
    """The other order: cut the T = 1 distribution, then divide by T."""
    cut = warp(logits, samplers.at(1.0))
    return apply_temperature(cut, samplers.temperature)


# --8<-- [end:order]


def add_arguments(parser) -> None:
    from state_simulators.arguments import positive_int, seed

    parser.add_argument("--prompt", default="The capital of France is")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--top-k", type=positive_int, default=50)
    parser.add_argument("--top-p", type=float, default=0.9)
    parser.add_argument("--min-p", type=float, default=0.1)
    parser.add_argument("--seed", type=seed, default=0)


def demo_rows(args) -> list[tuple[str, int, float, str]]:
    """(sampler, tokens kept, entropy in bits, a seeded draw) for each sampler alone."""
    from snippets.next_token import next_token_logits, token_text
    from state_simulators.model import load

    logits = next_token_logits(args.prompt)
    rows = []
    for samplers in (
        Samplers(args.temperature),
        Samplers(args.temperature, top_k=args.top_k),
        Samplers(args.temperature, top_p=args.top_p),
        Samplers(args.temperature, min_p=args.min_p),
    ):
        warped = warp(logits, samplers)
        drawn = sample(logits, samplers, torch.Generator().manual_seed(args.seed))
        name = "temperature only" if samplers.cuts == "no cut" else samplers.cuts
        rows.append(
            (
                name,
                survivors(warped),
                abs(entropy_bits(warped)),
                token_text(load().tokenizer, drawn),
            )
        )
    return rows


def demo(args, console) -> None:
    """`python -m snippets.sampling`: what each sampler keeps of one real distribution."""
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=escape(f"After {args.prompt!r}, at T = {args.temperature:g}"))
    for column in ("sampler", "tokens kept", "entropy (bits)", "a draw (seed)"):
        table.add_column(column)
    for name, kept, bits, drawn in demo_rows(args):
        table.add_row(name, str(kept), f"{bits:.2f}", escape(repr(drawn)))
    console.print(table)


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
