"""Every prediction is rebuilt from the whole prefix: change the text anywhere, the state follows.

Short stories state a fact and then say more about it: correct it, mention another value
without correcting, negate it, retract the correction (`snippets.stories`). The next-token
distribution after a question about the fact shows which version the model's rebuilt state
holds, and the controls show whether that is more than picking the value mentioned last.
"""

import functools
from dataclasses import dataclass

import numpy as np
import torch

from snippets import stories
from snippets.batching import final_hidden_states
from snippets.decoder import parts
from snippets.intervals import Interval, bootstrap
from snippets.next_token import show_token, token_text
from snippets.plotting import PALETTE, new_figure
from snippets.tables import markdown_table
from state_simulators import keys
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load


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


# --8<-- [start:read]
def final_position_states(
    sequences: list[list[int]], lm: LanguageModel
) -> tuple[torch.Tensor, torch.Tensor]:
    """One batched pass over right-padded texts. Returns the residual stream at each text's
    last token, (layers + 1, texts, hidden): [0] the token embeddings, [l] the stream after
    layer l; and the next-token log-probabilities there, (texts, vocabulary)."""
    decoder = parts(lm.model)
    rows = torch.arange(len(sequences))
    last = torch.tensor([len(ids) - 1 for ids in sequences])
    captured = []

    def keep(module, inputs, output):
        hidden = output[0] if isinstance(output, tuple) else output
        captured.append(hidden[rows, last])

    hooks = [m.register_forward_hook(keep) for m in (decoder.embedding, *decoder.layers)]
    try:
        hidden = final_hidden_states(sequences, lm)
    finally:
        for hook in hooks:
            hook.remove()
    with torch.no_grad():
        logprobs = torch.log_softmax(decoder.unembedding(hidden[rows, last]), dim=-1)
    return torch.stack(captured), logprobs


# --8<-- [end:read]


@dataclass(frozen=True)
class Readings:
    """What one pass over every story in every condition gives (arrays indexed by item, then
    condition in `stories.CONDITIONS` order)."""

    p_first: np.ndarray  # (items, conditions): p(the first-stated value) as the next token
    p_second: np.ndarray  # (items, conditions): p(the other value)
    top: np.ndarray  # (items, conditions) str: the most likely next token
    states: np.ndarray  # (layers + 1, items, conditions, hidden) float32, at the last token


def measure_stories(items: list[stories.Item], lm: LanguageModel) -> Readings:
    """Every item in every condition, through the model in one batch."""
    prompts = [item.prompt(c) for item in items for c in stories.CONDITIONS]
    states, logprobs = final_position_states([lm.tokenizer(p).input_ids for p in prompts], lm)
    shape = (len(items), len(stories.CONDITIONS))
    probs = logprobs.exp()
    first = [token_id(item.first, lm) for item in items for _ in stories.CONDITIONS]
    second = [token_id(item.second, lm) for item in items for _ in stories.CONDITIONS]
    rows = range(len(prompts))
    return Readings(
        probs[rows, first].numpy().reshape(shape),
        probs[rows, second].numpy().reshape(shape),
        np.array([token_text(lm.tokenizer, int(t)) for t in logprobs.argmax(-1)]).reshape(
            shape
        ),
        states.numpy().reshape(states.shape[0], *shape, states.shape[-1]),
    )


@functools.cache
def readings() -> Readings:
    """The readings for `stories.items()` on the configured model, cached on disk: the
    conditions' figure and facts here and the probe on the logit-lens page share them."""
    path = keys.step_path("state-simulators", "story-readings", [__name__], suffix=".npz")
    return Readings(
        **keys.cached_arrays(path, lambda: vars(measure_stories(stories.items(), load())))
    )


# --8<-- [start:summary]
@dataclass(frozen=True)
class ConditionResult:
    condition: stories.Condition
    p_valid: Interval  # p(the value the whole story says), mean over items
    p_other: Interval  # p(the other value of the pair)
    valid_wins: Interval  # fraction of items where the valid value is the more likely one


