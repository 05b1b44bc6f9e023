"""The data behind the interactive explorer, and the numbers the page must show for it.

For a handful of prompts the build stores the model's real logits: the TOP highest exactly, and
the rest of the vocabulary as a histogram (bins BIN logits wide, each with its token count and
the mean logit of its tokens). Expanded again, that is a full vocabulary of logits, so the page's
JavaScript and this module can run the same samplers on it; `view` is what the page must display.
The sliders start at SLIDERS, stored in the data file as `Samplers.to_json` writes it.
"""

import functools
import json
import math

import torch

from snippets.next_token import next_token_logits, token_text
from snippets.sampling import Samplers, entropy_bits, survivors, warp, warp_temperature_last
from snippets.tables import markdown_table
from state_simulators.artifacts import data, facts
from state_simulators.model import load

PROMPTS = {
    "fact": "The capital of France is",
    "story": "Once upon a time, there was a little",
    "code": 'if __name__ == "__main__',
    "advice": "I think the best way to learn a new language is",
    "weekend": "My favourite thing about the weekend is",
    "cat": "The cat sat on the",
}
TOP = 256
BIN = 0.1
SHOWN = 12  # bars the page draws for the best named tokens (docs/javascripts/explorer.js)
OTHERS_T = (1.0, 1.5, 2.0, 3.0)  # temperatures of the page's "others" table
SLIDERS = Samplers(1.0, top_k=50, top_p=0.9, min_p=0.1)  # where they start; cuts start off


def _floor(value: float, digits: int = 4) -> float:
    """Round down, so a stored tail logit never rises above the named tokens it sits below."""
    return math.floor(value * 10**digits) / 10**digits


# --8<-- [start:compress]
def compress(logits: torch.Tensor, decode) -> dict:
    """The TOP best tokens exactly; the rest as [mean logit, count] bins."""
    ranked = torch.sort(logits.double(), descending=True)
    named, rest = ranked.values[:TOP], ranked.values[TOP:]
    bins = torch.floor(rest / BIN)
    tail = []
    for b in torch.unique(bins).flip(0):  # highest bin first
        members = rest[bins == b]
        tail.append([_floor(float(members.mean())), int(members.numel())])
    return {
        "tokens": [decode(int(i)) for i in ranked.indices[:TOP]],
        "logits": [round(float(z), 4) for z in named],
        "tail": tail,
    }


def expand(entry: dict) -> torch.Tensor:
    """Back to one logit per vocabulary token (float64), highest first."""
    named = torch.tensor(entry["logits"], dtype=torch.float64)
    tail = [torch.full((count,), logit, dtype=torch.float64) for logit, count in entry["tail"]]
    return torch.cat([named, *tail])


# --8<-- [end:compress]


@functools.cache
def prompt_logits() -> dict[str, torch.Tensor]:
    return {label: next_token_logits(prompt) for label, prompt in PROMPTS.items()}


@functools.cache
def explorer_data():
    lm = load()
    entries = []
    for label, logits in prompt_logits().items():
        decode = lambda i: token_text(lm.tokenizer, i)  # noqa: E731
        entries.append({"label": label, "prompt": PROMPTS[label], **compress(logits, decode)})
    return {
        "model": lm.name,
        "vocab": lm.model.config.vocab_size,
        "top": TOP,
        "bin": BIN,
        "samplers": SLIDERS.to_json(),
        "prompts": entries,
    }


@data("explorer.json")
def explorer_json():
    return explorer_data()


def artifacts_bytes(content: dict) -> bytes:
    """The data file's bytes, serialised as state_simulators/artifacts.py writes them."""
    return json.dumps(content, sort_keys=True, indent=1, ensure_ascii=False).encode()


CHECKED = (0.25, 0.5, 1.0, 1.5, 2.0, 3.0)


def compression_error() -> float:
    """Largest entropy difference (bits) between the stored and the full logits, T in CHECKED."""
    worst = 0.0
    for entry in explorer_data()["prompts"]:
        full, stored = prompt_logits()[entry["label"]].double(), expand(entry)
        for t in CHECKED:
            worst = max(worst, abs(entropy_bits(full / t) - entropy_bits(stored / t)))
    return worst


def others(entry: dict, temperature: float) -> float:
    """The "others" bar with no cut: the probability outside the SHOWN best tokens."""
    return 1 - sum(view(entry, Samplers(temperature))["probabilities"][:SHOWN])


def others_table() -> str:
    """The "others" bar per prompt at OTHERS_T, no cut."""
    return markdown_table(
        ["prompt", *(f"T = {t:g}" for t in OTHERS_T)],
        [
            [entry["label"], *(f"{others(entry, t):.0%}" for t in OTHERS_T)]
            for entry in explorer_data()["prompts"]
        ],
        align=[None] + ["right"] * len(OTHERS_T),
    )


def others_facts() -> dict[str, str]:
    """The "others" bar on the open and the factual prompts, and its least value at T = 2."""
    entries = {entry["label"]: entry for entry in explorer_data()["prompts"]}
    out = {"others_table": others_table()}
    for label in ("weekend", "cat", "fact", "code"):
        out[f"others_{label}_1"] = f"{others(entries[label], 1.0):.0%}"
    out["others_least_2"] = f"{min(others(e, 2.0) for e in entries.values()):.0%}"
    return out


@facts("explorer")
def explorer_facts():
    content = explorer_data()
    return {
        "prompts": str(len(content["prompts"])),
        "top": str(TOP),
        "bin": f"{BIN:g}",
        "kilobytes": f"{len(artifacts_bytes(content)) / 1024:.0f}",
        "error": f"{compression_error():.4f}",
        "checked": ", ".join(f"{t:g}" for t in CHECKED),
        "shown": str(SHOWN),
    } | others_facts()


# --8<-- [start:view]
def view(entry: dict, samplers: Samplers, temperature_last: bool = False) -> dict:
    """What the explorer shows for these settings: entropy, survivors, and for
    every named token its probability and whether the cuts kept it."""
    pipeline = warp_temperature_last if temperature_last else warp
    logits = pipeline(expand(entry), samplers)
    probabilities = torch.softmax(logits, dim=-1)
    named = slice(0, len(entry["logits"]))
    return {
        "entropy": entropy_bits(logits),
        "survivors": survivors(logits),
        "probabilities": probabilities[named].tolist(),
        "kept": torch.isfinite(logits[named]).tolist(),
    }


# --8<-- [end:view]


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
