"""A tiny character-level transformer trained on the ASCII-diffusion process itself.

It reads the same canvases as the pretrained model, one character per token, separated by a
blank line instead of Markdown fences. Its one architectural idea: every character knows
*where on its canvas* it sits (as a fraction of the width and height), and attention is
biased toward characters at the same place in the picture, whatever the canvas size — the
2-D cousin of ALiBi's bias toward nearby tokens. The places are computed from the text
itself (count the newlines), so generation works the same as training.

Training runs only when its cache is missing. The weights are a cached step
(`state_simulators.keys.step_path`) keyed by the code of this module and of everything it
imports, the recipe, the training settings and the libraries, but not the language model.
"""

import io
import json
import math
import multiprocessing
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from snippets.ascii.canvas import (
    HELD_OUT_PICTURES,
    NOISE,
    RAMP,
    SEEDS,
    TEMPERATURES,
    TRAINING_PICTURES,
    Recipe,
    Run,
    Sequence,
    cache_label,
    held_out_sequence,
    hopeless,
    load_picture,
    make_run,
    one_thread,
    training_sequence,
)
from state_simulators import keys
from state_simulators.cache import atomic_folder, atomic_write

NAME = "tiny model (ours)"
PICTURES = HELD_OUT_PICTURES + TRAINING_PICTURES  # scored on all: held out and trained on
# The picture every model is compared on gets every decoding; the others, to save time, the
# two ends only: the model's own (T = 1) distribution, and greedy.
OTHER_TEMPERATURES = (1.0, None)
VOCAB = RAMP + NOISE + "\n"
INDEX = {c: i for i, c in enumerate(VOCAB)}
NEWLINE = INDEX["\n"]
FREQUENCIES = 6  # sine/cosine pairs per axis for the place features


def sequence_text(sequence: Sequence, steps: int | None = None) -> str:
    """Canvases one after another, each row ending in a newline, a blank line after each."""
    return "".join(
        "".join(row + "\n" for row in canvas) + "\n" for canvas in sequence.noisy[:steps]
    )


def encode(text: str) -> list[int]:
    return [INDEX[c] for c in text]


def decode(ids) -> str:
    return "".join(VOCAB[i] for i in ids)


def canvas_of(text: str) -> list[str]:
    """The canvas written at the start of `text`: its rows up to the first blank line."""
    return text.split("\n\n")[0].split("\n") if text.strip("\n") else []


class Places:
    """Walks the text and says where each character sits: (step, row, column)."""

    def __init__(self, recipe: Recipe):
        self.sizes = recipe.sizes
        self.step = self.row = self.column = 0

    def here(self) -> tuple[float, float, float]:
        """(step, across, down) of the next character: fractions of its canvas's width and
        height, taken at the centre of the character cell."""
        step = min(self.step, len(self.sizes) - 1)
        columns, rows = self.sizes[step]
        return step, (self.column + 0.5) / columns, (self.row + 0.5) / rows

    def advance(self, token: int) -> None:
        if token != NEWLINE:
            self.column += 1
        elif self.column == 0:  # a blank line: the next canvas begins
            self.step, self.row = self.step + 1, 0
        else:
            self.row, self.column = self.row + 1, 0


def places(ids: list[int], recipe: Recipe) -> tuple[list, list]:
    """For each token: where it sits (for keys) and where the next one goes (for queries)."""
    walker, own, following = Places(recipe), [], []
    for token in ids:
        own.append(walker.here())
        walker.advance(token)
        following.append(walker.here())
    return own, following


@dataclass(frozen=True)
class Config:
    width: int = 80
    heads: int = 4
    layers: int = 3
    steps: int = 300  # optimiser steps
    batch: int = 4  # sequences per step
    learning_rate: float = 3e-3
    seed: int = 0


def place_features(place: torch.Tensor) -> torch.Tensor:
    """(…, 3) places → sines and cosines of the position across and down, and two flags: the
    row is over (a newline is due), the canvas is over (a blank line is due)."""
    across, down = place[..., 1:2], place[..., 2:3]
    k = torch.arange(1, FREQUENCIES + 1, dtype=place.dtype) * math.pi
    waves = [f(k * x) for x in (across, down) for f in (torch.sin, torch.cos)]
    return torch.cat([*waves, (across > 1).to(place.dtype), (down > 1).to(place.dtype)], -1)


PIECE = 192  # queries per attention call: see `attend`


