"""What the model outputs for one prompt: a probability for every token in its vocabulary.

These helpers are the ones every page builds on: the next-token distribution, how a prompt
is cut into tokens, and seeded sampling.
"""

from dataclasses import dataclass

import torch
import transformers

from snippets.decoder import parts
from snippets.plotting import MUTED, PALETTE, new_figure
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

HOME_PROMPT = "The capital of France is"


def check_prompt(prompt: str) -> str:
    if not prompt.strip():
        raise ValueError(
            'the prompt is empty: give some text, e.g. "The capital of France is"'
        )
    return prompt


def check_temperature(temperature: float) -> float:
    if not isinstance(temperature, int | float) or not temperature > 0:
        raise ValueError(
            f"temperature must be > 0 (got {temperature}); for the single most likely "
            "token use greedy decoding instead"
        )
    return temperature


def show_token(piece: str) -> str:
    """A token as a reader can see it: spaces as '␣', newlines as '↵'."""
    return piece.replace(" ", "␣").replace("\n", "↵")


# --8<-- [start:tokens]
def tokenize(prompt: str, lm: LanguageModel | None = None) -> list[tuple[int, str]]:
    """The prompt as the model sees it: a list of (token id, token text)."""
    lm = lm or load()
    ids = lm.tokenizer(check_prompt(prompt)).input_ids
    return [(i, lm.tokenizer.decode([i])) for i in ids]


# --8<-- [end:tokens]


# --8<-- [start:distribution]
@dataclass(frozen=True)
class Candidate:
    rank: int
    token_id: int
    token: str
    probability: float
    logit: float


def next_token_logits(prompt: str, lm: LanguageModel | None = None) -> torch.Tensor:
    """One forward pass; the scores (logits) for every vocabulary token at the last position."""
    lm = lm or load()
    ids = lm.tokenizer(check_prompt(prompt), return_tensors="pt").input_ids
    with torch.no_grad():
        return lm.model(ids).logits[0, -1]


def next_token_distribution(
    prompt: str, top: int = 10, temperature: float = 1.0, lm: LanguageModel | None = None
) -> list[Candidate]:
    """The `top` most likely next tokens. Softmax turns logits into probabilities that sum to 1."""
    lm = lm or load()
    logits = next_token_logits(prompt, lm)
    probabilities = torch.softmax(logits / check_temperature(temperature), dim=-1)
    best = torch.topk(probabilities, top)
    return [
        Candidate(rank, int(i), lm.tokenizer.decode([int(i)]), float(p), float(logits[i]))
        for rank, (p, i) in enumerate(zip(best.values, best.indices), start=1)
    ]


# --8<-- [end:distribution]


# --8<-- [start:sampling]
def sample_next_token(logits: torch.Tensor, temperature: float = 1.0, seed: int = 0) -> int:
    """Draw one token id from softmax(logits / T) with a private, seeded random generator."""
    generator = torch.Generator().manual_seed(seed)
    probabilities = torch.softmax(logits / check_temperature(temperature), dim=-1)
    return int(torch.multinomial(probabilities, 1, generator=generator))


def plain_sampling(temperature: float | None, tokenizer) -> dict:
    """`generate` arguments that draw from softmax(logits / T) and nothing else: top-k and
    top-p off (a model's generation config may switch them on), padding with end-of-text.
    Greedy decoding when temperature is None."""
    if temperature is None:
        sampling = {"do_sample": False}
    else:
        sampling = {"do_sample": True, "temperature": check_temperature(temperature)}
        sampling |= {"top_k": 0, "top_p": 1.0}
    return sampling | {"pad_token_id": tokenizer.eos_token_id}


def generate(
    prompt: str,
    max_new_tokens: int = 40,
    temperature: float | None = None,
    seed: int = 0,
    lm: LanguageModel | None = None,
) -> str:
    """Continue the prompt with transformers' own `generate`: greedy when temperature is None."""
    lm = lm or load()
    ids = lm.tokenizer(check_prompt(prompt), return_tensors="pt")
    transformers.set_seed(seed)
    with torch.no_grad():
        out = lm.model.generate(
            **ids, max_new_tokens=max_new_tokens, **plain_sampling(temperature, lm.tokenizer)
        )
    return lm.tokenizer.decode(out[0, ids.input_ids.shape[1] :], skip_special_tokens=True)


# --8<-- [end:sampling]


# --8<-- [start:figure]
@figure("next-token.svg")
def next_token_figure():
    candidates = next_token_distribution(HOME_PROMPT, top=12)
    rest = 1 - sum(c.probability for c in candidates)
    labels = [show_token(c.token) for c in candidates] + ["all others"]
    values = [c.probability for c in candidates] + [rest]
    fig, ax = new_figure()
    bars = ax.bar(labels, values, color=[PALETTE[0]] * len(candidates) + [MUTED])
    ax.bar_label(bars, labels=[f"{v:.3f}" for v in values], fontsize=8, padding=2)
    ax.set_ylabel("probability")
    ax.set_title(f"Next token after “{HOME_PROMPT}”")
    ax.tick_params(axis="x", rotation=45)
    return fig


# --8<-- [end:figure]


@facts("model")
def model_facts():
    """The one place pages take the model's size from: `{{ model.layers }}`, `{{ model.vocab }}`…"""
    lm = load()
    config = lm.model.config
    parameters = sum(p.numel() for p in lm.model.parameters())
    return {
        "name": lm.name,
        "vocab": f"{config.vocab_size:,}",
        "layers": str(parts(lm.model).depth),
        "hidden": str(config.hidden_size),
        "heads": str(config.num_attention_heads),
        "kv_heads": str(getattr(config, "num_key_value_heads", config.num_attention_heads)),
        "parameters": f"{parameters:,}",
        "parameters_millions": f"{parameters / 1e6:.0f} million",
        "context": f"{getattr(config, 'max_position_embeddings', 0):,}",
    }


@facts("home")
def home_facts():
    """The home page's first distribution; the model's size is in the `model` group."""
    first, second, third = next_token_distribution(HOME_PROMPT, top=3)
    return {
        "top_token": show_token(first.token),
        "top_p": f"{first.probability:.2f}",
        "second_token": show_token(second.token),
        "second_p": f"{second.probability:.2f}",
        "third_token": show_token(third.token),
        "third_p": f"{third.probability:.3f}",
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
