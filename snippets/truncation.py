"""What top-k, top-p and min-p let through as the temperature rises, on the model's real logits.

The samplers themselves are in `snippets/sampling.py`; this module measures them: how many
tokens survive each cut, how much probability lands on the model's unreliable tail, why the
order of temperature and truncation matters, and what long samples look like at a high T.
"""

import functools

import torch

from snippets import continuations
from snippets.distributions import PROMPTS, mean
from snippets.next_token import next_token_logits
from snippets.plotting import MUTED, PALETTE, new_figure
from snippets.sampling import (
    apply_temperature,
    entropy_bits,
    survivors,
    warp,
    warp_temperature_last,
)
from state_simulators.artifacts import facts, figure

GRID = tuple(round(0.1 * i, 1) for i in range(1, 31))  # T = 0.1 ... 3.0
CUTS = {"top-k 50": {"k": 50}, "top-p 0.9": {"p": 0.9}, "min-p 0.1": {"p_base": 0.1}}
STYLES = {
    "top-k 50": (MUTED, "--"),
    "top-p 0.9": (PALETTE[0], "-"),
    "min-p 0.1": (PALETTE[3], "-"),
    "no cut": (PALETTE[7], ":"),
}
TAIL = 1e-3  # a token the model itself gives less than 0.1 % at T = 1
LEAK = 0.01  # a cut "lets the tail in" when the tail gets more than this
SHOWN = {"a story": PROMPTS["a story"], "a fact": PROMPTS["a fact"]}
ORDER_T = 2.0


# --8<-- [start:tail]
def tail_mass(logits: torch.Tensor, temperature: float, **cut) -> float:
    """The chance of drawing a token that the untouched model gives less than
    TAIL, once the temperature and the cut are applied."""
    tail = torch.softmax(logits, dim=-1) < TAIL
    warped = torch.softmax(warp(logits, temperature, **cut), dim=-1)
    return float(warped[tail].sum())


# --8<-- [end:tail]


@functools.cache
def logits() -> dict[str, torch.Tensor]:
    return {name: next_token_logits(prompt) for name, prompt in SHOWN.items()}


@functools.cache
def survivor_curves() -> dict[str, dict[str, list[int]]]:
    return {
        name: {
            label: [survivors(warp(z, t, **cut)) for t in GRID] for label, cut in CUTS.items()
        }
        for name, z in logits().items()
    }


@functools.cache
def tail_curves() -> dict[str, list[float]]:
    z = logits()["a story"]
    return {
        label: [tail_mass(z, t, **cut) for t in GRID]
        for label, cut in {"no cut": {}, **CUTS}.items()
    }


@figure("survivors-by-temperature.svg")
def survivors_figure():
    fig, axes = new_figure(1, 2, height=3.4, sharey=True)
    vocab = logits()["a story"].numel()
    for ax, (name, curves) in zip(axes, survivor_curves().items()):
        for label, counts in curves.items():
            colour, style = STYLES[label]
            ax.plot(GRID, counts, style, color=colour, label=label)
        ax.axhline(vocab, color=MUTED, linestyle=":", linewidth=0.8)
        ax.set_yscale("log")
        ax.set_xlabel("temperature T")
        ax.set_title(f"{name}: “{SHOWN[name]}”", fontsize=9)
    axes[0].set_ylabel("tokens that survive the cut")
    axes[0].text(
        0.1, vocab * 0.6, f"whole vocabulary: {vocab:,}", color=MUTED, fontsize=8, va="top"
    )
    fig.legend(
        *axes[0].get_legend_handles_labels(), loc="outside upper center", ncols=3, fontsize=8
    )
    return fig


