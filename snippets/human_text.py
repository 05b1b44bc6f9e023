"""Is human text the text the model finds most likely? Greedy, sampled and human continuations of
the same prompts, each scored by the model's own log-probability per token.

Prompts: the opening of "Little Red-Cap" (with the Grimms' own continuation) and passages of
held-out human text (`snippets.corpus`, Alice chapters V–VI, with the book's own continuation).
Each prompt is continued greedily once and at T = 1 by `SAMPLES` seeds, all in one batched
`generate` call (`snippets.continuations.continue_batch`). The prompt is the unit of every
pooled interval.
"""

import functools
import math
import textwrap
from dataclasses import dataclass

import numpy as np

from snippets import continuations, corpus
from snippets.distributions import HUMAN, log_probs, mean, starts_word
from snippets.intervals import bootstrap
from snippets.plotting import MUTED, PALETTE, new_figure
from snippets.sampling import GREEDY, Samplers
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

SAMPLES = 20  # seeded continuations at T = 1 per prompt
NEW_TOKENS = 24  # tokens per continuation, generated or human
PROMPT_TOKENS = 20  # about this many tokens of context per book prompt
BOOK_PROMPTS = 5  # passages of the held-out chapters, spread evenly over them
LOW = 0.05  # a token the model gave less than this surprised it


# --8<-- [start:prompts]
def split_on_boundary(ids: list[int], tokenizer, at: int) -> tuple[str, str] | None:
    """The tokens before `at` as a prompt and the next NEW_TOKENS as its
    human continuation, or None where the cut splits a word or where the
    tokenizer would not cut: prompt and continuation must tokenise, alone,
    to the tokens of the two together."""
    prompt = tokenizer.decode(ids[:at])
    human = tokenizer.decode(ids[at : at + NEW_TOKENS])
    alone = tokenizer(prompt).input_ids + tokenizer(human).input_ids
    clean = alone == tokenizer(prompt + human).input_ids
    return (prompt, human) if clean and starts_word(prompt, human) else None


def book_prompts(tokenizer, count: int = BOOK_PROMPTS) -> list[tuple[str, str]]:
    """(prompt, the book's continuation) from `count` windows of the held-out
    chapters spread evenly, each cut near PROMPT_TOKENS where it splits cleanly."""
    windows = corpus.windows(tokenizer, "held_out")
    rows = np.linspace(0, len(windows) - 1, count).round().astype(int)
    pairs = []
    for row in rows:
        ids = windows[row].tolist()
        cuts = (split_on_boundary(ids, tokenizer, PROMPT_TOKENS - d) for d in range(8))
        pairs.append(next(pair for pair in cuts if pair is not None))
    return pairs


# --8<-- [end:prompts]


@dataclass(frozen=True)
class Scored:
    """One prompt: its greedy, sampled and human continuations, as ln p per token."""

    name: str
    prompt: str
    greedy: tuple[float, ...]
    samples: tuple[tuple[float, ...], ...]
    human: tuple[float, ...]


def prompts(lm: LanguageModel | None = None) -> dict[str, tuple[str, str]]:
    """Name -> (prompt, human continuation): Red-Cap first, then the book's passages."""
    lm = lm or load()
    ids = lm.tokenizer(HUMAN).input_ids[:NEW_TOKENS]
    pairs = {"Red-Cap": (continuations.STORY, lm.tokenizer.decode(ids))}
    for number, pair in enumerate(book_prompts(lm.tokenizer), 1):
        pairs[f"Alice {number}"] = pair
    return pairs


def score(pairs: dict[str, tuple[str, str]], lm: LanguageModel | None = None) -> list[Scored]:
    """Every prompt greedily once and at T = 1 `SAMPLES` times (one batch), and its human text."""
    lm = lm or load()
    plan = [(p, GREEDY) for p, _ in pairs.values()] + [
        (p, Samplers(1.0)) for p, _ in pairs.values() for _ in range(SAMPLES)
    ]
    results = continuations.continue_batch(plan, NEW_TOKENS, lm=lm)
    out = []
    for i, (name, (prompt, human)) in enumerate(pairs.items()):
        start = len(pairs) + i * SAMPLES
        samples = [tuple(until_end(*results[j], lm)) for j in range(start, start + SAMPLES)]
        greedy = tuple(until_end(*results[i], lm))
        out.append(
            Scored(name, prompt, greedy, tuple(samples), tuple(log_probs(prompt, human, lm)))
        )
    return out


def until_end(ids: list[int], lps: list[float], lm: LanguageModel) -> list[float]:
    """The log-probabilities up to and with the end-of-text token, if the model drew one
    (after it, `generate` only pads)."""
    end = lm.tokenizer.eos_token_id
    return lps[: ids.index(end) + 1] if end in ids else lps


