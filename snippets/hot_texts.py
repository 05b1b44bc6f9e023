"""Whole texts sampled at a high temperature, with no cut, with top-p and with min-p.

Every (prompt, setting, sample) row is continued in one seeded call of the batched generation in
`snippets/continuations.py`, and the texts are cached as a step keyed by this module's code (and
what it imports) and the model: editing how the texts are measured (`snippets/truncation.py`)
does not generate them again.
"""

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from snippets import continuations
from snippets.sampling import Samplers
from state_simulators import keys
from state_simulators.cache import atomic_write
from state_simulators.model import LanguageModel, load

HOT = 1.5  # the high temperature
SETTINGS = (Samplers(HOT), Samplers(HOT, top_p=0.9), Samplers(HOT, min_p=0.1))
PROMPTS = (  # open prompts: where the cuts have something to cut
    continuations.STORY,
    continuations.LANGUAGE,
    continuations.HISTORY,
    "My favourite thing about the weekend is",
    "The old lighthouse keeper opened the door and",
)
SAMPLES = 20  # continuations per prompt and setting
NEW_TOKENS = 48


@dataclass(frozen=True)
class Text:
    prompt: str
    setting: Samplers
    sample: int
    token_ids: tuple[int, ...]
    text: str
    log_probs: tuple[float, ...]  # ln p of each token under the untouched model (T = 1)


def plan() -> list[tuple[str, Samplers, int]]:
    """(prompt, setting, sample) for every row, in the order of the batch."""
    return [(p, s, i) for p in PROMPTS for s in SETTINGS for i in range(SAMPLES)]


# --8<-- [start:generate]
def generate(lm: LanguageModel) -> list[dict]:
    """Every row of the plan in one seeded generate call. A text ends where the
    model draws its end-of-text token, if it does."""
    rows = [(prompt, setting) for prompt, setting, _ in plan()]
    eos, texts = lm.tokenizer.eos_token_id, []
    for ids, log_probs in continuations.continue_batch(rows, NEW_TOKENS, lm=lm):
        end = ids.index(eos) if eos in ids else len(ids)
        text = lm.tokenizer.decode(ids[:end])
        texts.append({"ids": ids[:end], "text": text, "log_probs": log_probs[:end]})
    return texts


# --8<-- [end:generate]


def path() -> Path:
    """Where the texts are cached (JSON, one record per row of the plan)."""
    return keys.step_path("truncation", "hot-texts", [__name__], suffix=".json")


@functools.cache
def texts() -> tuple[Text, ...]:
    """The experiment's texts in plan order: from the cache, or generated now."""
    where = path()
    if not where.exists():
        atomic_write(where, json.dumps(generate(load()), ensure_ascii=False).encode())
    records = json.loads(where.read_text())
    return tuple(
        Text(p, s, i, tuple(r["ids"]), r["text"], tuple(r["log_probs"]))
        for (p, s, i), r in zip(plan(), records, strict=True)
    )


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
