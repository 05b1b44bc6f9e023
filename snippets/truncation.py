"""What top-k, top-p and min-p let through as the temperature rises, on the model's real logits.

The samplers themselves are in `snippets/sampling.py`; this module measures them: how many
tokens survive each cut, how much probability lands on the model's unreliable tail, why the
order of temperature and truncation matters (on transformers' own warpers, in both orders), and
what whole texts sampled at a high T look like, measured without the model's own scores.
"""

import functools
import re

import numpy as np
import torch

from snippets import continuations, corpus, hot_texts
from snippets.distributions import PROMPTS
from snippets.intervals import Interval, bootstrap
from snippets.next_token import next_token_logits
from snippets.plotting import MUTED, PALETTE, new_figure
from snippets.sampling import Samplers, entropy_bits, survivors, warp
from snippets.tables import markdown_table
from state_simulators.artifacts import facts, figure
from state_simulators.model import load

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
ORDERS = {"temperature first": False, "temperature last": True}  # name: temperature_last
N = 4  # repeated n-grams are counted for this n
WORD = re.compile(r"[A-Za-z]+")
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
        # curves that lie on zero for long stretches would hide each other: the first ones
        # drawn are wider, and min-p gets dots, so each stays visible under the next
        width = {TOP_K.cuts: 4.0, MIN_P.cuts: 1.5}.get(label, 1.5)
        marks = {"marker": "o", "markersize": 3, "markevery": 3} if label == MIN_P.cuts else {}
        ax.plot(GRID, masses, style, color=colour, label=label, linewidth=width, **marks)
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


# --8<-- [start:measures]
def repeated_ngrams(texts: list[hot_texts.Text]) -> float:
    """Share of the texts' 4-grams that repeat one earlier in the same text."""
    repeats = sum(len(continuations.repeated_starts(t.token_ids, N)) for t in texts)
    return repeats / max(1, sum(max(0, len(t.token_ids) - N + 1) for t in texts))


def distinct_2(texts: list[hot_texts.Text]) -> float:
    """Different token pairs / all token pairs, pooled over the texts."""
    return continuations.distinct_ngrams([t.token_ids for t in texts], 2)


def whole_words(texts: list[hot_texts.Text]) -> float:
    """Share of the texts' words that the tokenizer holds as a single token."""
    return word_share([t.text for t in texts])


def word_share(strings: list[str], tokenizer=None) -> float:
    """Share of the words (runs of letters) that are one token after a space:
    common words are one token, made-up words take several."""
    tokenizer = tokenizer or load().tokenizer
    words = [w for s in strings for w in WORD.findall(s)]
    return sum(one_token(tokenizer, w) for w in words) / max(1, len(words))


def mean_log_prob(texts: list[hot_texts.Text]) -> float:
    """Mean ln p per token under the untouched model: circular once the tail is cut."""
    values = [v for t in texts for v in t.log_probs]
    return sum(values) / max(1, len(values))


# --8<-- [end:measures]


@functools.cache
def one_token(tokenizer, word: str) -> bool:
    """Whether the tokenizer spells the word, after a space, as one token."""
    return len(tokenizer(" " + word, add_special_tokens=False).input_ids) == 1


MEASURES = {  # name on the page: (measure of one prompt's texts, digits, scale, unit)
    "repeated 4-grams": (repeated_ngrams, 1, 100, " %"),
    "distinct-2": (distinct_2, 2, 1, ""),
    "whole-token words": (whole_words, 1, 100, " %"),
    "mean ln p (circular: a sanity check)": (mean_log_prob, 2, 1, ""),
}


def per_prompt(measure, setting: Samplers) -> list[float]:
    """One value per prompt (the unit of resampling): the measure of its texts."""
    texts = hot_texts.texts()
    return [
        measure([t for t in texts if t.prompt == p and t.setting == setting])
        for p in hot_texts.PROMPTS
    ]


@functools.cache
def hot_intervals() -> dict[str, dict[str, Interval]]:
    """Per setting, per measure: the mean over prompts with its 95 % bootstrap interval."""
    return {
        s.label: {name: bootstrap(per_prompt(m[0], s)) for name, m in MEASURES.items()}
        for s in hot_texts.SETTINGS
    }


def paired_difference(measure, a: Samplers, b: Samplers) -> Interval:
    """Mean over prompts of measure(a) - measure(b), each prompt against itself."""
    return bootstrap(np.subtract(per_prompt(measure, a), per_prompt(measure, b)))


def human_units(tokenizer) -> list[list[hot_texts.Text]]:
    """Held-out human text (Alice, ch. V-VI) cut into pieces as long as the generated texts,
    grouped HOT_SAMPLES to a unit, as a prompt's texts are."""
    ids = corpus.windows(tokenizer, "held_out").flatten().tolist()
    size = hot_texts.NEW_TOKENS
    pieces = [
        hot_texts.Text("", NO_CUT, 0, tuple(piece), tokenizer.decode(piece), ())
        for piece in (ids[i : i + size] for i in range(0, len(ids) - size + 1, size))
    ]
    n = hot_texts.SAMPLES
    return [pieces[i : i + n] for i in range(0, len(pieces) - n + 1, n)]


