"""The model's output is a probability distribution over its whole vocabulary, at every position.

From the last hidden state to logits to a softmax; how uncertain that distribution is for
different kinds of text; and why the single most likely continuation is not what text is like.
"""

import functools
import math
import textwrap
from dataclasses import dataclass

import torch

from snippets import continuations
from snippets.decoder import parts
from snippets.next_token import check_prompt, next_token_logits, show_token, token_text
from snippets.plotting import MUTED, PALETTE, new_figure
from snippets.sampling import GREEDY, Samplers, entropy_bits
from snippets.tables import markdown_table
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

PROMPTS = {
    "a fact": "The capital of France is",
    "a story": "Once upon a time, there was a little",
    "code": 'if __name__ == "__main__',
}
# The opening of "Little Red-Cap", Margaret Hunt's 1884 translation of the Grimms' tales.
HUMAN = (
    " who was loved by every one who looked at her, but most of all by her grandmother, and there"
    " was nothing that she would not have given to the child. Once she gave her a little cap of"
    " red velvet, which suited her so well that she would never wear anything else; so she was"
    " always called 'Little Red-Cap.'"
)
PROSE = continuations.STORY + HUMAN.split(".")[0] + "."
CODE = """def count_words(text):
    counts = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return counts
"""
SURE = 1.0  # bits: below this, a position is close to determined by what came before
BET = 0.99  # the all-in model's confidence in its top guess
LOW, HIGH = 0.05, 0.9  # what counts as a surprising and as an expected token


# --8<-- [start:logits]
def logits_from_hidden_state(prompt: str, lm: LanguageModel | None = None):
    """The last layer's state at the final position, times the unembedding
    matrix: one score per vocabulary token. Shape: (vocabulary size,)."""
    lm = lm or load()
    decoder = parts(lm.model)  # the model's body and head, whatever its family
    ids = lm.tokenizer(check_prompt(prompt), return_tensors="pt").input_ids
    with torch.no_grad():
        hidden = decoder.body(ids).last_hidden_state[0, -1]  # hidden size
        unembedding = decoder.unembedding.weight  # vocabulary size x hidden size
        return unembedding @ hidden


# --8<-- [end:logits]


# --8<-- [start:positions]
@dataclass(frozen=True)
class Position:
    token: str  # the token that actually came next
    entropy: float  # bits: how open the prediction was before that token
    probability: float  # what the model gave the token that came
    top_guess: bool  # whether it was the model's most likely token


def positions(text: str, lm: LanguageModel | None = None) -> list[Position]:
    """One forward pass predicts every position of the text at once."""
    lm = lm or load()
    ids = lm.tokenizer(check_prompt(text), return_tensors="pt").input_ids[0]
    with torch.no_grad():
        logits = lm.model(ids[None]).logits[0, :-1]  # a prediction per token
    probabilities = torch.softmax(logits.double(), dim=-1)
    return [
        Position(
            token_text(lm.tokenizer, int(t)),
            entropy_bits(z),
            float(p[t]),
            bool(p.argmax() == t),
        )
        for z, p, t in zip(logits, probabilities, ids[1:])
    ]


# --8<-- [end:positions]


# --8<-- [start:score]
def log_probs(prompt: str, continuation: str, lm: LanguageModel | None = None) -> list[float]:
    """ln p of each token of the continuation, given everything before it."""
    lm = lm or load()
    start = lm.tokenizer(check_prompt(prompt)).input_ids
    ids = torch.tensor(start + lm.tokenizer(continuation).input_ids)
    with torch.no_grad():
        logits = lm.model(ids[None]).logits[0, len(start) - 1 : -1]
    picked = ids[len(start) :, None]
    return torch.log_softmax(logits, dim=-1).gather(1, picked)[:, 0].tolist()


# --8<-- [end:score]


@functools.cache
def prompt_logits() -> dict[str, torch.Tensor]:
    return {kind: next_token_logits(prompt) for kind, prompt in PROMPTS.items()}


@functools.cache
def passages() -> dict[str, list[Position]]:
    return {"prose": positions(PROSE), "code": positions(CODE)}


@functools.cache
def human_log_probs() -> tuple[float, ...]:
    return tuple(log_probs(continuations.STORY, HUMAN))


def story_rows() -> dict[str, list[continuations.Continuation]]:
    """The greedy continuation of the story prompt and its samples at T = 1."""
    rows = [r for r in continuations.experiment() if r.prompt == continuations.STORY]
    return {
        "greedy": [r for r in rows if r.setting == GREEDY],
        "samples": [r for r in rows if r.setting == Samplers(1.0)],
    }


