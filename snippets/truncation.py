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
    Samplers,
    entropy_bits,
    survivors,
    warp,
    warp_temperature_last,
)
from snippets.tables import markdown_table
from state_simulators.artifacts import facts, figure

GRID = tuple(round(0.1 * i, 1) for i in range(1, 31))  # T = 0.1 ... 3.0
NO_CUT = Samplers()
TOP_K, TOP_P, MIN_P = Samplers(top_k=50), Samplers(top_p=0.9), Samplers(min_p=0.1)
CUTS = (TOP_K, TOP_P, MIN_P)
STYLES = {  # by the cut's name, as the legends show it
    TOP_K.cuts: (MUTED, "--"),
    TOP_P.cuts: (PALETTE[0], "-"),
    MIN_P.cuts: (PALETTE[3], "-"),
    NO_CUT.cuts: (PALETTE[7], ":"),
}
TAIL = 1e-3  # a token the model itself gives less than 0.1 % at T = 1
LEAK = 0.01  # a cut "lets the tail in" when the tail gets more than this
SHOWN = {"a story": PROMPTS["a story"], "a fact": PROMPTS["a fact"]}
ORDER_T = 2.0
TABLE_T = (1.0, 1.5, 2.0, 3.0)  # the temperatures of the page's survivors table


# --8<-- [start:tail]
def tail_mass(logits: torch.Tensor, samplers: Samplers) -> float:
    """The chance of drawing a token that the untouched model gives less than
    TAIL, once the samplers' temperature and cuts are applied."""
    tail = torch.softmax(logits, dim=-1) < TAIL
    warped = torch.softmax(warp(logits, samplers), dim=-1)
    return float(warped[tail].sum())


# --8<-- [end:tail]


@functools.cache
def logits() -> dict[str, torch.Tensor]:
    return {name: next_token_logits(prompt) for name, prompt in SHOWN.items()}


@functools.cache
def survivor_curves() -> dict[str, dict[str, list[int]]]:
    return {
        name: {cut.cuts: [survivors(warp(z, cut.at(t))) for t in GRID] for cut in CUTS}
        for name, z in logits().items()
    }


@functools.cache
def tail_curves() -> dict[str, list[float]]:
    z = logits()["a story"]
    return {cut.cuts: [tail_mass(z, cut.at(t)) for t in GRID] for cut in (NO_CUT, *CUTS)}


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
    limit = survivors(warp(logits, Samplers(temperature, min_p=p_base)))
    return max(
        p / 100
        for p in range(1, 101)
        if survivors(warp(logits, Samplers(temperature, top_p=p / 100))) <= limit
    )


def first_leak(masses: list[float], threshold: float) -> float:
    """The lowest temperature of GRID at which the tail gets more than `threshold`."""
    return next(t for t, m in zip(GRID, masses) if m > threshold)


MARKUP = {c: f"&#{ord(c)};" for c in "`*_[]$#"} | {"<": "&lt;", ">": "&gt;"}


def table_cell(text: str, words: int = 30) -> str:
    """The first words of generated text as plain text for `markdown_table`: the characters
    Markdown, HTML or maths would read (* _ ` [ ] $ # < > &) written as HTML entities."""
    cut = " ".join(text.split()[:words]).replace("&", "&amp;")
    return "".join(MARKUP.get(c, c) for c in cut) + " …"


def hot_rows() -> dict[str, list[continuations.Continuation]]:
    """The story prompt's continuations at the hot temperature, with and without a cut."""
    settings = (NO_CUT.at(continuations.HOT), *continuations.TRUNCATIONS)
    return {
        s.label: [
            r
            for r in continuations.experiment()
            if r.prompt == continuations.STORY and r.setting == s
        ]
        for s in settings
    }


def hot_table() -> str:
    return markdown_table(
        ["setting", "mean ln p per token", "first words of the first sample"],
        [
            [label, f"{mean([r.mean_log_prob for r in rows]):.2f}", table_cell(rows[0].text)]
            for label, rows in hot_rows().items()
        ],
        align=[None, "right", None],
    )


def survivors_table() -> str:
    """Tokens that top-p 0.9 and min-p 0.1 let through, per prompt, at TABLE_T."""
    curves = survivor_curves()
    return markdown_table(
        ["prompt", "cut", *(f"T = {t:g}" for t in TABLE_T)],
        [
            [name.split()[-1], cut.cuts]
            + [f"{curves[name][cut.cuts][GRID.index(t)]:,}" for t in TABLE_T]
            for name in SHOWN
            for cut in (TOP_P, MIN_P)
        ],
        align=[None, None] + ["right"] * len(TABLE_T),
    )


def tail_facts() -> dict[str, str]:
    """The story prompt's tail, and how much of it each cut lets through at T = 1 and 2."""
    story = logits()["a story"]
    tails = tail_curves()
    out = {
        "story_prompt": SHOWN["a story"],
        "tail_tokens": f"{int((torch.softmax(story, dim=-1) < TAIL).sum()):,}",
        "tail_mass_1": f"{tail_mass(story, NO_CUT):.0%}",
        "tail_threshold": f"{TAIL:.1%}",
        "minp_leak_t": f"{first_leak(tails[MIN_P.cuts], LEAK):g}",
        "leak": f"{LEAK:.0%}",
    }
    for cut, key in ((NO_CUT, "none"), (TOP_P, "topp"), (MIN_P, "minp")):
        out[f"tail_{key}_2"] = f"{tails[cut.cuts][GRID.index(2.0)]:.0%}"
        out[f"tail_{key}_1"] = f"{tails[cut.cuts][GRID.index(1.0)]:.1%}"
    return out


def order_facts() -> dict[str, str]:
    """Top-p and min-p on the story prompt at ORDER_T, temperature first and last."""
    story = logits()["a story"]
    out = {"order_t": f"{ORDER_T:g}"}
    for label, cut in (("topp", TOP_P), ("minp", MIN_P)):
        first, last = (
            warp(story, cut.at(ORDER_T)),
            warp_temperature_last(story, cut.at(ORDER_T)),
        )
        out[f"order_{label}_first"] = f"{survivors(first):,}"
        out[f"order_{label}_last"] = f"{survivors(last):,}"
        out[f"order_{label}_first_bits"] = f"{entropy_bits(first):.1f}"
        out[f"order_{label}_last_bits"] = f"{entropy_bits(last):.1f}"
    return out


@facts("truncation")
def truncation_facts():
    """The numbers docs/sampling.md quotes; the model's size is in the `model` group."""
    story = logits()["a story"]
    return (
        tail_facts()
        | order_facts()
        | {
            "survivors_table": survivors_table(),
            "hot_t": f"{continuations.HOT:g}",
            "matched_p": f"{matched_p(story, continuations.HOT, 0.1):.2f}",
            "hot_minp": f"{survivors(warp(story, MIN_P.at(continuations.HOT))):,}",
            "hot_table": hot_table(),
            "hot_prompt": continuations.STORY,
            "replicates": str(continuations.REPLICATES),
            "new_tokens": str(continuations.NEW_TOKENS),
        }
    )


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