def attend(q, k, v, bias):
    """Attention, PIECE queries at a time. No query may see a later key, so a piece needs
    the keys only up to its own end: a training sequence, in four pieces, takes 5/8 of the
    work of the full square, for the same result. (Cached keys of earlier tokens come
    first.)"""
    queries, keys = q.shape[2], k.shape[2]
    pieces = []
    for start in range(0, queries, PIECE):
        end = keys - queries + min(start + PIECE, queries)  # past its last query's key
        piece = slice(start, start + PIECE)
        pieces.append(
            F.scaled_dot_product_attention(
                q[:, :, piece], k[:, :, :end], v[:, :, :end], attn_mask=bias[..., piece, :end]
            )
        )
    return torch.cat(pieces, 2)


class Block(nn.Module):
    def __init__(self, config: Config):
        super().__init__()
        self.heads = config.heads
        self.norm1, self.norm2 = nn.LayerNorm(config.width), nn.LayerNorm(config.width)
        self.qkv = nn.Linear(config.width, 3 * config.width)
        self.out = nn.Linear(config.width, config.width)
        self.mlp = nn.Sequential(
            nn.Linear(config.width, 4 * config.width),
            nn.GELU(),
            nn.Linear(4 * config.width, config.width),
        )

    def forward(self, x, bias, cache=None):
        batch, length, width = x.shape
        qkv = self.qkv(self.norm1(x)).view(batch, length, 3, self.heads, -1)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        if cache is not None:  # incremental decoding: keys and values of earlier tokens
            k, v = torch.cat([cache[0], k], 2), torch.cat([cache[1], v], 2)
        y = attend(q, k, v, bias)
        x = x + self.out(y.transpose(1, 2).reshape(batch, length, width))
        return x + self.mlp(self.norm2(x)), (k, v)


class TinyModel(nn.Module):
    def __init__(self, config: Config, recipe: Recipe):
        super().__init__()
        self.config, self.recipe = config, recipe
        self.chars = nn.Embedding(len(VOCAB), config.width)
        self.step = nn.Embedding(len(recipe.sizes), config.width)
        self.where = nn.Linear(4 * FREQUENCIES + 2, config.width)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.layers))
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, len(VOCAB))
        # Per head, fixed like ALiBi's slopes: how sharply attention prefers the same place.
        # Head 0 looks everywhere; the last one at about a single cell of the final canvas.
        sharpness = [0.0] + [5 * 10**i for i in range(1, config.heads)]
        self.register_buffer("sharpness", torch.tensor(sharpness), persistent=False)

    @torch.no_grad()
    def bias(self, query: torch.Tensor, key: torch.Tensor, offset: int = 0) -> torch.Tensor:
        """Attention bias (batch, heads, queries, keys): −sharpness × the squared distance
        between the places on the picture, and −∞ for keys in the future."""
        distance = ((query[:, :, None, 1:] - key[:, None, :, 1:]) ** 2).sum(-1)
        bias = -self.sharpness[None, :, None, None] * distance[:, None]
        position = torch.arange(query.shape[1])[:, None] + offset
        future = torch.arange(key.shape[1])[None, :] > position
        return bias.masked_fill(future, float("-inf"))

    def layout_bias(self, query: torch.Tensor, key: torch.Tensor, offset: int) -> torch.Tensor:
        """`bias` for one layout, remembered: every training batch has the same layout, so
        every step but the first reuses the bias of the one before."""
        last = getattr(self, "_last_layout", None)
        if not (
            last
            and last[0] == offset
            and torch.equal(last[1], query)
            and torch.equal(last[2], key)
        ):
            self._last_layout = (offset, query, key, self.bias(query, key, offset))
        return self._last_layout[3]

    def forward(self, ids, own, following, cache=None):
        """Logits for the next character at every position. `own`/`following`: (batch, tokens,
        3) places of each token and of the character after it; `cache`: what an earlier call
        returned, to feed only new tokens."""
        offset = 0 if cache is None else cache[0][0][0].shape[2]
        keys = own if cache is None else torch.cat([cache[1], own], 1)
        x = self.chars(ids) + self.step(following[..., 0].long())
        x = x + self.where(place_features(following))
        # Training batches (and most generation batches) share one layout: one bias for all.
        if bool((following == following[:1]).all() and (keys == keys[:1]).all()):
            bias = self.layout_bias(following[:1], keys[:1], offset)
        else:
            bias = self.bias(following, keys, offset)
        layers = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, bias, None if cache is None else cache[0][i])
            layers.append(kv)
        return self.head(self.norm(x)), (layers, keys)


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def batch_tensors(texts: list[str], recipe: Recipe):
    ids = [encode(t) for t in texts]
    own, following = zip(*(places(i, recipe) for i in ids))
    return (
        torch.tensor(ids),
        torch.tensor(own, dtype=torch.float32),
        torch.tensor(following, dtype=torch.float32),
    )