def summarise(found: Readings) -> list[ConditionResult]:
    """Per condition, over items (the unit of resampling): the valid value's probability,
    the other value's, and how often the valid one wins, each with a 95 % interval."""
    results = []
    for j, condition in enumerate(stories.CONDITIONS):
        first, second = found.p_first[:, j], found.p_second[:, j]
        valid, other = (first, second) if condition.valid == "X" else (second, first)
        results.append(
            ConditionResult(
                condition, bootstrap(valid), bootstrap(other), bootstrap(valid > other)
            )
        )
    return results


# --8<-- [end:summary]


def recency_agrees(condition: stories.Condition) -> bool:
    """Would "answer with the value mentioned last" give the valid value?"""
    return condition.valid == condition.last


@functools.cache
def results() -> tuple[ConditionResult, ...]:
    return tuple(summarise(readings()))


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

EXAMPLE = stories.items()[0]  # the story shown in full on the page


@functools.cache
def influence() -> tuple[tuple[str, float], ...]:
    return tuple(token_influence(EXAMPLE.prompt(stories.BY_NAME["corrected"])))


@figure("state-simulators-corrections.svg")
def corrections_figure():
    found = results()
    fig, ax = new_figure(height=4.2)
    rows = np.arange(len(found))[::-1]  # first condition on top
    for offset, key, colour, label in (
        (0.15, "p_valid", PALETTE[0], "the valid value (what the whole story says)"),
        (-0.15, "p_other", PALETTE[3], "the other value"),
    ):
        intervals = [getattr(r, key) for r in found]
        ax.errorbar(
            [i.estimate for i in intervals],
            rows + offset,
            xerr=np.array([i.errors for i in intervals]).T,
            fmt="o",
            color=colour,
            markersize=5,
            capsize=2,
            label=label,
        )
    ax.set_yticks(
        rows,
        [f"{r.condition.name}{'' if recency_agrees(r.condition) else ' ✗'}" for r in found],
    )
    ax.set_xlim(0, 1)
    ax.set_xlabel(
        f"probability of the next token (mean over {found[0].p_valid.n} items, 95 % CI)"
    )
    ax.set_title("Which value does the model give? (✗: recency would pick the other one)")
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="y", visible=False)
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


def condition_table(found: tuple[ConditionResult, ...]) -> str:
    """One row per condition: what recency predicts, and what the model gives."""
    return markdown_table(
        ["condition", "valid value", "recency picks", "p(valid)", "p(other)", "valid wins"],
        [
            [
                r.condition.name,
                "first stated" if r.condition.valid == "X" else "second",
                "the valid value" if recency_agrees(r.condition) else "**the other value**",
                r.p_valid.format(),
                r.p_other.format(),
                r.valid_wins.format(digits=0, scale=100, unit=" %"),
            ]
            for r in found
        ],
    )


def example_facts(found: Readings) -> dict[str, str]:
    """The example story in every condition: its prompt and the model's top token."""
    versions = {}
    for j, condition in enumerate(stories.CONDITIONS):
        key = condition.name.replace(",", "").replace(" ", "_")
        versions[f"{key}_prompt"] = EXAMPLE.prompt(condition)
        versions[f"{key}_top"] = show_token(str(found.top[0, j]))
    return versions


@facts("state")
def state_facts():
    found = results()
    by_name = {r.condition.name: r for r in found}
    values = {}
    for r in found:
        key = r.condition.name.replace(",", "").replace(" ", "_")
        values[f"{key}_wins"] = r.valid_wins.format(digits=0, scale=100, unit=" %")
    influence_of = dict(influence())
    ranked = sorted(influence(), key=lambda pair: -pair[1])
    return {
        **example_facts(readings()),
        **values,
        "items": str(found[0].p_valid.n),
        "conditions": str(len(found)),
        "table": condition_table(found),
        "example_first": EXAMPLE.first,
        "example_second": EXAMPLE.second,
        "corrected_hedge": by_name["corrected"].p_other.format(),
        "influence_top": ", ".join(f"`{show_token(t)}` ({kl:.1f})" for t, kl in ranked[:3]),
        "influence_corrected": f"{influence_of[' ' + EXAMPLE.second]:.2f}",
        "influence_stated": f"{influence_of[' ' + EXAMPLE.first]:.2f}",
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
