"""What the model outputs for one prompt: a probability for every token in its vocabulary.

These helpers are the ones every page builds on: the next-token distribution, how a prompt
is cut into tokens, and seeded sampling.
"""

import functools
import math
import re
from dataclasses import dataclass

import torch
import transformers
from transformers.convert_slow_tokenizer import bytes_to_unicode

from snippets.decoder import parts
from snippets.plotting import MUTED, PALETTE, new_figure
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

HOME_PROMPT = "The capital of France is"


def check_prompt(prompt: str) -> str:
    """The prompt itself, or ValueError (one line) when it is empty or not valid UTF-8."""
    if not prompt.strip():
        raise ValueError(
            'the prompt is empty: give some text, e.g. "The capital of France is"'
        )
    try:
        prompt.encode("utf-8")
    except UnicodeEncodeError as error:  # bytes a terminal passed that are not UTF-8
        byte = ord(prompt[error.start]) - 0xDC00
        raise ValueError(
            f"the prompt is not valid UTF-8 (byte 0x{byte:02x} at position {error.start}): "
            "pass UTF-8 text"
        ) from None
    return prompt


# Below this, logits / T overflows even in float64 for ordinary logits; T → 0 is greedy anyway.
TEMPERATURE_FLOOR = 1e-30


def check_temperature(temperature: float) -> float:
    """T itself, or ValueError (one line naming the fix) unless it is a finite number > 0."""
    if (
        isinstance(temperature, bool)
        or not isinstance(temperature, int | float)
        or not math.isfinite(temperature)
        or not temperature > 0
    ):
        raise ValueError(
            f"temperature must be a finite number > 0 (got {temperature}); for the single "
            "most likely token use greedy decoding instead"
        )
    if temperature < TEMPERATURE_FLOOR:
        raise ValueError(
            f"temperature {temperature:g} is below {TEMPERATURE_FLOOR:g}, where logits / T "
            "overflows; as T → 0 the top token gets all the probability: use greedy decoding"
        )
    return temperature


def check_length(tokens: int, lm: LanguageModel, what: str = "the prompt") -> int:
    """`tokens` itself, or ValueError when it is more than the model has positions for."""
    limit = lm.tokenizer.model_max_length
    if tokens > limit:
        raise ValueError(
            f"{what} needs {tokens:,} positions but {lm.name} has {limit:,}: shorten it"
        )
    return tokens


def show_token(piece: str) -> str:
    """A token as a reader can see it: spaces as '␣', newlines as '↵'."""
    return piece.replace(" ", "␣").replace("\n", "↵")


@functools.cache
def _byte_of() -> dict[str, int]:
    """Byte-level BPE (GPT-2, SmolLM2) writes each byte as one printable character."""
    return {character: byte for byte, character in bytes_to_unicode().items()}


def token_text(tokenizer, token_id: int) -> str:
    """One token as text. A token that is only part of a UTF-8 character (emoji, CJK) would
    decode to '�'; it is shown as its bytes instead, e.g. '<F0 9F>'."""
    text = tokenizer.decode([token_id])
    if "\ufffd" not in text:
        return text
    piece = tokenizer.convert_ids_to_tokens(token_id)
    if match := re.fullmatch(r"<0x([0-9A-Fa-f]{2})>", piece):  # SentencePiece byte fallback
        raw = bytes([int(match.group(1), 16)])
    elif all(c in _byte_of() for c in piece):
        raw = bytes(_byte_of()[c] for c in piece)
    else:
        return text
    decoded = raw.decode("utf-8", errors="replace")
    if "\ufffd" not in decoded:
        return decoded
    return "<" + " ".join(f"{b:02X}" for b in raw) + ">"


# --8<-- [start:tokens]
def tokenize(prompt: str, lm: LanguageModel | None = None) -> list[tuple[int, str]]:
    """The prompt as the model sees it: a list of (token id, token text)."""
    lm = lm or load()
    ids = lm.tokenizer(check_prompt(prompt)).input_ids
    check_length(len(ids), lm)
    return [(i, token_text(lm.tokenizer, i)) for i in ids]


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
    check_length(ids.shape[1], lm)
    with torch.no_grad():
        return lm.model(ids).logits[0, -1]


def next_token_distribution(
    prompt: str, top: int = 10, temperature: float = 1.0, lm: LanguageModel | None = None
) -> list[Candidate]:
    """The `top` most likely next tokens. Softmax turns logits into probabilities that sum to 1."""
    lm = lm or load()
    logits = next_token_logits(prompt, lm)
    # In log space and float64, so that a tiny T leaves the order intact instead of
    # underflowing every token but the first to 0 (and an overflow to NaN).
    log_p = torch.log_softmax(logits.double() / check_temperature(temperature), dim=-1)
    best = torch.topk(logits, min(top, logits.numel())).indices  # T never changes the order
    return [
        Candidate(
            rank,
            int(i),
            token_text(lm.tokenizer, int(i)),
            float(log_p[i].exp()),
            float(logits[i]),
        )
        for rank, i in enumerate(best, start=1)
    ]


# --8<-- [end:distribution]


# --8<-- [start:sampling]
def sample_next_token(logits: torch.Tensor, temperature: float = 1.0, seed: int = 0) -> int:
    """Draw one token id from softmax(logits / T) with a private, seeded random generator."""
    generator = torch.Generator().manual_seed(seed)
    probabilities = torch.softmax(logits.double() / check_temperature(temperature), dim=-1)
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
    check_length(ids.input_ids.shape[1] + max_new_tokens, lm, "the prompt and its new tokens")
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