def mean(values) -> float:
    return sum(values) / len(values)


# --8<-- [start:all_in]
def all_in_loss(passage: list[Position], bet: float, vocabulary: int) -> float:
    """Mean loss (nats) of a model that always bets `bet` on its top guess and
    spreads the rest evenly: a right guess costs -ln(bet), a wrong one
    -ln((1 - bet) / (vocabulary - 1))."""
    right = sum(p.top_guess for p in passage)
    wrong = len(passage) - right
    spread = (1 - bet) / (vocabulary - 1)
    return (right * -math.log(bet) + wrong * -math.log(spread)) / len(passage)


# --8<-- [end:all_in]


@figure("three-distributions.svg")
def three_distributions_figure():
    fig, axes = new_figure(1, 3, height=3.4, sharex=True)
    tokenizer = load().tokenizer
    for ax, (kind, logits), colour in zip(axes, prompt_logits().items(), PALETTE):
        probabilities = torch.softmax(logits, dim=-1)
        best = torch.topk(probabilities, 8)
        labels = [show_token(token_text(tokenizer, int(i))) for i in best.indices] + [
            "all others"
        ]
        values = best.values.tolist() + [1 - float(best.values.sum())]
        bars = ax.barh(labels[::-1], values[::-1], color=[MUTED] + [colour] * 8)
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values[::-1]], fontsize=7, padding=2)
        ax.set_title(f"{kind}: {entropy_bits(logits):.1f} bits", fontsize=10)
        ax.set_xlim(0, 1.15)
        ax.set_xlabel("probability")
        ax.tick_params(axis="y", labelsize=8)
        ax.grid(axis="y", visible=False)
    return fig


@figure("entropy-by-position.svg")
def entropy_by_position_figure():
    fig, axes = new_figure(2, 1, height=6.2)
    for ax, (kind, passage) in zip(axes, passages().items()):
        values = [p.entropy for p in passage]
        colours = [PALETTE[2] if v < SURE else PALETTE[0] for v in values]
        ax.bar(range(len(values)), values, color=colours, width=0.8)
        ax.set_xticks(
            range(len(values)), [show_token(p.token) for p in passage], rotation=90, fontsize=7
        )
        ax.set_xlim(-0.7, len(values) - 0.3)
        ax.set_ylabel("entropy (bits)")
        ax.set_title(
            f"{kind}: mean {mean(values):.1f} bits; green positions are below {SURE:g} bit",
            fontsize=10,
        )
        ax.grid(axis="x", visible=False)
    axes[1].set_xlabel(
        "the token that came next (the bar is the model's uncertainty before it)"
    )
    return fig


@figure("greedy-versus-human.svg")
def greedy_versus_human_figure():
    rows = story_rows()
    series = [
        ("greedy (most likely token every step)", rows["greedy"][0].log_probs, PALETTE[3]),
        ("sampled at T = 1 (one seed)", rows["samples"][0].log_probs, PALETTE[0]),
        ("human (the Grimms, tr. Hunt 1884)", human_log_probs(), PALETTE[2]),
    ]
    fig, axes = new_figure(3, 1, height=5.0, sharex=True, sharey=True)
    repeated = continuations.repeated_positions(list(rows["greedy"][0].token_ids))
    for x in repeated:
        axes[0].axvspan(x + 0.5, x + 1.5, color=MUTED, alpha=0.25, linewidth=0)
    for ax, (label, lps, colour) in zip(axes, series):
        p = [math.exp(v) for v in lps]
        ax.plot(range(1, len(p) + 1), p, color=colour, linewidth=1, marker="o", markersize=2.5)
        ax.axhline(mean(p), color=colour, linestyle="--", linewidth=0.8)
        ax.set_title(f"{label}: mean probability {mean(p):.2f}", fontsize=9, loc="left")
        ax.set_ylim(0, 1.05)
    axes[1].set_ylabel("probability the model gave the token")
    axes[2].set_xlabel(
        "position in the continuation (tokens); grey: tokens repeating an earlier 4-gram"
    )
    return fig


def score_table(rows: list[tuple[str, tuple[float, ...]]]) -> str:
    """Each continuation's log-probabilities (ln p per token) as a row of the page's table."""
    return markdown_table(
        ["continuation", "mean ln p per token", "total ln p (tokens)"],
        [[label, f"{mean(lps):.2f}", f"{sum(lps):.0f} ({len(lps)})"] for label, lps in rows],
        align=[None, "right", "right"],
    )


