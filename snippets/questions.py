"""Answers to the pages' "predict, then reveal" questions that no other module computes.

Most questions are answered by numbers the pages' own modules already compute; the few that
need something more are computed here, each in a section that its reveal block shows.
"""

import torch

from snippets.distributions import PROMPTS
from snippets.hot_texts import HOT
from snippets.next_token import next_token_logits, show_token, token_text
from snippets.sampling import Samplers, warp
from state_simulators.artifacts import facts
from state_simulators.model import LanguageModel, load

STORY = PROMPTS["a story"]
MIN_P = 0.1


# --8<-- [start:min_p_survivors]
def min_p_survivors(
    prompt: str, temperature: float, p_base: float, lm: LanguageModel | None = None
) -> list[tuple[str, float]]:
    """The tokens min-p `p_base` lets through at `temperature`, in `transformers`' order
    (temperature first), as (token, probability after the cut), the most likely first.

    Raises ValueError, naming the fix, for a temperature <= 0 or a p_base outside (0, 1].
    """
    lm = lm or load()
    cut = warp(next_token_logits(prompt, lm), Samplers(temperature, min_p=p_base))
    probabilities = torch.softmax(cut, dim=-1)  # the removed tokens get exactly 0
    kept = torch.isfinite(cut).nonzero().flatten()
    order = kept[probabilities[kept].argsort(descending=True)]
    return [(token_text(lm.tokenizer, int(i)), float(probabilities[i])) for i in order]


# --8<-- [end:min_p_survivors]


def code(text: str) -> str:
    """`text` as a Markdown code span, even when it holds a backtick (a token can be "`")."""
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def listed(tokens: list[tuple[str, float]]) -> str:
    """Tokens as prose, each a code span with its spaces shown: "`␣girl` (0.41), `␣boy` (0.20)"."""
    return ", ".join(f"{code(show_token(token))} ({p:.2f})" for token, p in tokens)


@facts("questions")
def questions_facts() -> dict[str, str]:
    """The answers computed here: the min-p survivors after the story prompt at T = HOT."""
    kept = min_p_survivors(STORY, HOT, MIN_P)
    return {
        "story_prompt": STORY,
        "hot_t": f"{HOT:g}",
        "min_p": f"{MIN_P:g}",
        "min_p_count": f"{len(kept):,}",
        "min_p_tokens": listed(kept),
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
