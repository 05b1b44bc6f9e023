"""Every prediction is rebuilt from the whole prefix: change the text anywhere, the state follows.

A short story states a fact, then (sometimes) corrects it. The next-token distribution after a
question about the fact shows which version the model's rebuilt state holds.
"""

import functools
from dataclasses import dataclass

import numpy as np
import torch

from snippets.batching import final_hidden_states
from snippets.decoder import parts
from snippets.next_token import show_token, token_text
from snippets.plotting import PALETTE, new_figure
from snippets.tables import markdown_table
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

NEUTRAL = " The weather was nice that day."
CORRECTION = " Actually, I was wrong: "
CONDITIONS = ("as stated", "neutral sentence added", "changed early", "corrected late")
KEYS = ("stated", "neutral", "early", "late")  # the conditions' names in the page's facts


# --8<-- [start:scenario]
@dataclass(frozen=True)
class Scenario:
    statement: str  # "The meeting is on {}."
    correction: str  # "it is on {}."
    question: str  # " So the meeting is on"
    stated: str  # "Monday": the answer the statement gives
    corrected: str  # "Friday": the answer after the correction

    def prompts(self) -> dict[str, str]:
        first = self.statement.format(self.stated)
        changed = self.statement.format(self.corrected)
        correction = CORRECTION + self.correction.format(self.corrected)
        return {
            "as stated": first + self.question,
            "neutral sentence added": first + NEUTRAL + self.question,
            "changed early": changed + self.question,
            "corrected late": first + correction + self.question,
        }


# --8<-- [end:scenario]


SCENARIOS = (
    Scenario(
        "The meeting is on {}.", "it is on {}.", " So the meeting is on", "Monday", "Friday"
    ),
    Scenario(
        "The keys are in the {}.",
        "they are in the {}.",
        " So the keys are in the",
        "kitchen",
        "car",
    ),
    Scenario(
        "Her favourite colour is {}.",
        "it is {}.",
        " So her favourite colour is",
        "green",
        "purple",
    ),
    Scenario(
        "The dog is called {}.", "he is called {}.", " So the dog is called", "Max", "Rex"
    ),
    Scenario(
        "We are flying to {}.",
        "we are flying to {}.",
        " So we are flying to",
        "Spain",
        "Italy",
    ),
    Scenario(
        "The winner was {}.", "the winner was {}.", " So the winner was", "Anna", "Maria"
    ),
    Scenario(
        "The box is full of {}.",
        "it is full of {}.",
        " So the box is full of",
        "apples",
        "oranges",
    ),
    Scenario(
        "The party is on {}.", "it is on {}.", " So the party is on", "Saturday", "Sunday"
    ),
)


# --8<-- [start:measure]
def next_token_logprobs(
    sequences: list[list[int]], lm: LanguageModel | None = None
) -> torch.Tensor:
    """Log-probabilities of the token after each sequence, in one batched pass:
    (sequences, vocabulary)."""
    lm = lm or load()
    hidden = final_hidden_states(sequences, lm)
    last = hidden[range(len(sequences)), [len(ids) - 1 for ids in sequences]]
    with torch.no_grad():
        return torch.log_softmax(parts(lm.model).unembedding(last), dim=-1)


