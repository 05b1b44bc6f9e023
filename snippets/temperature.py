"""Temperature divides the logits before the softmax, and nothing else.

Shown on the model's own logits: how one distribution sharpens and flattens, how entropy grows
with T for every prompt, that real text scores best near T = 1, and what low temperatures do to
long continuations (measured over many seeded samples generated in one batch).
"""

import functools
import math

import torch

from snippets import continuations
from snippets.continuations import distinct_ngrams, repeated_ngram_share
from snippets.distributions import CODE, HUMAN, PROMPTS, mean
from snippets.next_token import next_token_logits, show_token, token_text
from snippets.plotting import MUTED, PALETTE, new_figure
from snippets.sampling import GREEDY, Samplers, apply_temperature, entropy_bits
from snippets.tables import markdown_table
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

SHOWN = (0.25, 0.5, 1.0, 1.5, 2.0)  # the temperatures the distribution figure draws
QUOTED = (0.25, 1.0, 2.0)  # those of them the prose quotes
STORY_PROMPT = PROMPTS["a story"]
ALL_PROMPTS = {**PROMPTS, **{name: prompt for prompt, name in continuations.NAMES.items()}}
SWEEP = tuple(round(0.05 * i, 2) for i in range(1, 61))  # T = 0.05 ... 3.0
FIT = tuple(round(0.5 + 0.05 * i, 2) for i in range(31))  # T = 0.5 ... 2.0
TEXTS = {"prose (Red-Cap)": continuations.STORY + HUMAN, "code": CODE}
LADDER = (GREEDY, *(Samplers(t) for t in continuations.TEMPERATURES))
LOOP = 0.1  # a continuation with more than this share of repeated 4-grams is stuck in a loop
INK_T1 = "#222222"  # T = 1, the trained distribution, drawn in the ink colour