@figure("tail-mass-by-temperature.svg")
def tail_mass_figure():
    fig, ax = new_figure(height=3.0)
    for label, masses in tail_curves().items():
        colour, style = STYLES[label]
        ax.plot(GRID, masses, style, color=colour, label=label)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("probability of drawing one")
    ax.set_ylim(0, 1)
    ax.set_title(
        f"Chance of drawing a token the untouched model gives less than {TAIL:.1%}",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    return fig


def matched_p(logits: torch.Tensor, temperature: float, p_base: float) -> float:
    """The largest top-p (in steps of 0.01) that keeps no more tokens than min-p p_base."""
    limit = survivors(warp(logits, temperature, p_base=p_base))
    return max(
        p / 100
        for p in range(1, 101)
        if survivors(warp(logits, temperature, p=p / 100)) <= limit
    )


def first_leak(masses: list[float], threshold: float) -> float:
    """The lowest temperature of GRID at which the tail gets more than `threshold`."""
    return next(t for t, m in zip(GRID, masses) if m > threshold)


def table_cell(text: str, words: int = 30) -> str:
    """The first words of generated text, safe inside a Markdown table cell."""
    cut = " ".join(text.split()[:words])
    for special in "\\`*_[]|$#":
        cut = cut.replace(special, "\\" + special)
    return cut.replace("<", "&lt;").replace(">", "&gt;") + " …"


def hot_rows() -> dict[str, list[continuations.Continuation]]:
    """The story prompt's continuations at the hot temperature, with and without a cut."""
    settings = (continuations.Setting(continuations.HOT), *continuations.TRUNCATIONS)
    return {
        s.label: [
            r
            for r in continuations.experiment()
            if r.prompt == continuations.STORY and r.setting == s
        ]
        for s in settings
    }


def _hot_table() -> str:
    lines = [
        "| setting | mean ln p per token | first words of the first sample |",
        "|---|---:|---|",
    ]
    for label, rows in hot_rows().items():
        lines.append(
            f"| {label} | {mean([r.mean_log_prob for r in rows]):.2f} | {table_cell(rows[0].text)} |"
        )
    return "\n".join(lines)


@facts("truncation")
def truncation_facts():
    story, fact = logits()["a story"], logits()["a fact"]
    curves = survivor_curves()
    out = {
        "story_prompt": SHOWN["a story"],
        "fact_prompt": SHOWN["a fact"],
        "vocab": f"{story.numel():,}",
    }
    for t in (1.0, 1.5, 2.0, 3.0):
        key = f"{t:g}".replace(".", "_")
        i = GRID.index(t)
        for name, short in (("a story", "story"), ("a fact", "fact")):
            out[f"{short}_topp_{key}"] = f"{curves[name]['top-p 0.9'][i]:,}"
            out[f"{short}_minp_{key}"] = f"{curves[name]['min-p 0.1'][i]:,}"
    p1 = torch.softmax(story, dim=-1)
    out["tail_tokens"] = f"{int((p1 < TAIL).sum()):,}"
    out["tail_mass_1"] = f"{tail_mass(story, 1.0):.0%}"
    tails = tail_curves()
    for label, key in (
        ("no cut", "none"),
        ("top-p 0.9", "topp"),
        ("min-p 0.1", "minp"),
        ("top-k 50", "topk"),
    ):
        out[f"tail_{key}_2"] = f"{tails[label][GRID.index(2.0)]:.0%}"
        out[f"tail_{key}_1"] = f"{tails[label][GRID.index(1.0)]:.1%}"
    for label, cut in (("topp", {"p": 0.9}), ("minp", {"p_base": 0.1})):
        first = warp(story, ORDER_T, **cut)
        last = warp_temperature_last(story, ORDER_T, **cut)
        out[f"order_{label}_first"] = f"{survivors(first):,}"
        out[f"order_{label}_last"] = f"{survivors(last):,}"
        out[f"order_{label}_first_bits"] = f"{entropy_bits(first):.1f}"
        out[f"order_{label}_last_bits"] = f"{entropy_bits(last):.1f}"
    out["order_t"] = f"{ORDER_T:g}"
    out["minp_leak_t"] = f"{first_leak(tails['min-p 0.1'], LEAK):g}"
    out["leak"] = f"{LEAK:.0%}"
    out["tail_threshold"] = f"{TAIL:.1%}"
    out["story_bits_2"] = f"{entropy_bits(apply_temperature(story, ORDER_T)):.1f}"
    out["fact_top"] = f"{float(torch.softmax(fact, dim=-1).max()):.2f}"
    out["hot_t"] = f"{continuations.HOT:g}"
    out["matched_p"] = f"{matched_p(story, continuations.HOT, 0.1):.2f}"
    out["hot_minp"] = f"{survivors(warp(story, continuations.HOT, p_base=0.1)):,}"
    out["hot_table"] = _hot_table()
    out["hot_prompt"] = continuations.STORY
    out["replicates"] = str(continuations.REPLICATES)
    out["new_tokens"] = str(continuations.NEW_TOKENS)
    return out


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