def human_row() -> list[str]:
    """The table's row for human text: every measure but the model's own score."""
    units = human_units(load().tokenizer)
    cells = [
        formatted(name, bootstrap([measure(unit) for unit in units]))
        for name, (measure, *_) in list(MEASURES.items())[:-1]
    ]
    return [f"human text ({len(units)} units)", *cells, "—"]


def formatted(name: str, interval: Interval) -> str:
    _, digits, scale, unit = MEASURES[name]
    return interval.format(digits, scale, unit)


def hot_table() -> str:
    """The experiment's measures per setting, each with its interval over prompts."""
    rows = [
        [label, *(formatted(name, intervals[name]) for name in MEASURES)]
        for label, intervals in hot_intervals().items()
    ]
    rows.append(human_row())
    return markdown_table(
        ["setting", *MEASURES], rows, align=[None] + ["right"] * len(MEASURES)
    )


def samples_table(shown: int = 2) -> str:
    """The first `shown` texts of the first prompt in each setting."""
    texts = hot_texts.texts()
    rows = [
        [s.label, str(t.sample + 1), table_cell(t.text)]
        for s in hot_texts.SETTINGS
        for t in [t for t in texts if t.prompt == hot_texts.PROMPTS[0] and t.setting == s][
            :shown
        ]
    ]
    return markdown_table(["setting", "sample", "first words"], rows)


def hot_facts() -> dict[str, str]:
    """The whole-text experiment's numbers for prose."""
    none, top_p, min_p = hot_texts.SETTINGS
    words = "whole-token words"
    return {
        "hot_t": f"{hot_texts.HOT:g}",
        "hot_prompts": str(len(hot_texts.PROMPTS)),
        "hot_samples_each": str(hot_texts.SAMPLES),
        "hot_tokens": str(hot_texts.NEW_TOKENS),
        "hot_texts": str(len(hot_texts.texts())),
        "hot_table": hot_table(),
        "hot_samples": samples_table(),
        "hot_first_prompt": hot_texts.PROMPTS[0],
        "hot_prompt_list": "; ".join(f"`{p}`" for p in hot_texts.PROMPTS),
        "hot_human_units": str(len(human_units(load().tokenizer))),
        "hot_words_minp_minus_topp": formatted(
            words, paired_difference(whole_words, min_p, top_p)
        ),
        "hot_words_minp_minus_none": formatted(
            words, paired_difference(whole_words, min_p, none)
        ),
    }


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


# --8<-- [start:orders]
def both_orders(logits: torch.Tensor, samplers: Samplers) -> dict[str, torch.Tensor]:
    """One setting run by transformers' own warpers in both orders: temperature
    first (as `generate` runs them) and temperature last (llama.cpp's default)."""
    no_ids = torch.zeros((1, 0), dtype=torch.long)
    return {
        order: samplers.processors(temperature_last=last)(no_ids, logits[None].clone())[0]
        for order, last in ORDERS.items()
    }


# --8<-- [end:orders]


def order_rows(samplers: Samplers) -> list[list[str]]:
    """Per shown prompt and order: tokens that can be drawn, the top token's probability,
    the entropy in bits."""
    rows = []
    for name, z in logits().items():
        for order, warped in both_orders(z, samplers).items():
            top = float(torch.softmax(warped, dim=-1).max())
            rows.append(
                [name.split()[-1], order, f"{survivors(warped):,}", f"{top:.2f}"]
                + [f"{entropy_bits(warped):.1f}"]
            )
    return rows


def order_facts() -> dict[str, str]:
    """Top-p and min-p at ORDER_T in both orders: a table for top-p on both shown prompts,
    and the story prompt's numbers for prose."""
    story = logits()["a story"]
    out = {
        "order_t": f"{ORDER_T:g}",
        "order_table": markdown_table(
            ["prompt", "order", "tokens that can be drawn", "top token's p", "entropy (bits)"],
            order_rows(TOP_P.at(ORDER_T)),
            align=[None, None, "right", "right", "right"],
        ),
    }
    for label, cut in (("topp", TOP_P), ("minp", MIN_P)):
        orders = both_orders(story, cut.at(ORDER_T))
        for order, key in (("temperature first", "first"), ("temperature last", "last")):
            out[f"order_{label}_{key}"] = f"{survivors(orders[order]):,}"
            out[f"order_{label}_{key}_bits"] = f"{entropy_bits(orders[order]):.1f}"
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
            "matched_p": f"{matched_p(story, hot_texts.HOT, 0.1):.2f}",
            "hot_minp": f"{survivors(warp(story, MIN_P.at(hot_texts.HOT))):,}",
        }
        | hot_facts()
    )


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
