"""Temperature divides the logits before the softmax, and nothing else.

Shown on the model's own logits: how one distribution sharpens and flattens, and how entropy
grows with T for every prompt. What low temperatures do to long texts is `snippets.collapse`.
"""

import functools
import math

import torch

from snippets import continuations
from snippets.distributions import PROMPTS
from snippets.next_token import next_token_logits, show_token, token_text
from snippets.plotting import MUTED, PALETTE, new_figure
from snippets.sampling import apply_temperature, entropy_bits
from snippets.tables import markdown_table
from state_simulators.artifacts import facts, figure
from state_simulators.model import load

SHOWN = (0.25, 0.5, 1.0, 1.5, 2.0)  # the temperatures the distribution figure draws
QUOTED = (0.25, 1.0, 2.0)  # those of them the prose quotes
STORY_PROMPT = PROMPTS["a story"]
ALL_PROMPTS = {**PROMPTS, **{name: prompt for prompt, name in continuations.NAMES.items()}}
SWEEP = tuple(round(0.05 * i, 2) for i in range(1, 61))  # T = 0.05 ... 3.0
# one bar a temperature, from light (cool) to dark (hot): YlOrRd at 0.4, 0.55, 0.7, 0.85 and 1
HEAT = ["#feab49", "#fd7435", "#ed2e21", "#c40524", "#800026"]


# --8<-- [start:probabilities]
def probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / T): what a sampler at temperature T draws from."""
    return torch.softmax(apply_temperature(logits, temperature), dim=-1)


# --8<-- [end:probabilities]


@functools.cache
def all_logits() -> dict[str, torch.Tensor]:
    return {name: next_token_logits(prompt) for name, prompt in ALL_PROMPTS.items()}


@functools.cache
def entropy_curves() -> dict[str, list[float]]:
    return {
        name: [entropy_bits(apply_temperature(z, t)) for t in SWEEP]
        for name, z in all_logits().items()
    }


@figure("temperature-distribution.svg")
def temperature_distribution_figure():
    logits = all_logits()["a story"]
    tokenizer = load().tokenizer
    order = torch.topk(logits, 8).indices
    labels = [show_token(token_text(tokenizer, int(i))) for i in order] + ["all others"]
    fig, ax = new_figure()
    width = 0.8 / len(SHOWN)
    for j, (t, colour) in enumerate(zip(SHOWN, HEAT)):
        p = probabilities(logits, t)
        values = p[order].tolist() + [1 - float(p[order].sum())]
        ax.bar(
            [i + (j - 2) * width for i in range(len(values))],
            values,
            width,
            color=colour,
            label=f"T = {t:g}",
        )
    ax.set_xticks(range(len(labels)), labels, rotation=30)
    ax.set_ylabel("probability")
    ax.set_title(f"Next token after “{STORY_PROMPT}”, at five temperatures")
    ax.legend(ncols=5, loc="upper center", fontsize=8)
    ax.set_ylim(0, 1.0)
    ax.grid(axis="x", visible=False)
    return fig


@figure("entropy-by-temperature.svg")
def entropy_by_temperature_figure():
    fig, ax = new_figure()
    vocab = all_logits()["a fact"].numel()
    for (name, curve), colour in zip(entropy_curves().items(), PALETTE):
        ax.plot(SWEEP, curve, color=colour, label=name)
    ax.axhline(math.log2(vocab), color=MUTED, linestyle=":")
    ax.text(
        0.05,
        math.log2(vocab) - 0.4,
        f"every one of the {vocab:,} tokens equally likely",
        color=MUTED,
        fontsize=8,
        va="top",
    )
    ax.axvline(1.0, color=MUTED, linestyle="--", linewidth=0.8)
    ax.set_xlabel("temperature T")
    ax.set_ylabel("entropy (bits)")
    ax.set_xlim(0, 3)
    ax.set_ylim(0, 17)
    ax.legend(ncols=2, fontsize=8, loc="center right")
    ax.set_title("Entropy of the next-token distribution rises with T, for every prompt")
    return fig


def worked_example_facts() -> dict[str, str]:
    """The two best tokens after the fact prompt, at T = 1 and T = 0.5."""
    tokenizer = load().tokenizer
    france = all_logits()["a fact"]
    first, second = torch.topk(france, 2).indices
    ratio = float(torch.exp(france[first] - france[second]))
    return {
        "fact_prompt": PROMPTS["a fact"],
        "first": token_text(tokenizer, int(first)).strip(),
        "second": token_text(tokenizer, int(second)).strip(),
        "first_logit": f"{float(france[first]):.1f}",
        "second_logit": f"{float(france[second]):.1f}",
        "first_logit_half": f"{float(france[first]) * 2:.1f}",
        "gap": f"{float(france[first] - france[second]):.2f}",
        "ratio": f"{ratio:.1f}",
        "ratio_half": f"{ratio**2:.0f}",
        "first_p_half": f"{float(probabilities(france, 0.5)[first]):.3f}",
        "first_p": f"{float(probabilities(france, 1.0)[first]):.2f}",
    }


def entropy_facts() -> dict[str, str]:
    """The story prompt at the quoted temperatures, and the prompts' spread at T = 1."""
    story = all_logits()["a story"]
    out = {"story_prompt": STORY_PROMPT, "prompts": str(len(ALL_PROMPTS))}
    for t in QUOTED:
        key = f"{t:g}".replace(".", "_")
        out[f"story_bits_{key}"] = f"{entropy_bits(apply_temperature(story, t)):.1f}"
        others = 1 - float(probabilities(story, t).topk(8).values.sum())
        out[f"story_others_{key}"] = f"{others:.2f}"
    at_one = {name: entropy_bits(z) for name, z in all_logits().items()}
    low, high = min(at_one, key=at_one.get), max(at_one, key=at_one.get)
    out["prompts_table"] = markdown_table(
        ["name", "prompt"], [[name, f"`{prompt}`"] for name, prompt in ALL_PROMPTS.items()]
    )
    return out | {
        "t1_min_name": low,
        "t1_min_bits": f"{at_one[low]:.1f}",
        "t1_max_name": high,
        "t1_max_bits": f"{at_one[high]:.1f}",
        "t1_max_tokens": f"{2 ** at_one[high]:,.0f}",
    }


@facts("temperature")
def temperature_facts():
    """The numbers docs/temperature.md quotes; the model's size is in the `model` group."""
    return worked_example_facts() | entropy_facts()


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