def terminal():
    """A text stream to the terminal. In a notebook kernel, sys.stderr feeds the notebook and
    its fileno() is the kernel's own stderr: the terminal that started it (during a site
    build, the builder's)."""
    try:
        return open(sys.stderr.fileno(), "w", closefd=False)
    except (io.UnsupportedOperation, AttributeError):
        return sys.__stderr__


def training_batch(recipe: Recipe, config: Config, step: int, pictures) -> list[str]:
    """A batch of whole sequences from random windows of the training pictures."""
    seeds = range(step * config.batch, (step + 1) * config.batch)
    return [sequence_text(training_sequence(recipe, seed, pictures)) for seed in seeds]


@one_thread()
def train(recipe: Recipe, config: Config, progress: bool = True):
    """Train from scratch: next-character cross-entropy on every position, AdamW, a linear
    warm-up then cosine decay. Seeded: the same settings give the same weights."""
    torch.manual_seed(config.seed)
    pictures = {name: load_picture(name) for name in TRAINING_PICTURES}
    model = TinyModel(config, recipe)
    optimiser = torch.optim.AdamW(model.parameters(), config.learning_rate, weight_decay=0.01)
    warmup = max(1, config.steps // 10)

    def rate(s):  # a fraction of the learning rate at step s
        return min(1, (s + 1) / warmup) * (1 + math.cos(math.pi * s / config.steps)) / 2

    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, rate)
    losses, started, cpu = [], time.perf_counter(), time.process_time()
    # The bar is drawn live on the terminal. In a notebook, where every redraw would become
    # an output of its own, only the finished bar goes into the notebook.
    in_notebook = sys.stderr is not sys.__stderr__
    bar = tqdm(
        range(config.steps),
        desc="training the tiny model",
        disable=not progress,
        mininterval=2.0,
        ncols=90,
        file=terminal(),
    )
    for step in bar:
        texts = training_batch(recipe, config, step, pictures)
        ids, own, following = batch_tensors(texts, recipe)
        logits, _ = model(ids[:, :-1], own[:, :-1], following[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, len(VOCAB)), ids[:, 1:].reshape(-1))
        optimiser.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        losses.append(loss.item())
        bar.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
    if progress and in_notebook:
        print(bar, file=sys.stderr, flush=True)
    return model.eval(), {
        "losses": losses,
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu,
    }


def trained(recipe: Recipe = Recipe(), config: Config = Config(), progress: bool = True):
    """The trained model and its training record, from the cache or trained now (and cached).

    The record says whether it came from the cache (`cached`), how long training took
    (`seconds`) and the loss at every step (`losses`)."""
    folder = model_folder(recipe, config)
    fresh = _wait_for_background(recipe, config)  # trained just now, by a second process?
    cached = folder.exists()
    if not cached:
        model, record = train(recipe, config, progress)

        def fill(tmp: Path) -> None:
            save_file(model.state_dict(), tmp / "weights.safetensors")
            (tmp / "record.json").write_text(json.dumps({**record, "config": asdict(config)}))

        atomic_folder(folder, fill)
    model = TinyModel(config, recipe)
    model.load_state_dict(load_file(folder / "weights.safetensors"))
    record = json.loads((folder / "record.json").read_text())
    return model.eval(), {**record, "cached": cached and not fresh}


def model_folder(recipe: Recipe, config: Config) -> Path:
    """Where the trained weights are cached: they do not depend on the language model."""
    label = cache_label("tiny-model", recipe, config)
    return keys.step_path("ascii-diffusion", label, [__name__], model=False)


def runs_path(
    recipe: Recipe, config: Config, temperatures=TEMPERATURES, seeds=SEEDS, pictures=PICTURES
) -> Path:
    """Where the texts the tiny model writes are cached (a JSON list, one text per run)."""
    label = cache_label("tiny-runs", recipe, config, temperatures, seeds, pictures)
    return keys.step_path("ascii-diffusion", label, [__name__], suffix=".json", model=False)


# Processes started by `start_in_background`, by (recipe, config), and whether each trains.
_background: dict[tuple[Recipe, Config], tuple[multiprocessing.Process, bool]] = {}


