"""Held-out human text shipped with the site: chapters I–VI of *Alice's Adventures in Wonderland*.

Lewis Carroll (1865), public domain; the text of Project Gutenberg eBook #11 (the Millennium
Fulcrum Edition 3.0), its licence header and footer removed. It is a famous book, so the model
may have seen it in pretraining: results on it are a best case for the model, and the pages say so.

Two parts that never mix: chapters I–IV `fit` what is trained on text (the tuned lens), chapters
V–VI are `held_out`, where every measurement on human text is made (the best temperature, the
tuned lens's loss). Windows of the tokenised text are the unit of resampling for intervals.
"""

import functools
import re
from pathlib import Path

import torch
import transformers

PATH = Path(__file__).parent / "data" / "alice-chapters-1-6.txt"
PARTS = {"fit": ("I", "II", "III", "IV"), "held_out": ("V", "VI")}
WINDOW = 256  # tokens per window: long enough for context, many windows for intervals


@functools.cache
def chapters() -> dict[str, str]:
    """Chapter number (Roman) -> its text, title line included."""
    text = PATH.read_text(encoding="utf-8")
    pieces = re.split(r"^CHAPTER ([IVX]+)\.\n", text, flags=re.MULTILINE)[1:]
    return {
        number: body.strip() for number, body in zip(pieces[::2], pieces[1::2], strict=True)
    }


def text(part: str) -> str:
    """The chapters of one part ("fit" or "held_out") joined by blank lines; ValueError else."""
    if part not in PARTS:
        raise ValueError(f"no part {part!r}: use one of {', '.join(PARTS)}")
    return "\n\n".join(chapters()[number] for number in PARTS[part])


# --8<-- [start:windows]
def windows(
    tokenizer: transformers.PreTrainedTokenizerBase, part: str, length: int = WINDOW
) -> torch.Tensor:
    """Token ids of one part cut into non-overlapping windows: shape (n_windows, length).

    Tokenised as raw text, with no BOS, like every prompt on the site; the last partial
    window is dropped so every window has the same length. Raises ValueError when the part
    has fewer than two windows (an interval needs two units).
    """
    ids = tokenizer(text(part), add_special_tokens=False, verbose=False)["input_ids"]
    count = len(ids) // length
    if count < 2:
        raise ValueError(f"{part!r} has {len(ids)} tokens: use windows shorter than {length}")
    return torch.tensor(ids[: count * length]).reshape(count, length)


# --8<-- [end:windows]