@functools.cache
def scored() -> tuple[Scored, ...]:
    return tuple(score(prompts()))


def low_share(lps) -> float:
    """Share of the tokens the model gave less than LOW."""
    return mean([math.exp(v) < LOW for v in lps])


MEASURES = {"mean ln p per token": mean, f"share of tokens with p < {LOW:.0%}": low_share}


@figure("greedy-versus-human.svg")
def greedy_versus_human_figure():
    rows = scored()
    fig, axes = new_figure(len(MEASURES), 1, height=6.0, sharex=True)
    x = range(1, len(rows) + 1)
    for ax, (label, measure) in zip(axes, MEASURES.items()):
        ax.boxplot(
            [[measure(s) for s in r.samples] for r in rows],
            positions=list(x),
            widths=0.5,
            medianprops={"color": PALETTE[0]},
            flierprops={"markersize": 3, "markeredgecolor": MUTED},
        )
        ax.scatter(
            x, [measure(r.greedy) for r in rows], marker="D", color=PALETTE[3], zorder=3
        )
        ax.scatter(
            x, [measure(r.human) for r in rows], marker="*", s=90, color=PALETTE[2], zorder=3
        )
        ax.set_ylabel(label)
        ax.grid(axis="x", visible=False)
    axes[0].legend(
        handles=axes[0].collections,
        labels=["greedy", "human (the book's own text)"],
        loc="lower left",
        fontsize=8,
    )
    axes[-1].set_xticks(list(x), [r.name for r in rows])
    axes[-1].set_xlabel(
        f"prompt (boxes: {SAMPLES} samples at T = 1 each, {NEW_TOKENS} tokens)"
    )
    return fig


def per_prompt(measure) -> dict[str, list[float]]:
    """One value per prompt: greedy, the samples' mean, human, and the share of samples below
    the human text (0.5 if the human text were one more sample)."""
    rows = scored()
    return {
        "greedy": [measure(r.greedy) for r in rows],
        "samples": [mean([measure(s) for s in r.samples]) for r in rows],
        "human": [measure(r.human) for r in rows],
        "below_human": [
            mean([measure(s) < measure(r.human) for s in r.samples]) for r in rows
        ],
    }


def for_tab(text: str, width: int = 72) -> str:
    """Generated text for a `text` block inside a content tab: whitespace runs made single,
    lines wrapped, and every line after the first indented to sit inside the tab."""
    return textwrap.fill(" ".join(text.split()), width, subsequent_indent="    ")


def tab_facts() -> dict[str, str]:
    """The three Red-Cap texts in the page's tabs: greedy and one sample from the batch the
    temperature page shares, and the Grimms' own text."""
    rows = [r for r in continuations.experiment() if r.prompt == continuations.STORY]
    greedy = next(r for r in rows if r.setting == GREEDY)
    sample = next(r for r in rows if r.setting == Samplers(1.0))
    return {
        "redcap_prompt": continuations.STORY,
        "tab_tokens": str(continuations.NEW_TOKENS),
        "greedy_text": for_tab(continuations.STORY + greedy.text + " …"),
        "sample_text": for_tab(continuations.STORY + sample.text + " …"),
        "human_text": for_tab(continuations.STORY + HUMAN),
        "greedy_repeats": f"{continuations.repeated_ngram_share(list(greedy.token_ids)):.0%}",
    }


@facts("human_text")
def human_text_facts():
    """Greedy, samples and human text over the prompts (the unit of every interval)."""
    lp, low = per_prompt(mean), per_prompt(low_share)
    rows = scored()
    above = sum(mean(r.greedy) > max(mean(s) for s in r.samples) for r in rows)
    return tab_facts() | {
        "prompts": str(len(rows)),
        "prompt_tokens": str(PROMPT_TOKENS),
        "book_prompts": str(len(rows) - 1),
        "samples": str(SAMPLES),
        "new_tokens": str(NEW_TOKENS),
        "greedy_minus_human": bootstrap(np.subtract(lp["greedy"], lp["human"])).format(),
        "samples_minus_human": bootstrap(np.subtract(lp["samples"], lp["human"])).format(),
        "below_human": bootstrap(lp["below_human"]).format(0, 100, " %"),
        "greedy_above_all": str(above),
        "low": f"{LOW:.0%}",
        "human_low": bootstrap(low["human"]).format(0, 100, " %"),
        "samples_low": bootstrap(low["samples"]).format(0, 100, " %"),
        "greedy_low": bootstrap(low["greedy"]).format(0, 100, " %"),
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
