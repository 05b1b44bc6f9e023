"""Greedy text is atypical: its tokens surprise the model far less than the model's entropy.

Prompts are cut from the held-out human text (`snippets.corpus`): each window's first tokens
are the prompt, its next tokens the human continuation. For every emitted token, the surprisal
(−ln p, nats) is compared with the entropy of the model's distribution at that position, for
the greedy continuation, samples at T = 1, the human continuation and beam search. At T = 1 a
sampled token's expected surprisal *is* the entropy, so the samples are the control that shows
what "typical" looks like. Holtzman et al. (ICLR 2020); Meister et al. (TACL 2023).
"""

import functools
import json
from dataclasses import asdict, dataclass

import numpy as np
import torch
import transformers

from snippets import corpus
from snippets.best_temperature import Scores, held_out_scores
from snippets.continuations import repeated_ngram_share
from snippets.intervals import Interval, bootstrap, unit_means
from snippets.next_token import plain_sampling
from snippets.plotting import MUTED, PALETTE, new_figure
from snippets.tables import markdown_table
from state_simulators import keys
from state_simulators.artifacts import facts, figure
from state_simulators.cache import atomic_write
from state_simulators.model import LanguageModel, load

PROMPT_TOKENS = 64  # the first tokens of a held-out window are the prompt...
NEW_TOKENS = 64  # ...and the next ones are the human continuation
EVERY = 2  # every other held-out window gives a prompt
SAMPLES = 3  # continuations at T = 1 per prompt
SEED = 2024
BEAMS = 4
BEAM_PROMPTS = 4  # beam search on the first few prompts only: it is the costliest decoder
GREEDY, SAMPLED, HUMAN, BEAM = "greedy", "T = 1", "human", f"beam search ({BEAMS} beams)"
SOURCES = (GREEDY, SAMPLED, HUMAN, BEAM)
KEYS = ("greedy", "sampled", "human", "beam")  # the sources' names in the facts


@dataclass(frozen=True)
class Continuation:
    """One continuation of one prompt; `surprisal` and `entropy` are nats per token, read
    from the untouched (T = 1) model at each position."""

    source: str
    prompt: int  # the held-out window the prompt was cut from
    token_ids: tuple[int, ...]
    surprisal: tuple[float, ...]
    entropy: tuple[float, ...]

    @property
    def log_prob(self) -> float:
        """ln p of the whole continuation given the prompt (nats)."""
        return -sum(self.surprisal)

    @property
    def gap(self) -> float:
        """Mean surprisal minus mean entropy (nats per token): 0 for a typical text."""
        return self.surprisal_mean - self.entropy_mean

    @property
    def surprisal_mean(self) -> float:
        return float(np.mean(self.surprisal))

    @property
    def entropy_mean(self) -> float:
        return float(np.mean(self.entropy))

    @property
    def repeats(self) -> float:
        """Share of its 4-grams that repeat an earlier one (`continuations.measures`)."""
        return repeated_ngram_share(list(self.token_ids))


