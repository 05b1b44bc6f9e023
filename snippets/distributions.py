"""The model's output is a probability distribution over its whole vocabulary, at every position.

From the last hidden state to logits to a softmax, and how uncertain that distribution is for
different kinds of text. Greedy text against human text is in `snippets.human_text`, the
self-reinforcement of repetition in `snippets.repetition`.
"""

import functools
import math
import re
from dataclasses import dataclass

import torch
from matplotlib.patches import Patch

from snippets import continuations
from snippets.decoder import parts
from snippets.next_token import check_prompt, next_token_logits, show_token, token_text
from snippets.plotting import MUTED, PALETTE, new_figure
from snippets.sampling import entropy_bits
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

PROMPTS = {
    "a fact": "The capital of France is",
    "a story": "Once upon a time, there was a little",
    "code": "import numpy as",
}
# What each prompt is usually followed by: the prompts must end where the tokenizer ends a token.
NATURAL_ENDINGS = {"a fact": " Paris.", "a story": " girl who lived", "code": " np\n"}
# The code prompt the page used to show: it stops inside what the tokenizer writes as one token.
MID_TOKEN = 'if __name__ == "__main__'
MID_TOKEN_ENDING = '":\n    main()'

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
WORD_CHARACTER = re.compile(r"\w")  # letters, digits and "_": what a word or a name is made of


# --8<-- [start:logits]
def logits_from_hidden_state(prompt: str, lm: LanguageModel | None = None):
    """The last hidden state at the final position, times the unembedding
    matrix: one score per vocabulary token. Shape: (vocabulary size,)."""
    lm = lm or load()
    decoder = parts(lm.model)  # the model's body and head, whatever its family
    ids = lm.tokenizer(check_prompt(prompt), return_tensors="pt").input_ids
    with torch.no_grad():
        # the body's output has already been through its final norm (RMSNorm)
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
    starts_word: bool  # False when it continues a word the token before it began


def starts_word(previous: str, token: str) -> bool:
    """Whether `token` begins a new word: not when it starts with a word
    character and `previous` ended with one (" Red" + "-" + "Cap": "Cap"
    starts one; " count" + "_words": "_words" does not)."""
    joined = WORD_CHARACTER.match(token[:1]) and WORD_CHARACTER.match(previous[-1:])
    return not joined


