"""The seed essay's experiment, reproduced: the pretrained model continues an ASCII diffusion.

The model reads the first steps of a sequence made from the held-out picture and writes the
next canvas, with transformers' own `generate`: sampling at several temperatures, and greedy.
What it writes is a cached step (`state_simulators.keys.step_path`, keyed by the code of this
module and everything it imports, the recipe, the runs, the model and the libraries), so a
rebuild only re-scores it.
"""

import json
from pathlib import Path

import torch
import transformers

from snippets.ascii.canvas import (
    SEEDS,
    TEMPERATURES,
    Recipe,
    Run,
    Sequence,
    cache_label,
    held_out_sequence,
    hopeless,
    make_run,
    one_thread,
    parse_canvas,
    prompt_text,
)
from snippets.next_token import plain_sampling
from state_simulators import keys
from state_simulators.cache import atomic_write
from state_simulators.model import LanguageModel, load

FENCE = "```"  # ends a canvas in the prompt, and in what the model writes
CHAT_TEMPERATURES = (1.0,)  # the chat-template runs: the essay's best setting only (cost)


def token_pieces(text: str, tokenizer) -> list[str]:
    """The text cut where the tokenizer cuts it: one string per token."""
    ids = tokenizer(text, add_special_tokens=False).input_ids
    return [tokenizer.decode([i]) for i in ids]


def chat_prompt(sequence: Sequence, tokenizer) -> str | None:
    """The same steps as a chat: the title and the steps shown as the user's message, and the
    assistant's answer begun with the next step's heading and fence, so that its canvas is
    read as in the plain prompt. None if the tokenizer has no chat template."""
    if not getattr(tokenizer, "chat_template", None):
        return None
    k = sequence.recipe.context
    shown, heading, fence = prompt_text(sequence).rpartition(f"Step {k + 1}:\n")
    request = shown + f"Write step {k + 1}, in a code block like the others."
    messages = [{"role": "user", "content": request}]
    opening = tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=True
    )
    return opening + heading + fence


class RowTemperatures(transformers.LogitsProcessor):
    """A logits processor giving each row of the batch its own temperature: logits / T, or,
    for T = None, every token but the top one removed, so that sampling is greedy decoding."""

    def __init__(self, temperatures):
        self.temperatures = list(temperatures)

    def __call__(self, input_ids, scores):
        out = torch.empty_like(scores)
        for row, temperature in enumerate(self.temperatures):
            if temperature is None:
                out[row] = float("-inf")
                out[row, scores[row].argmax()] = 0.0
            else:
                out[row] = scores[row] / temperature
        return out


class CanvasDone(transformers.StoppingCriteria):
    """Stops each row at the closing fence of its canvas, or as soon as the canvas is hopeless
    (see `hopeless`): what it would write next could not change its size verdict."""

    def __init__(self, start: int, tokenizer, columns: int, rows: int):
        self.start, self.tokenizer, self.columns, self.rows = start, tokenizer, columns, rows

    def __call__(self, input_ids, scores, **kwargs):
        texts = self.tokenizer.batch_decode(
            input_ids[:, self.start :], skip_special_tokens=True
        )
        return torch.tensor([self.done(text) for text in texts])

    def done(self, text: str) -> bool:
        return FENCE in text or hopeless(text, self.columns, self.rows) is not None


CHUNK = 16  # tokens per generate call; then the rows that have stopped leave the batch


def read_prompts(prompts: list[str], lm: LanguageModel):
    """Read each distinct prompt once, all but its last token, and give every row that
    continues it a copy of the keys and values: `generate` then reads only the last token.

    Returns (ids, attention mask, cache): (rows, tokens) tensors padded on the left, one row
    per prompt, and the model's cache of all but the last position."""
    distinct = list(dict.fromkeys(prompts))
    batch = lm.tokenizer(distinct, return_tensors="pt", padding=True, padding_side="left")
    positions = (batch.attention_mask.cumsum(-1) - 1).clamp(min=0)
    with torch.no_grad():
        cache = lm.model(
            input_ids=batch.input_ids[:, :-1],
            position_ids=positions[:, :-1],
            attention_mask=batch.attention_mask[:, :-1],
            logits_to_keep=1,
            use_cache=True,
        ).cache
    rows = torch.tensor([distinct.index(p) for p in prompts])
    cache.batch_select_indices(rows)
    return batch.input_ids[rows], batch.attention_mask[rows], cache


def writes_on(row: torch.Tensor, text: str, room: bool, done: CanvasDone, eos: int) -> bool:
    """Whether a row goes on to the next chunk: there is room left, its canvas is not done,
    and it has not drawn end-of-text (`generate` also pads a row that has stopped with it)."""
    return room and not done.done(text) and eos not in row


