"""The data behind the interactive lens grid: every cell, through both lenses, for the browser.

For a few prompts the build stores, per lens (logit, tuned) and per cell (layer × position):
the TOP most likely tokens and their probabilities, the entropy, and the probability and rank
of the final answer (the model's own top token at that position); and, for the target picker,
the probability at every cell of each token that is the top token at some cell of that lens.
Probabilities are stored as integers in units of 1 / P_SCALE, entropies in units of
1 / ENTROPY_SCALE bits, and each grid as one string (`encode`). One file per prompt; every file
also names all the prompts, and the page (docs/javascripts/lens.js) loads a prompt's file only
when it shows it.
"""

import functools
import json
import math

import torch

from snippets import logit_lens as ll
from snippets import stories
from snippets import tuned_lens as tl
from snippets.next_token import token_text
from state_simulators.artifacts import data, facts
from state_simulators.model import LanguageModel, load

TOP = 5  # tokens listed per cell
P_SCALE = 1000  # a probability p is stored as round(p * P_SCALE): steps of 0.1 %
ENTROPY_SCALE = 100  # an entropy of h bits is stored as round(h * ENTROPY_SCALE)
LENSES = ("logit", "tuned")


def story_prompt() -> str:
    """The late correction of the state page: a value stated, then corrected."""
    return stories.items()[0].prompt(stories.BY_NAME["corrected"])


PROMPTS = {  # label -> prompt; the page's data files are lens-<label>.json
    "grid": ll.GRID_SENTENCE,
    "code": ll.PROMPTS[4],
    "story": story_prompt(),
}


# --8<-- [start:cells]
def lens_logits(prompt: str, lm: LanguageModel, maps: dict):
    """The input ids, the model's real logits (positions, vocab) and, per lens, the logits it
    reads at every layer and position (layers + 1, positions, vocab)."""
    states, logits = ll.residual_stream(prompt, lm)
    ids = lm.tokenizer(prompt, return_tensors="pt").input_ids
    raw = tl.residual_states(ids, lm)[:, 0]  # before the final norm, as the tuned lens reads
    lenses = {
        "logit": ll.logit_lens(states, lm),
        "tuned": tl.tuned_lens(raw, maps["weight"], maps["bias"], lm),
    }
    return ids[0].tolist(), logits, lenses


def read_cells(logits: torch.Tensor, answers: torch.Tensor) -> dict[str, torch.Tensor]:
    """What the page shows at every cell of one lens (logits: layers + 1, positions, vocab;
    answers: the final answer per position): the TOP tokens and their probabilities, the
    entropy in bits, and the final answer's probability and rank (1 = the top token)."""
    log_p = torch.log_softmax(logits.double(), dim=-1)
    p = log_p.exp()
    best = p.topk(TOP, dim=-1)
    index = answers.expand(len(logits), -1)[..., None]
    answer_logit = logits.gather(-1, index)
    return {
        "top": best.indices,
        "top_p": best.values,
        "entropy": -(p * log_p).nansum(dim=-1) / math.log(2),
        "answer_p": p.gather(-1, index)[..., 0],
        "answer_rank": (logits > answer_logit).sum(dim=-1) + 1,
    }


def picker_tokens(p: torch.Tensor) -> list[int]:
    """The tokens the picker offers for one lens's probabilities p (layers + 1, positions,
    vocab): each one the top token of some cell, by its best probability at any cell, highest
    first (ties: the lower id first)."""
    tokens = p.argmax(dim=-1).unique()
    best = p[..., tokens].amax(dim=(0, 1)).tolist()
    return [
        t for _, t in sorted(zip(best, tokens.tolist()), key=lambda pair: (-pair[0], pair[1]))
    ]


# --8<-- [end:cells]


# --8<-- [start:encode]
def quantise(values: torch.Tensor, scale: int) -> list[int]:
    """Values as integers in units of 1 / scale, row by row (layer, then position, ...)."""
    return [int(v) for v in torch.round(values.double() * scale).flatten().tolist()]