def positions(text: str, lm: LanguageModel | None = None) -> list[Position]:
    """One forward pass predicts every position of the text at once."""
    lm = lm or load()
    ids = lm.tokenizer(check_prompt(text), return_tensors="pt").input_ids[0]
    with torch.no_grad():
        logits = lm.model(ids[None]).logits[0, :-1]  # a prediction per token
    probabilities = torch.softmax(logits.double(), dim=-1)
    pieces = [token_text(lm.tokenizer, int(t)) for t in ids]
    return [
        Position(
            piece,
            entropy_bits(z),
            float(p[t]),
            bool(p.argmax() == t),
            starts_word(previous, piece),
        )
        for z, p, t, previous, piece in zip(logits, probabilities, ids[1:], pieces, pieces[1:])
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


def mean(values) -> float:
    return sum(values) / len(values)


def mean_entropy(passage: list[Position], word_starts_only: bool = False) -> float:
    """Mean entropy (bits) over a passage's positions, or over those that start a word."""
    return mean([p.entropy for p in passage if p.starts_word or not word_starts_only])


# --8<-- [start:boundary]
def ends_on_token_boundary(prompt: str, ending: str, tokenizer) -> bool:
    """Whether the tokenizer still ends a token where the prompt ends once
    `ending` follows it: the prompt's own tokens must be a prefix of the
    tokens of prompt + ending."""
    alone = tokenizer(prompt).input_ids
    return tokenizer(prompt + ending).input_ids[: len(alone)] == alone


# --8<-- [end:boundary]


def straddling(prompt: str, ending: str, tokenizer) -> tuple[str, int]:
    """The text before the first token of prompt + ending that crosses the prompt's end, and
    that token's id. ValueError when the prompt ends on a token boundary."""
    ids = tokenizer(prompt + ending).input_ids
    for i in range(1, len(ids) + 1):
        if len(tokenizer.decode(ids[:i])) > len(prompt):
            before = tokenizer.decode(ids[: i - 1])
            if len(before) < len(prompt):
                return before, ids[i - 1]
            break
    raise ValueError(f"{prompt!r} ends on a token boundary: no token crosses its end")


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
    fig, axes = new_figure(2, 1, height=6.4)
    for ax, (kind, passage) in zip(axes, passages().items()):
        values = [p.entropy for p in passage]
        colours = [PALETTE[2] if v < SURE else PALETTE[0] for v in values]
        bars = ax.bar(range(len(values)), values, color=colours, width=0.8)
        for bar, position in zip(bars, passage):
            if not position.starts_word:  # a word's later pieces: light, hatched
                bar.set(alpha=0.45, hatch="////", edgecolor="white", linewidth=0)
        ax.set_xticks(
            range(len(values)), [show_token(p.token) for p in passage], rotation=90, fontsize=7
        )
        ax.set_xlim(-0.7, len(values) - 0.3)
        ax.set_ylabel("entropy (bits)")
        initial = [p.entropy for p in passage if p.starts_word]
        ax.set_title(
            f"{kind}: mean {mean(values):.1f} bits, {mean(initial):.1f} over tokens that "
            "start a word",
            fontsize=10,
        )
        ax.grid(axis="x", visible=False)
    axes[1].set_xlabel(
        "the token that came next (the bar is the model's uncertainty before it)"
    )
    key = [
        Patch(color=PALETTE[0], label=f"{SURE:g} bit or more"),
        Patch(color=PALETTE[2], label=f"below {SURE:g} bit"),
        Patch(
            facecolor=MUTED,
            alpha=0.45,
            hatch="////",
            edgecolor="white",
            label="continues a word",
        ),
    ]
    axes[1].legend(handles=key, loc="upper center", fontsize=8, ncols=3)
    return fig


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


def entropy_facts(key: str, passage: list[Position]) -> dict[str, str]:
    """Mean entropy and the share of near-certain positions, over all tokens and over the
    tokens that start a word (a word's later pieces are nearly determined by its first)."""
    values = [p.entropy for p in passage]
    initial = [p.entropy for p in passage if p.starts_word]
    internal = [p.entropy for p in passage if not p.starts_word]
    return {
        f"{key}_mean_bits": f"{mean(values):.1f}",
        f"{key}_sure_share": f"{mean([v < SURE for v in values]):.0%}",
        f"{key}_tokens": str(len(passage)),
        f"{key}_initial_bits": f"{mean(initial):.1f}",
        f"{key}_internal_tokens": str(len(internal)),
        f"{key}_internal_bits": f"{mean(internal):.1f}" if internal else "—",
    }


def passage_facts() -> dict[str, str]:
    """Entropy along the two passages, and what the loss pays for on the prose."""
    out = {}
    for key, passage in passages().items():
        out |= entropy_facts(key, passage)
    prose, code = passages()["prose"], passages()["code"]
    vocabulary = load().model.config.vocab_size
    return out | {
        "ratio_all": f"{mean_entropy(prose) / mean_entropy(code):.1f}",
        "ratio_initial": f"{mean_entropy(prose, True) / mean_entropy(code, True):.1f}",
        "prose_loss": f"{mean([-math.log(p.probability) for p in prose]):.2f}",
        "prose_top_right": f"{mean([p.top_guess for p in prose]):.0%}",
        "all_in_loss": f"{all_in_loss(prose, BET, vocabulary):.1f}",
        "bet": f"{BET:.0%}",
        "bet_rest": f"{1 - BET:.0%}",
        "sure_bits": f"{SURE:g}",
    }


def boundary_facts() -> dict[str, str]:
    """The code prompt the page used to show, which stops inside a token, against the same
    text cut where the tokenizer cuts it."""
    tokenizer = load().tokenizer
    before, token = straddling(MID_TOKEN, MID_TOKEN_ENDING, tokenizer)
    mid = torch.softmax(next_token_logits(MID_TOKEN), dim=-1)
    cut = torch.softmax(next_token_logits(before), dim=-1)
    return {
        "mid_prompt": MID_TOKEN,
        "mid_last": show_token(token_text(tokenizer, tokenizer(MID_TOKEN).input_ids[-1])),
        "mid_whole": show_token(token_text(tokenizer, token)),
        "mid_top": show_token(token_text(tokenizer, int(mid.argmax()))),
        "mid_p": f"{float(mid.max()):.2f}",
        "cut_prompt": before,
        "cut_p": f"{float(cut[token]):.2f}",
        "cut_rank": str(int((cut > cut[token]).sum()) + 1),
    }


@facts("distributions")
def distributions_facts():
    """The numbers docs/distributions.md quotes; the model's size is in the `model` group."""
    return prompt_facts() | passage_facts() | boundary_facts()


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