def start_in_background(recipe: Recipe = Recipe(), config: Config = Config()):
    """Train the model and write its runs in a second process, unless they are cached, so
    that other work (the pretrained model writing) runs meanwhile on another core.
    `trained` and `tiny_runs` wait for it. Returns the process, or None."""
    trains = not model_folder(recipe, config).exists()
    if not trains and runs_path(recipe, config).exists():
        return None
    # spawn: a fresh interpreter, with its own random numbers and its own one thread. No
    # progress bar: a notebook kernel shows what its children write in whichever cell runs.
    process = multiprocessing.get_context("spawn").Process(
        target=tiny_runs, args=(recipe, config), kwargs={"progress": False}, name="tiny model"
    )
    process.start()
    _background[recipe, config] = process, trains
    return process


def _wait_for_background(recipe: Recipe, config: Config) -> bool:
    """Wait for the process `start_in_background` started, if any; True if it trained."""
    process, trains = _background.get((recipe, config), (None, False))
    if process is not None:
        process.join()
        if process.exitcode != 0:
            raise RuntimeError(
                f"the tiny model's background process failed (exit code {process.exitcode});"
                " its error is on the terminal (stderr)"
            )
    return trains


def pick(logits: torch.Tensor, temperature: float | None, generator) -> int:
    """The next character: the most likely one, or one sampled at the temperature."""
    if temperature is None:
        return int(logits.argmax())
    return int(
        torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=generator)
    )


@one_thread()
@torch.no_grad()
def generate(
    model: TinyModel, sequences: list[Sequence], temperatures: list, seeds: list[int]
) -> list[str]:
    """For each sequence, show its first `context` steps and write the next canvas character
    by character, feeding only the new character each time (the keys and values of the
    earlier ones are cached). Row i is greedy when temperatures[i] is None, else sampled at
    that temperature with seeds[i]: its own random numbers, whatever the other rows do."""
    recipe = model.recipe
    columns, rows = recipe.sizes[recipe.context]
    prompts = [sequence_text(sequence, recipe.context) for sequence in sequences]
    ids, own, following = batch_tensors(prompts, recipe)  # all prompts have the same layout
    walkers = [Places(recipe) for _ in prompts]
    for walker, prompt in zip(walkers, prompts):
        for token in encode(prompt):
            walker.advance(token)
    generators = [torch.Generator().manual_seed(seed) for seed in seeds]
    logits, cache = model(ids, own, following)
    written = [""] * len(prompts)
    for _ in range(3 * ((columns + 1) * rows + 1) // 2):  # room as for the pretrained model
        done = ["\n\n" in w or hopeless(w, columns, rows) for w in written]
        if all(done):  # every canvas has ended with a blank line, or given up, as above
            break
        last = zip(logits[:, -1], temperatures, generators)
        tokens = [pick(row, temperature, g) for row, temperature, g in last]
        new_own, new_following = [], []
        for b, token in enumerate(tokens):
            written[b] += "" if done[b] else VOCAB[token]
            new_own.append([walkers[b].here()])
            walkers[b].advance(token)
            new_following.append([walkers[b].here()])
        logits, cache = model(
            torch.tensor(tokens)[:, None],
            torch.tensor(new_own),
            torch.tensor(new_following),
            cache,
        )
    return written


def tiny_runs(
    recipe: Recipe = Recipe(),
    config: Config = Config(),
    temperatures=TEMPERATURES,
    seeds=SEEDS,
    progress: bool = True,
    pictures=PICTURES,
) -> list[Run]:
    """The tiny model on every picture (held out and trained on), one run per (picture,
    temperature, seed): every temperature for the first picture, OTHER_TEMPERATURES (those of
    them in `temperatures`) for the others. Cached. (Trains the model first, if that is not
    cached either: `progress` shows a bar.)"""
    _wait_for_background(recipe, config)
    path = runs_path(recipe, config, temperatures, seeds, pictures)
    others = [t for t in temperatures if t in OTHER_TEMPERATURES]
    grid = [
        (p, t, seed)
        for i, p in enumerate(pictures)
        for t in (others if i else temperatures)
        for seed in seeds
    ]
    sequences = {(p, seed): held_out_sequence(recipe, seed, p) for p, _, seed in grid}
    if not path.exists():
        model, _ = trained(recipe, config, progress)
        # One batch for every run: each row samples at its own temperature.
        texts = generate(
            model,
            [sequences[p, s] for p, _, s in grid],
            [t for _, t, _ in grid],
            [s for _, _, s in grid],
        )
        atomic_write(path, json.dumps(texts).encode())
    texts = json.loads(path.read_text())
    return [
        make_run(NAME, t, s, text, canvas_of(text), sequences[p, s], "\n\n", picture=p)
        for (p, t, s), text in zip(grid, texts, strict=True)
    ]