@one_thread()
@torch.no_grad()
def continue_sequences(
    prompts: list[str],
    temperatures,
    max_new_tokens: int,
    size,
    lm: LanguageModel,
    seed: int = 0,
) -> list[str]:
    """Continue all prompts in one batch (padded on the left), row i at temperatures[i], each
    row stopping at the closing fence of its canvas, or once its canvas of the expected
    `size` (columns, rows) is hopeless. No top-k or top-p cut: T alone shapes the
    distribution. Seeded: the same prompts give the same texts."""
    ids, pads, cache = read_prompts(prompts, lm)
    start = ids.shape[1]
    done = CanvasDone(start, lm.tokenizer, *size)
    transformers.set_seed(seed)
    # generate computes every row until the last one stops, and most stop early: so it
    # writes CHUNK tokens at a time, and the rows that have stopped leave the batch.
    writing, texts = list(range(len(prompts))), [""] * len(prompts)
    while writing:
        out = lm.model.generate(
            input_ids=ids,
            attention_mask=torch.cat([pads, torch.ones_like(ids[:, start:])], 1),
            cache=cache,
            logits_processor=[RowTemperatures(temperatures[i] for i in writing)],
            stopping_criteria=[done],
            max_new_tokens=min(CHUNK, start + max_new_tokens - ids.shape[1]),
            return_dict_in_generate=True,
            **plain_sampling(1.0, lm.tokenizer),  # the processors do the warping
        )
        new = out.sequences[:, start:]
        written = lm.tokenizer.batch_decode(new, skip_special_tokens=True)
        room = new.shape[1] < max_new_tokens
        keep = []
        for j, (row, text) in enumerate(zip(new, written)):
            texts[writing[j]] = text
            if writes_on(row, text, room, done, lm.tokenizer.eos_token_id):
                keep.append(j)
        writing = [writing[j] for j in keep]
        ids, pads, cache = out.sequences[keep], pads[keep], out.cache
        cache.batch_select_indices(torch.tensor(keep, dtype=torch.long))
    return texts


def token_budget(recipe: Recipe, lm: LanguageModel) -> int:
    """Room for half as many tokens again as the true next canvas takes (with its fence)."""
    target = "\n".join(held_out_sequence(recipe, 0).clean[recipe.context]) + "\n" + FENCE
    return 3 * len(lm.tokenizer(target).input_ids) // 2


def runs_path(
    recipe: Recipe, temperatures=TEMPERATURES, seeds=SEEDS, kind: str = "pretrained"
) -> Path:
    """Where the texts are cached (a JSON record: the model's name and one text per run)."""
    label = cache_label(kind, recipe, temperatures, seeds)
    return keys.step_path("ascii-diffusion", label, [__name__], suffix=".json", model=True)


def pretrained_runs(
    recipe: Recipe = Recipe(),
    temperatures=TEMPERATURES,
    seeds=SEEDS,
    lm: LanguageModel | None = None,
) -> list[Run]:
    """Every run, one per (temperature, seed): the text from the cache, or generated now."""
    return _runs("pretrained", recipe, temperatures, seeds, lm)


def chat_runs(
    recipe: Recipe = Recipe(),
    temperatures=CHAT_TEMPERATURES,
    seeds=SEEDS,
    lm: LanguageModel | None = None,
) -> list[Run]:
    """The same, with the prompt in the model's chat template (`chat_prompt`); none if the
    model has no chat template."""
    return _runs("chat", recipe, temperatures, seeds, lm)


def _runs(kind: str, recipe: Recipe, temperatures, seeds, lm) -> list[Run]:
    grid = [(temperature, seed) for temperature in temperatures for seed in seeds]
    path = runs_path(recipe, temperatures, seeds, kind)
    if not path.exists():
        lm = lm or load()
        sequences = [held_out_sequence(recipe, seed) for _, seed in grid]
        if kind == "chat":
            prompts = [chat_prompt(sequence, lm.tokenizer) for sequence in sequences]
        else:
            prompts = [prompt_text(sequence) for sequence in sequences]
        texts = None
        if None not in prompts:
            size = recipe.sizes[recipe.context]
            budget = token_budget(recipe, lm)
            texts = continue_sequences(prompts, [t for t, _ in grid], budget, size, lm)
        name = lm.name if kind == "pretrained" else f"{lm.name}, chat template"
        record = {"model": name, "texts": texts}
        atomic_write(path, json.dumps(record, ensure_ascii=False, indent=1).encode())
    record = json.loads(path.read_text())
    if record["texts"] is None:  # the model has no chat template
        return []
    return [
        make_run(
            record["model"],
            t,
            seed,
            text,
            parse_canvas(text),
            held_out_sequence(recipe, seed),
            end=FENCE,
        )
        for (t, seed), text in zip(grid, record["texts"], strict=True)
    ]
