"""The practical fixes for loops: penalties that make the next token depend on the text so far.

transformers has the repetition penalty (Keskar et al., 2019, CTRL) and the n-gram block
(`no_repeat_ngram_size`) as logits processors. The frequency and presence penalties of the
OpenAI API are not in transformers; `FrequencyPresencePenalty` writes out the API's definition
(OpenAI API reference, "Frequency and presence penalties", platform.openai.com/docs):

    logits[j] -= c[j] * frequency_penalty + (c[j] > 0) * presence_penalty

where c[j] counts how often token j was generated before the current position (the prompt
does not count). `Penalised` combines any of them with a sampler setting, for the per-row
processor of `snippets.continuations`.
"""

import dataclasses
from dataclasses import dataclass

import torch
import transformers
from torch import Tensor

from snippets.sampling import GREEDY, Samplers


# --8<-- [start:openai]
class FrequencyPresencePenalty(transformers.LogitsProcessor):
    """OpenAI's frequency and presence penalties: subtract `frequency` for every
    earlier occurrence of a token in the generated text, and `presence` once if
    it occurred at all. The first call sees only the prompt: its length marks
    where the generated text begins (use one instance per generate call)."""

    def __init__(self, frequency: float = 0.0, presence: float = 0.0):
        self.frequency, self.presence = frequency, presence
        self.start: int | None = None

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if self.start is None:
            self.start = input_ids.shape[1]
        generated = input_ids[:, self.start :]
        counts = torch.zeros_like(scores)
        counts.scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
        present = (counts > 0).to(scores.dtype)
        return scores - counts * self.frequency - present * self.presence


# --8<-- [end:openai]


def _check(name: str, value: float, low: float, strict: bool = False) -> None:
    if value < low or (strict and value == low):
        raise ValueError(
            f"{name} must be {'above' if strict else 'at least'} {low:g}; got {value}"
        )


# --8<-- [start:setting]
@dataclass(frozen=True)
class Penalised:
    """A sampler setting with loop penalties applied to the logits first.

    repetition: CTRL's penalty (1 = off): a seen token's logit is divided by it
    (multiplied, if negative). no_repeat: ban any n-gram of this size from
    occurring twice (0 = off). frequency, presence: OpenAI's (0 = off).
    """

    sampler: Samplers = GREEDY
    repetition: float = 1.0
    no_repeat: int = 0
    frequency: float = 0.0
    presence: float = 0.0

    def processors(self) -> transformers.LogitsProcessorList:
        """Penalties first, then the sampler's own warpers (greedy: top-k 1)."""
        chain = []
        if self.repetition != 1.0:
            chain.append(transformers.RepetitionPenaltyLogitsProcessor(self.repetition))
        if self.no_repeat:
            chain.append(transformers.NoRepeatNGramLogitsProcessor(self.no_repeat))
        if self.frequency or self.presence:
            chain.append(FrequencyPresencePenalty(self.frequency, self.presence))
        return transformers.LogitsProcessorList(chain + list(self.sampler.processors()))

    # --8<-- [end:setting]

    def __post_init__(self) -> None:
        _check("the repetition penalty", self.repetition, 0.0, strict=True)
        _check("the no-repeat n-gram size", self.no_repeat, 0)
        _check("the frequency penalty", self.frequency, 0.0)
        _check("the presence penalty", self.presence, 0.0)

    @property
    def greedy(self) -> bool:
        return self.sampler.greedy

    @property
    def label(self) -> str:
        """How pages name it: "greedy, repetition penalty 1.2"."""
        named = (
            ("repetition penalty", self.repetition, 1.0),
            ("no repeated", self.no_repeat, 0),
            ("frequency penalty", self.frequency, 0.0),
            ("presence penalty", self.presence, 0.0),
        )
        parts = [
            f"no repeated {v}-grams" if name == "no repeated" else f"{name} {v:g}"
            for name, v, off in named
            if v != off
        ]
        return ", ".join([self.sampler.label, *parts])

    def at(self, temperature: float | None) -> "Penalised":
        """The same penalties on another temperature (None: greedy)."""
        return dataclasses.replace(self, sampler=self.sampler.at(temperature))