def kl_divergence(p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """KL(P || Q) in nats, from log-probabilities: how far Q moved away from P."""
    return (p.exp() * (p - q)).sum(dim=-1)


# --8<-- [end:measure]


def token_id(word: str, lm: LanguageModel) -> int:
    """The first token of ` word`, as it would follow the question."""
    return lm.tokenizer(f" {word}").input_ids[0]


# --8<-- [start:compare]
def compare(scenario: Scenario, lm: LanguageModel | None = None) -> dict:
    """Per version of the story: the top token, both answers' probabilities, and
    how far the distribution moved from the story as first stated (KL)."""
    lm = lm or load()
    prompts = scenario.prompts()
    ids = [lm.tokenizer(p).input_ids for p in prompts.values()]
    logprobs = next_token_logprobs(ids, lm)
    moved = kl_divergence(logprobs[0], logprobs)  # row 0 is "as stated"
    stated = token_id(scenario.stated, lm)
    corrected = token_id(scenario.corrected, lm)
    return {
        condition: {
            "top": token_text(lm.tokenizer, int(row.argmax())),
            "p_top": float(row.max().exp()),
            "kl": float(kl),
            "p_stated": float(row[stated].exp()),
            "p_corrected": float(row[corrected].exp()),
        }
        for condition, row, kl in zip(prompts, logprobs, moved)
    }


# --8<-- [end:compare]


@functools.cache
def comparisons() -> tuple[dict, ...]:
    lm = load()
    return tuple(compare(s, lm) for s in SCENARIOS)


# --8<-- [start:influence]
def token_influence(prompt: str, lm: LanguageModel | None = None) -> list[tuple[str, float]]:
    """Delete each token in turn: how far does the next-token prediction move?"""
    lm = lm or load()
    ids = lm.tokenizer(prompt).input_ids
    variants = [ids] + [ids[:i] + ids[i + 1 :] for i in range(len(ids))]
    logprobs = next_token_logprobs(variants, lm)
    moved = kl_divergence(logprobs[0], logprobs[1:])
    return [(token_text(lm.tokenizer, t), float(kl)) for t, kl in zip(ids, moved)]


# --8<-- [end:influence]


@functools.cache
def influence() -> tuple[tuple[str, float], ...]:
    return tuple(token_influence(SCENARIOS[0].prompts()["corrected late"]))


MARKERS = {
    "as stated": "o",
    "neutral sentence added": "s",
    "changed early": "^",
    "corrected late": "D",
}


@figure("state-simulators-corrections.svg")
def corrections_figure():
    found = comparisons()
    fig, (left, right) = new_figure(1, 2, height=3.8)
    changes = CONDITIONS[1:]  # "as stated" is the reference: its KL is zero
    for colour, condition in zip(PALETTE, CONDITIONS):
        left.scatter(
            [c[condition]["p_stated"] for c in found],
            [c[condition]["p_corrected"] for c in found],
            color=colour,
            marker=MARKERS[condition],
            s=28,
            label=condition,
            zorder=3,
            clip_on=False,
        )
        if condition in changes:
            kls = [c[condition]["kl"] for c in found]
            row = changes.index(condition)
            spread = np.linspace(-0.15, 0.15, len(kls))
            right.scatter(
                row + spread, kls, color=colour, marker=MARKERS[condition], s=22, zorder=3
            )
            right.hlines(np.median(kls), row - 0.3, row + 0.3, color=colour, linewidth=2)
    left.plot([0, 1], [0, 1], color="#bbbbbb", linewidth=1, zorder=1)
    left.set_xlim(0, 1)
    left.set_ylim(0, 1)
    left.set_xlabel("p(answer as first stated)")
    left.set_ylabel("p(corrected answer)")
    left.set_title("Which answer does the model give?")
    left.legend(loc="upper right", fontsize=7.5, handletextpad=0.2)
    right.set_xticks(
        range(len(changes)), [c.replace(" ", "\n", 1) for c in changes], fontsize=8
    )
    right.set_ylim(bottom=0)
    right.set_ylabel("KL from “as stated” (nats)")
    right.set_title("How far the distribution moves")
    right.grid(axis="x", visible=False)
    return fig


@figure("state-simulators-token-influence.svg")
def token_influence_figure():
    found = influence()
    fig, ax = new_figure(height=3.4)
    tokens = [show_token(t) for t, _ in found]
    bars = ax.bar(range(len(found)), [kl for _, kl in found], color=PALETTE[0])
    ax.bar_label(
        bars,
        labels=[f"{kl:.1f}" if kl >= 0.3 else "" for _, kl in found],
        fontsize=7,
        padding=1,
    )
    ax.set_xticks(range(len(found)), tokens, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("KL after deleting it (nats)")
    ax.set_title("How much each token of the prompt moves the next-token distribution")
    ax.grid(axis="x", visible=False)
    return fig


def median(values) -> str:
    return f"{float(np.median(list(values))):.2f}"


@facts("state")
def state_facts():
    found = comparisons()
    main = found[0]
    scenario = SCENARIOS[0]
    n = len(found)

    def top_is(condition: str, answer: str) -> int:
        return sum(
            c[condition]["top"].strip() == getattr(s, answer) for s, c in zip(SCENARIOS, found)
        )

    table = markdown_table(
        ["story", "as stated", "neutral sentence", "changed early", "corrected late"],
        [
            [f"{s.stated} → {s.corrected}"]
            + [f"`{show_token(c[k]['top'])}` ({c[k]['kl']:.2f})" for k in CONDITIONS]
            for s, c in zip(SCENARIOS, found)
        ],
    )
    ranked = sorted(influence(), key=lambda pair: -pair[1])
    versions = {}
    for key, condition, prompt in zip(KEYS, CONDITIONS, scenario.prompts().values()):
        versions[f"{key}_prompt"] = prompt
        versions[f"{key}_top"] = show_token(main[condition]["top"])
        versions[f"{key}_p_top"] = f"{main[condition]['p_top']:.2f}"
        if condition != "as stated":  # the reference: its KL is zero
            versions[f"{key}_kl"] = f"{main[condition]['kl']:.2f}"
    return {
        **versions,
        "count": str(n),
        "main_top_stated": show_token(main["as stated"]["top"]),
        "main_p_stated_after": f"{main['corrected late']['p_stated']:.2f}",
        "neutral_wins": str(top_is("neutral sentence added", "stated")),
        "early_wins": str(top_is("changed early", "corrected")),
        "late_wins": str(top_is("corrected late", "corrected")),
        "late_failures": ", ".join(
            f"{s.stated} → {s.corrected}"
            for s, c in zip(SCENARIOS, found)
            if c["corrected late"]["top"].strip() != s.corrected
        ),
        "kl_neutral": median(c["neutral sentence added"]["kl"] for c in found),
        "kl_early": median(c["changed early"]["kl"] for c in found),
        "kl_late": median(c["corrected late"]["kl"] for c in found),
        "table": table,
        "influence_top": ", ".join(f"`{show_token(t)}` ({kl:.1f})" for t, kl in ranked[:3]),
        "influence_corrected": f"{dict(influence())[' ' + scenario.corrected]:.2f}",
        "influence_stated": f"{dict(influence())[' ' + scenario.stated]:.2f}",
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