# --8<-- [start:probabilities]
def probabilities(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """softmax(logits / T): what a sampler at temperature T draws from."""
    return torch.softmax(apply_temperature(logits, temperature), dim=-1)


# --8<-- [end:probabilities]


# --8<-- [start:fit]
def loss_by_temperature(
    text: str, temperatures: tuple[float, ...], lm: LanguageModel | None = None
) -> dict[float, float]:
    """Mean loss (nats per token) on the text if every prediction's logits
    were divided by T."""
    lm = lm or load()
    ids = lm.tokenizer(text, return_tensors="pt").input_ids[0]
    with torch.no_grad():
        logits = lm.model(ids[None]).logits[0, :-1]
    nexts = ids[1:, None]
    losses = {}
    for t in temperatures:
        log_p = torch.log_softmax(logits / t, dim=-1).gather(1, nexts)
        losses[t] = float(-log_p.mean())
    return losses


# --8<-- [end:fit]


@functools.cache
def all_logits() -> dict[str, torch.Tensor]:
    return {name: next_token_logits(prompt) for name, prompt in ALL_PROMPTS.items()}


@functools.cache
def entropy_curves() -> dict[str, list[float]]:
    return {
        name: [entropy_bits(apply_temperature(z, t)) for t in SWEEP]
        for name, z in all_logits().items()
    }


@functools.cache
def fits() -> dict[str, dict[float, float]]:
    return {name: loss_by_temperature(text, FIT) for name, text in TEXTS.items()}


def best_temperature(losses: dict[float, float]) -> float:
    return min(losses, key=losses.get)


# --8<-- [start:collapse]
def collapse_table() -> dict[tuple[str, str], dict[str, float]]:
    """For every prompt and setting: how repetitive and how varied the
    continuations are. Greedy decoding ignores the seed, so its one
    continuation stands for every seed."""
    groups: dict[tuple[str, str], list[list[int]]] = {}
    log_p: dict[tuple[str, str], list[float]] = {}
    for row in continuations.experiment():
        if row.setting in LADDER:
            key = (row.prompt, row.setting.label)
            copies = continuations.REPLICATES if row.setting.greedy else 1
            groups.setdefault(key, []).extend([list(row.token_ids)] * copies)
            log_p.setdefault(key, []).append(row.mean_log_prob)
    return {
        key: {
            "repeated 4-grams": mean([repeated_ngram_share(t) for t in texts]),
            "distinct 2-grams": distinct_ngrams(texts),
            "mean ln p": mean(log_p[key]),
        }
        for key, texts in groups.items()
    }


# --8<-- [end:collapse]


@figure("temperature-distribution.svg")
def temperature_distribution_figure():
    logits = all_logits()["a story"]
    tokenizer = load().tokenizer
    order = torch.topk(logits, 8).indices
    labels = [show_token(token_text(tokenizer, int(i))) for i in order] + ["all others"]
    fig, ax = new_figure()
    width = 0.8 / len(SHOWN)
    colours = ["#56B4E9", "#0072B2", INK_T1, "#E69F00", "#D55E00"]
    for j, (t, colour) in enumerate(zip(SHOWN, colours)):
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


@figure("loss-by-temperature.svg")
def loss_by_temperature_figure():
    fig, ax = new_figure(height=3.0)
    for (name, losses), colour in zip(fits().items(), PALETTE):
        best = best_temperature(losses)
        ax.plot(list(losses), list(losses.values()), color=colour, label=name)
        ax.plot([best], [losses[best]], "o", color=colour)
        ax.annotate(
            f"lowest at T = {best:g}",
            (best, losses[best]),
            textcoords="offset points",
            xytext=(0, 8),
            ha="center",
            fontsize=8,
            color=colour,
        )
    ax.axvline(1.0, color=MUTED, linestyle="--", linewidth=0.8)
    ax.set_xlabel("temperature T applied to every prediction")
    ax.set_ylabel("loss (nats per token)")
    ax.legend(fontsize=8)
    ax.set_title("Real text is scored best near T = 1: the trained distribution")
    return fig


@figure("low-temperature-collapse.svg")
def low_temperature_collapse_figure():
    table = collapse_table()
    xs = list(range(len(LADDER)))
    fig, axes = new_figure(1, 3, height=3.2, sharex=True)
    for measure, ax in zip(("repeated 4-grams", "distinct 2-grams", "mean ln p"), axes):
        for prompt, colour in zip(continuations.PROMPTS, PALETTE):
            ax.plot(
                xs,
                [table[prompt, s.label][measure] for s in LADDER],
                "o-",
                color=colour,
                label=continuations.NAMES[prompt],
                markersize=4,
            )
        ax.set_title(measure, fontsize=10)
        ax.set_xticks(
            xs, ["greedy", *(f"{t:g}" for t in continuations.TEMPERATURES)], fontsize=8
        )
        ax.set_xlabel("temperature")
    axes[0].set_ylabel("share within one continuation")
    axes[1].set_ylabel("share, pooled over seeds")
    axes[2].set_ylabel("nats per token (T = 1 model)")
    axes[0].legend(fontsize=8)
    return fig


def collapse_markdown() -> str:
    """The collapse table as the page shows it: a row per measure and prompt."""
    table = collapse_table()
    formats = {
        "repeated 4-grams": ("repeats", "{:.0%}"),
        "distinct 2-grams": ("distinct", "{:.0%}"),
        "mean ln p": ("ln p", "{:.2f}"),
    }
    return markdown_table(
        ["measure", "prompt", "greedy", *(f"T={t:g}" for t in continuations.TEMPERATURES)],
        [
            [short, continuations.NAMES[prompt]]
            + [fmt.format(table[prompt, s.label][measure]) for s in LADDER]
            for measure, (short, fmt) in formats.items()
            for prompt in continuations.PROMPTS
        ],
        align=[None, None] + ["right"] * len(LADDER),
    )


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


def fit_facts() -> dict[str, str]:
    """The temperature that scores each real text best; the prose also at T = 0.5 and 2."""
    out = {}
    for name, losses in fits().items():
        key = name.split()[0]
        best = best_temperature(losses)
        out[f"{key}_best_t"] = f"{best:g}"
        out[f"{key}_loss_1"] = f"{losses[1.0]:.2f}"
        out[f"{key}_loss_best"] = f"{losses[best]:.2f}"
    prose = fits()["prose (Red-Cap)"]
    return out | {"prose_loss_half": f"{prose[0.5]:.2f}", "prose_loss_2": f"{prose[2.0]:.2f}"}


def collapse_facts() -> dict[str, str]:
    """The batch's size, and each measure averaged over the prompts per setting."""
    table = collapse_table()
    greedy = [table[p, GREEDY.label]["repeated 4-grams"] for p in continuations.PROMPTS]
    out = {
        "new_tokens": str(continuations.NEW_TOKENS),
        "replicates": str(continuations.REPLICATES),
        "rows": str(len(continuations.experiment())),
        "collapse_table": collapse_markdown(),
        "greedy_loopers": str(sum(share > LOOP for share in greedy)),
        "loop": f"{LOOP:.0%}",
        "n_prompts": str(len(continuations.PROMPTS)),
    }
    for s in LADDER:
        key = s.label.replace("T = ", "t").replace(".", "_")
        average = {
            measure: mean([table[p, s.label][measure] for p in continuations.PROMPTS])
            for measure in ("repeated 4-grams", "distinct 2-grams", "mean ln p")
        }
        if s.greedy or s.temperature <= 1.0:  # the prose follows loops up to T = 1
            out[f"repeats_{key}"] = f"{average['repeated 4-grams']:.0%}"
        out[f"distinct_{key}"] = f"{average['distinct 2-grams']:.0%}"
        out[f"lnp_{key}"] = f"{average['mean ln p']:.2f}"
    return out


@facts("temperature")
def temperature_facts():
    """The numbers docs/temperature.md quotes; the model's size is in the `model` group."""
    return worked_example_facts() | entropy_facts() | fit_facts() | collapse_facts()


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