def for_tab(text: str, width: int = 72) -> str:
    """Generated text for a `text` block inside a content tab: whitespace runs made single,
    lines wrapped, and every line after the first indented to sit inside the tab."""
    return textwrap.fill(" ".join(text.split()), width, subsequent_indent="    ")


def feedback_table() -> str:
    """Probability of the token completing a 4-gram, by earlier occurrences, per greedy text."""
    rows = {
        continuations.NAMES[r.prompt]: continuations.probability_by_repeat(
            list(r.token_ids), [math.exp(v) for v in r.log_probs]
        )
        for r in continuations.experiment()
        if r.setting == GREEDY
    }
    counts = sorted({c for by in rows.values() for c in by})
    ordinal = {0: "1st", 1: "2nd", 2: "3rd"}
    return markdown_table(
        ["greedy text"] + [f"{ordinal.get(c, f'{c + 1}th')} time" for c in counts],
        [
            [name] + [f"{by[c]:.2f}" if c in by else "—" for c in counts]
            for name, by in rows.items()
        ],
        align=[None] + ["right"] * len(counts),
    )


def prompt_facts() -> dict[str, str]:
    """The three prompts of the page: top token, its probability, the entropy."""
    tokenizer = load().tokenizer
    out = {"uniform_bits": f"{math.log2(load().model.config.vocab_size):.1f}"}
    for key, kind in (("fact", "a fact"), ("story", "a story"), ("code", "code")):
        z = prompt_logits()[kind]
        p = torch.softmax(z, dim=-1)
        out[f"{key}_prompt"] = PROMPTS[kind]
        out[f"{key}_top"] = token_text(tokenizer, int(p.argmax())).strip()
        out[f"{key}_p"] = f"{float(p.max()):.2f}"
        out[f"{key}_bits"] = f"{entropy_bits(z):.1f}"
    story = torch.softmax(prompt_logits()["a story"], dim=-1)
    out["story_rest"] = f"{1 - float(story.max()):.0%}"
    return out


def passage_facts() -> dict[str, str]:
    """Entropy along the two passages, and what the loss pays for on the prose."""
    out = {}
    for key, passage in passages().items():
        values = [p.entropy for p in passage]
        out[f"{key}_mean_bits"] = f"{mean(values):.1f}"
        out[f"{key}_sure_share"] = f"{sum(v < SURE for v in values) / len(values):.0%}"
        out[f"{key}_tokens"] = str(len(passage))
    prose = passages()["prose"]
    vocabulary = load().model.config.vocab_size
    return out | {
        "prose_loss": f"{mean([-math.log(p.probability) for p in prose]):.2f}",
        "prose_top_right": f"{mean([p.top_guess for p in prose]):.0%}",
        "all_in_loss": f"{all_in_loss(prose, BET, vocabulary):.1f}",
        "bet": f"{BET:.0%}",
        "bet_rest": f"{1 - BET:.0%}",
        "sure_bits": f"{SURE:g}",
    }


def greedy_facts() -> dict[str, str]:
    """Greedy against samples and the human text: the table, the texts, the surprises."""
    rows = story_rows()
    greedy, samples = rows["greedy"][0], rows["samples"]
    human = human_log_probs()
    table_rows = [("greedy", greedy.log_probs)]
    table_rows += [(f"sample {i + 1} (T = 1)", s.log_probs) for i, s in enumerate(samples)]
    table_rows += [("human: the Grimms' text", human)]
    human_p = [math.exp(v) for v in human]
    return {
        "table": score_table(table_rows),
        "redcap_prompt": continuations.STORY,
        "greedy_text": for_tab(continuations.STORY + greedy.text + " …"),
        "sample_text": for_tab(continuations.STORY + samples[0].text + " …"),
        "human_text": for_tab(continuations.STORY + HUMAN),
        "human_low_share": f"{mean([p < LOW for p in human_p]):.0%}",
        "greedy_low_share": f"{mean([math.exp(v) < LOW for v in greedy.log_probs]):.0%}",
        "low": f"{LOW:.0%}",
        "human_high": str(sum(p > HIGH for p in human_p)),
        "high": f"{HIGH:.0%}",
        "greedy_repeats": f"{continuations.repeated_ngram_share(list(greedy.token_ids)):.0%}",
        "feedback_table": feedback_table(),
        "new_tokens": str(continuations.NEW_TOKENS),
    }


@facts("distributions")
def distributions_facts():
    """The numbers docs/distributions.md quotes; the model's size is in the `model` group."""
    return prompt_facts() | passage_facts() | greedy_facts()


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