# --8<-- [start:measure]
def surprisal_and_entropy(
    logits: torch.Tensor, tokens: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """For logits (..., vocab) and the tokens (...) emitted there: the surprisal −ln p(token)
    and the entropy −Σ p ln p of the distribution, both in nats, shape (...)."""
    model = torch.distributions.Categorical(logits=logits.float())
    return -model.log_prob(tokens), model.entropy()


# --8<-- [end:measure]


def until_end(
    source: str, prompt: int, ids: torch.Tensor, surprisal, entropy, eos: int | None
) -> Continuation:
    """A Continuation of one row, cut before its first end-of-text token (if it has one)."""
    ids = ids.tolist()
    end = ids.index(eos) if eos in ids else len(ids)
    return Continuation(
        source,
        prompt,
        tuple(ids[:end]),
        tuple(surprisal[:end].tolist()),
        tuple(entropy[:end].tolist()),
    )


# --8<-- [start:decode]
def decode(
    prompts: torch.Tensor,
    temperature: float | None,
    lm: LanguageModel,
    new_tokens: int = NEW_TOKENS,
    seed: int = SEED,
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Continue every row of `prompts` (rows, tokens) in one `generate` call: greedy when
    temperature is None, else sampled at T. Returns per row (new ids, surprisal, entropy),
    scored from the raw logits `generate` reports (no forward pass of its own)."""
    transformers.set_seed(seed)
    with torch.no_grad():
        out = lm.model.generate(
            prompts,
            attention_mask=torch.ones_like(prompts),
            max_new_tokens=new_tokens,
            output_logits=True,
            return_dict_in_generate=True,
            **plain_sampling(temperature, lm.tokenizer),
        )
    new = out.sequences[:, prompts.shape[1] :]
    scored = [surprisal_and_entropy(z, new[:, k]) for k, z in enumerate(out.logits)]
    surprisal, entropy = (torch.stack(values, dim=1) for values in zip(*scored))
    return list(zip(new, surprisal, entropy))


def beam_search(
    prompts: torch.Tensor, beams: int, lm: LanguageModel, new_tokens: int = NEW_TOKENS
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """`generate(num_beams=beams)` on every row; each result scored by one forward pass."""
    with torch.no_grad():
        sequences = lm.model.generate(
            prompts,
            attention_mask=torch.ones_like(prompts),
            max_new_tokens=new_tokens,
            num_beams=beams,
            **plain_sampling(None, lm.tokenizer),
        )
        logits = lm.model(sequences).logits[:, prompts.shape[1] - 1 : -1]
    new = sequences[:, prompts.shape[1] :]
    return list(zip(new, *surprisal_and_entropy(logits, new)))


# --8<-- [end:decode]


def human(
    windows: torch.Tensor, numbers: list[int], scores: Scores, prompt: int, new: int
) -> list[Continuation]:
    """The text that really follows each prompt, its scores read from the held-out forward
    pass of `best_temperature` (position i of a window predicts its token i + 1)."""
    span = slice(prompt - 1, prompt - 1 + new)
    return [
        Continuation(
            HUMAN,
            w,
            tuple(windows[w, prompt : prompt + new].tolist()),
            tuple(scores.at(1.0)[w, span].tolist()),
            tuple(scores.entropy[w, span].tolist()),
        )
        for w in numbers
    ]


def run(
    windows: torch.Tensor,
    scores: Scores,
    lm: LanguageModel,
    prompt: int = PROMPT_TOKENS,
    new: int = NEW_TOKENS,
) -> list[Continuation]:
    """Every EVERY-th window's first `prompt` tokens continued greedily and SAMPLES times at
    T = 1, the first BEAM_PROMPTS by beam search, and the `new` human tokens that follow."""
    numbers = list(range(0, len(windows), EVERY))
    prompts = windows[numbers, :prompt]
    plan = [
        (GREEDY, numbers, decode(prompts, None, lm, new)),
        (
            SAMPLED,
            np.repeat(numbers, SAMPLES),
            decode(prompts.repeat_interleave(SAMPLES, 0), 1.0, lm, new),
        ),
        (BEAM, numbers[:BEAM_PROMPTS], beam_search(prompts[:BEAM_PROMPTS], BEAMS, lm, new)),
    ]
    generated = [
        until_end(source, int(w), *row, lm.tokenizer.eos_token_id)
        for source, rows_of, rows in plan
        for w, row in zip(rows_of, rows, strict=True)
    ]
    return generated + human(windows, numbers, scores, prompt, new)


@functools.cache
def experiment() -> tuple[Continuation, ...]:
    """All continuations, generated once and cached (a JSON list) for the build and tests."""
    path = keys.step_path("typicality", "continuations", [__name__], suffix=".json")
    if not path.exists():
        lm = load()
        windows = corpus.windows(lm.tokenizer, "held_out")
        rows = [asdict(c) for c in run(windows, held_out_scores(), lm)]
        atomic_write(path, json.dumps(rows).encode())
    rows = json.loads(path.read_text())
    return tuple(
        Continuation(
            r["source"],
            r["prompt"],
            *(tuple(r[k]) for k in ("token_ids", "surprisal", "entropy")),
        )
        for r in rows
    )


def by_source(source: str, prompts: list[int] | None = None) -> list[Continuation]:
    """The continuations of one source, optionally only those of some prompts."""
    return [
        c
        for c in experiment()
        if c.source == source and (prompts is None or c.prompt in prompts)
    ]


def per_prompt(source: str, measure: str, prompts: list[int] | None = None) -> list[float]:
    """One value per prompt: the measure averaged over that prompt's continuations (the
    samples at T = 1 are several per prompt), in order of the prompts."""
    rows = by_source(source, prompts)
    return unit_means([getattr(c, measure) for c in rows], [c.prompt for c in rows])


# --8<-- [start:compare]
def interval(source: str, measure: str, prompts: list[int] | None = None) -> Interval:
    """The mean of a measure over prompts, with its 95 % interval (the prompt is the unit)."""
    return bootstrap(per_prompt(source, measure, prompts))


def most_likely_count() -> int:
    """On how many prompts greedy's continuation has a higher ln p than every sample at
    T = 1 and than the human continuation."""
    best = {c.prompt: c.log_prob for c in by_source(GREEDY)}
    rivals = by_source(SAMPLED) + by_source(HUMAN)
    return sum(all(r.log_prob < p for r in rivals if r.prompt == w) for w, p in best.items())


def beam_gains() -> list[float]:
    """ln p of beam search's continuation minus greedy's, per beam prompt (nats)."""
    beam = {c.prompt: c.log_prob for c in by_source(BEAM)}
    return [beam[c.prompt] - c.log_prob for c in by_source(GREEDY) if c.prompt in beam]


# --8<-- [end:compare]


def beam_prompts() -> list[int]:
    return [c.prompt for c in by_source(BEAM)]


@figure("typicality.svg")
def typicality_figure():
    fig, (scatter, gaps) = new_figure(1, 2, height=3.4)
    for source, colour in zip(SOURCES, PALETTE):
        scatter.plot(
            per_prompt(source, "entropy_mean"),
            per_prompt(source, "surprisal_mean"),
            "o",
            color=colour,
            markersize=4,
            label=source,
        )
    top = max(scatter.get_xlim()[1], scatter.get_ylim()[1])
    scatter.plot([0, top], [0, top], ":", color=MUTED, linewidth=1)
    scatter.text(
        top, top, "surprisal = entropy", color=MUTED, fontsize=8, ha="right", va="top"
    )
    scatter.set_xlabel("mean entropy of the model (nats)")
    scatter.set_ylabel("mean surprisal of the text (nats)")
    scatter.set_title("one dot per prompt", fontsize=10)
    scatter.legend(fontsize=8, loc="upper left")
    for i, (source, colour) in enumerate(zip(SOURCES, PALETTE)):
        found = interval(source, "gap")
        gaps.errorbar(
            [found.estimate], [i], xerr=[[e] for e in found.errors], fmt="o", color=colour
        )
    gaps.axvline(0, color=MUTED, linestyle="--", linewidth=0.8)
    gaps.set_yticks(
        range(len(SOURCES)), [f"{s}\n(n = {len(per_prompt(s, 'gap'))})" for s in SOURCES]
    )
    gaps.invert_yaxis()
    gaps.set_xlabel("surprisal − entropy (nats per token)")
    gaps.set_title("mean over prompts, 95 % interval", fontsize=10)
    return fig


def source_rows() -> list[list[str]]:
    """A table row per source: n, mean surprisal and entropy, their gap, ln p, repeats."""
    return [
        [
            source,
            str(len(per_prompt(source, "gap"))),
            f"{np.mean(per_prompt(source, 'surprisal_mean')):.2f}",
            f"{np.mean(per_prompt(source, 'entropy_mean')):.2f}",
            interval(source, "gap").format(),
            f"{np.mean(per_prompt(source, 'log_prob')):.0f}",
            f"{np.mean(per_prompt(source, 'repeats')):.0%}",
        ]
        for source in SOURCES
    ]


def source_facts(source: str, key: str) -> dict[str, str]:
    """Surprisal − entropy for every source; the other measures are in the table."""
    return {f"{key}_gap": interval(source, "gap").format()}


def quoted_facts() -> dict[str, str]:
    """The few means the prose quotes beside the table (the beam's on its own prompts)."""
    mean = lambda source, name: f"{np.mean(per_prompt(source, name)):.2f}"  # noqa: E731
    return {
        "greedy_surprisal": mean(GREEDY, "surprisal_mean"),
        "greedy_entropy": mean(GREEDY, "entropy_mean"),
        "beam_entropy": mean(BEAM, "entropy_mean"),
        **{
            f"{key}_log_prob": interval(source, "log_prob").format(digits=0)
            for source, key in zip((GREEDY, SAMPLED, HUMAN), KEYS)
        },
    }


def beam_facts() -> dict[str, str]:
    """Beam search against greedy decoding on the same prompts."""
    prompts = beam_prompts()
    gains = beam_gains()
    same = {s: np.mean(per_prompt(s, "repeats", prompts)) for s in SOURCES}
    return {
        "beam_prompts": str(len(prompts)),
        "beam_higher": str(sum(g > 0 for g in gains)),
        "beam_gain_low": f"{min(gains):.1f}",
        "beam_gain_high": f"{max(gains):.1f}",
        "beam_gain_mean": f"{np.mean(gains):.1f}",
        **{
            f"{key}_repeats_beam_prompts": f"{same[s]:.0%}"
            for s, key in zip(SOURCES, KEYS, strict=True)
        },
    }


@facts("typicality")
def typicality_facts():
    """The numbers the typicality section of docs/temperature.md quotes."""
    out = {
        "prompts": str(len(per_prompt(GREEDY, "gap"))),
        "prompt_tokens": str(PROMPT_TOKENS),
        "new_tokens": str(NEW_TOKENS),
        "samples": str(SAMPLES),
        "beams": str(BEAMS),
        "greedy_most_likely": str(most_likely_count()),
        "table": markdown_table(
            [
                "text",
                "prompts",
                "surprisal",
                "entropy",
                "surprisal − entropy",
                "ln p",
                "repeats",
            ],
            source_rows(),
            align=[None] + ["right"] * 6,
        ),
    }
    for source, key in zip(SOURCES, KEYS, strict=True):
        out |= source_facts(source, key)
    return out | quoted_facts() | beam_facts()


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