def encode(values: list[int]) -> str:
    """Integers as one string: separated by spaces, a run of n > 1 zeros written `z<n>`."""
    out, run = [], 0
    for v in [*values, None]:  # None flushes the last run
        if v == 0:
            run += 1
            continue
        if run:
            out.append("0" if run == 1 else f"z{run}")
            run = 0
        if v is not None:
            out.append(str(v))
    return " ".join(out)


def decode(text: str) -> list[int]:
    """The integers `encode` wrote."""
    values = []
    for word in text.split():
        values.extend([0] * int(word[1:]) if word[0] == "z" else [int(word)])
    return values


# --8<-- [end:encode]


def prompt_data(label: str, lm: LanguageModel | None = None, maps: dict | None = None) -> dict:
    """One prompt's data file: a table of the token strings it names, and grids of indices
    into it and of quantised values, flattened layer by layer, position by position."""
    lm = lm or load()
    maps = maps or tl.translators()
    prompt = PROMPTS[label]
    ids, logits, lenses = lens_logits(prompt, lm, maps)
    answers = logits.argmax(dim=-1)
    table: dict[int, int] = {}  # token id -> index in the file's table

    def names(token_ids) -> list[int]:
        return [table.setdefault(int(t), len(table)) for t in token_ids]

    entry = {"inputs": names(ids), "answers": names(answers), "lenses": {}}
    for name, z in lenses.items():
        cells = read_cells(z, answers)
        p = torch.softmax(z.double(), dim=-1)
        order = picker_tokens(p)
        p = p[..., order]
        entry["lenses"][name] = {
            "top": encode(names(cells["top"].flatten())),
            "top_p": encode(quantise(cells["top_p"], P_SCALE)),
            "entropy": encode(quantise(cells["entropy"], ENTROPY_SCALE)),
            "answer_p": encode(quantise(cells["answer_p"], P_SCALE)),
            "answer_rank": encode(cells["answer_rank"].flatten().tolist()),
            "targets": names(order),
            "target_p": [encode(quantise(p[..., i], P_SCALE)) for i in range(len(order))],
        }
    return {
        "label": label,
        "prompt": prompt,
        "layers": len(lenses["logit"]) - 1,
        "positions": len(ids),
        "tokens": [token_text(lm.tokenizer, t) for t in table],
        "ids": list(table),  # each token's id in the model's vocabulary
        **entry,
    }


def header() -> dict:
    """What every prompt's file carries besides its grids: the model, the steps of the stored
    values, and the prompts with their files (the page lists them all before loading more)."""
    lm = load()
    return {
        "model": lm.name,
        "vocab": lm.model.config.vocab_size,
        "top": TOP,
        "p_scale": P_SCALE,
        "entropy_scale": ENTROPY_SCALE,
        "lens_names": list(LENSES),
        "prompts": [
            {"label": label, "prompt": prompt, "src": f"lens-{label}.json"}
            for label, prompt in PROMPTS.items()
        ],
    }


@functools.cache
def prompt_file(label: str) -> dict:
    """The data file of the prompt PROMPTS[label]."""
    return header() | prompt_data(label)


@data("lens-grid.json", depends=("snippets/data/alice-chapters-1-6.txt",))
def lens_grid_json():
    return prompt_file("grid")


@data("lens-code.json", depends=("snippets/data/alice-chapters-1-6.txt",))
def lens_code_json():
    return prompt_file("code")


@data("lens-story.json", depends=("snippets/data/alice-chapters-1-6.txt",))
def lens_story_json():
    return prompt_file("story")


def served_bytes(content: dict) -> int:
    """The size of a data file as state_simulators/artifacts.py writes it."""
    return len(json.dumps(content, sort_keys=True, indent=1, ensure_ascii=False).encode())


@facts("lens_explorer", depends=("snippets/data/alice-chapters-1-6.txt",))
def lens_explorer_facts():
    sizes = {label: served_bytes(prompt_file(label)) for label in PROMPTS}
    return {
        "top": str(TOP),
        "p_step": f"{100 / P_SCALE:g} %",
        "entropy_step": f"{1 / ENTROPY_SCALE:g}",
        "prompts": str(len(PROMPTS)),
        "others": str(len(PROMPTS) - 1),
        "kb_grid": f"{sizes['grid'] / 1024:.0f}",
        "kb_all": f"{sum(sizes.values()) / 1024:.0f}",
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
