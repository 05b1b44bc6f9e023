"""The logit lens: read the residual stream after every layer as if it were the last one.

Each layer adds its contribution to one running vector per position (the residual stream).
Passing that vector through the model's final norm and unembedding at any depth shows what
the model would predict if it stopped there (nostalgebraist, 2020).
"""

import functools

import numpy as np
import torch
from matplotlib import font_manager
from matplotlib.colors import LinearSegmentedColormap

from snippets.decoder import parts, require
from snippets.next_token import check_prompt, show_token, token_text
from snippets.plotting import INK, PALETTE, STYLE, new_figure
from snippets.tables import markdown_table
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

# Prompts whose answer the model gets right; the lens shows at which depth it appears.
PROMPTS = (
    "The capital of France is",
    "Once upon a time, there was a little",
    "One, two, three, four,",
    "The opposite of hot is",
    "def add(a, b):\n    return a",
    "The Eiffel Tower is located in the city of",
)
GRID_SENTENCE = "The capital of France is Paris, and the capital of Germany is"


# --8<-- [start:lens]
def residual_stream(prompt: str, lm: LanguageModel | None = None):
    """The hidden state after every layer, and the real logits, in one pass.

    states[0] is the token embeddings, states[l] the stream after layer l:
    shape (layers + 1, positions, hidden).
    """
    lm = lm or load()
    ids = lm.tokenizer(check_prompt(prompt), return_tensors="pt").input_ids
    with torch.no_grad():
        out = lm.model(ids, output_hidden_states=True)
    return torch.stack(out.hidden_states)[:, 0], out.logits[0]


def logit_lens(states: torch.Tensor, lm: LanguageModel | None = None):
    """The logits each layer would give if it were last: unembed(norm(state)).

    states: (layers + 1, ...positions, hidden) from `residual_stream`;
    returns (layers + 1, ...positions, vocabulary).
    """
    lm = lm or load()
    decoder = require(lm.model, what="the logit lens")
    with torch.no_grad():
        normed = decoder.final_norm(states[:-1])
        # transformers returns the last state with the final norm already applied;
        # normalising it again would distort it (the norm has learned weights)
        normed = torch.cat([normed, states[-1:]])
        return decoder.unembedding(normed)


# --8<-- [end:lens]


# --8<-- [start:track]
def track_answer(prompt: str, lm: LanguageModel | None = None) -> dict:
    """The model's final answer, and its probability and rank at every layer."""
    lm = lm or load()
    states, logits = residual_stream(prompt, lm)
    lens = logit_lens(states[:, -1], lm)  # the last position: (layers + 1, vocab)
    answer = int(logits[-1].argmax())
    probabilities = torch.softmax(lens, dim=-1)[:, answer]
    rank = (lens > lens[:, [answer]]).sum(dim=-1) + 1  # 1 = the top token
    return {
        "prompt": prompt,
        "answer": token_text(lm.tokenizer, answer),
        "probability": probabilities.tolist(),
        "rank": rank.tolist(),
    }


# --8<-- [end:track]


def settling_layer(on_top: list[bool]) -> int:
    """The first layer from which the final answer is the lens's top token at every layer after."""
    layer = len(on_top) - 1
    while layer > 0 and on_top[layer - 1]:
        layer -= 1
    return layer


def grid_settling_layers(g: dict) -> list[int]:
    """For each position of the grid, the layer from which its final top token stays on top."""
    final = g["top"][-1]
    return [
        settling_layer([row[i] == final[i] for row in g["top"]]) for i in range(len(final))
    ]


@functools.cache
def tracks() -> tuple[dict, ...]:
    lm = load()
    return tuple(track_answer(p, lm) for p in PROMPTS)


def short_prompt(prompt: str, width: int = 28) -> str:
    text = prompt.replace("\n", "↵ ")
    return text if len(text) <= width else "…" + text[-(width - 1) :]


# one colour a prompt, none alike: the palette without its sky blue (beside its blue) and its
# yellow (faint on white)
ANSWER_COLOURS = [c for c in PALETTE if c not in ("#56B4E9", "#F0E442")]


@figure("logit-lens-answers.svg")
def logit_lens_answers_figure():
    fig, (left, right) = new_figure(1, 2, height=4.2)
    for colour, track in zip(ANSWER_COLOURS, tracks()):
        label = f"{short_prompt(track['prompt'])} → {show_token(track['answer'])}"
        layers = range(len(track["rank"]))
        left.plot(layers, track["probability"], color=colour, label=label)
        right.plot(layers, track["rank"], color=colour)
    left.set_xlabel("layer (0 = embeddings)")
    left.set_ylabel("probability of the final answer")
    left.set_ylim(0, 1)
    right.set_xlabel("layer (0 = embeddings)")
    right.set_ylabel("rank of the final answer (1 = top)")
    right.set_yscale("log")
    right.invert_yaxis()
    fig.legend(loc="outside lower center", ncol=2, fontsize=8)
    return fig


def top_grid(logits: torch.Tensor, ids: list[int], tokenizer) -> dict:
    """Top token and its probability at every layer and position, from a lens's logits
    (layers + 1, positions, vocab)."""
    best = torch.softmax(logits, dim=-1).max(dim=-1)
    return {
        "inputs": [token_text(tokenizer, i) for i in ids],
        "top": [[token_text(tokenizer, int(i)) for i in row] for row in best.indices],
        "probability": best.values.numpy(),
    }


@functools.cache
def grid(sentence: str = GRID_SENTENCE) -> dict:
    """Top token and its probability at every layer and position of one sentence."""
    lm = load()
    states, _ = residual_stream(sentence, lm)
    return top_grid(logit_lens(states, lm), lm.tokenizer(sentence).input_ids, lm.tokenizer)


@functools.cache
def has_glyph(character: str) -> bool:
    """Whether the plotting font can draw `character` (a lens may pick any token, CJK too)."""
    font = font_manager.get_font(font_manager.findfont(STYLE["font.family"]))
    return font.get_char_index(ord(character)) != 0


def cell_text(token: str, width: int = 7) -> str:
    """A token short enough for one cell; characters the font lacks shown as UTF-8 bytes."""
    text = "".join(
        c if has_glyph(c) else "<" + " ".join(f"{b:02X}" for b in c.encode()) + ">"
        for c in show_token(token)
    )
    return text if len(text) <= width else text[: width - 1] + "…"


# light enough at the top that dark text stays readable on every cell
SHADES = LinearSegmentedColormap.from_list("lens", ["#ffffff", "#a6d2f0", "#5aa7dc"])


def draw_grid(ax, g: dict, fontsize: float = 8, width: int = 6):
    """One lens grid on `ax`: a row per layer, a column per position, the top token in each
    cell, shaded by its probability. Returns the image (for a colour bar)."""
    layers, positions = g["probability"].shape
    ax.grid(False)
    image = ax.imshow(
        g["probability"], aspect="auto", cmap=SHADES, vmin=0, vmax=1, origin="lower"
    )
    for layer in range(layers):
        for position in range(positions):
            text = cell_text(g["top"][layer][position], width)
            ax.text(
                position, layer, text, ha="center", va="center", fontsize=fontsize, color=INK
            )
    ax.set_xticks(
        range(positions),
        [show_token(t) for t in g["inputs"]],
        rotation=45,
        ha="right",
        fontsize=8,
    )
    ax.set_yticks(range(0, layers, 2))
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    return image


@figure("logit-lens-grid.svg")
def logit_lens_grid_figure():
    fig, ax = new_figure(
        height=8.5
    )  # type large enough to read when enlarged on a 1024 px screen
    image = draw_grid(ax, grid())
    ax.set_xlabel("input token (each column predicts what follows it)")
    ax.set_ylabel("layer (0 = embeddings)")
    fig.colorbar(
        image,
        ax=ax,
        label="probability of the top token",
        orientation="horizontal",
        location="bottom",
        shrink=0.5,
        aspect=40,
        pad=0.01,
    )  # below the grid, which keeps the column's whole width for its cells
    return fig


@facts("lens")
def lens_facts():
    lm = load()
    found = tracks()
    first = found[0]
    decoder = parts(lm.model)
    layers = decoder.depth
    states, logits = residual_stream(PROMPTS[0], lm)
    with torch.no_grad():  # the mistake the lens avoids: the final norm applied twice
        twice = decoder.unembedding(decoder.final_norm(states[-1]))
    settle = [settling_layer([r == 1 for r in t["rank"]]) for t in found]
    table = markdown_table(
        ["prompt", "final answer", "p at the output", "top token from layer"],
        [
            [
                "`" + track["prompt"].replace("\n", "↵") + "`",
                f"`{show_token(track['answer'])}`",
                f"{track['probability'][-1]:.2f}",
                layer,
            ]
            for track, layer in zip(found, settle)
        ],
    )
    g = grid()
    final = g["top"][-1]
    return {
        "states": str(layers + 1),
        "first_prompt": first["prompt"],
        "first_answer": show_token(first["answer"]),
        "first_settle": str(settle[0]),
        "first_p_out": f"{first['probability'][-1]:.2f}",
        "first_p_before": f"{first['probability'][settle[0] - 1]:.3f}",
        "first_rank_mid": f"{first['rank'][layers // 2]:,}",
        "mid_layer": str(layers // 2),
        "earliest_settle": str(min(settle)),
        "count": str(len(found)),
        "twice_diff": f"{float((twice - logits).abs().max()):.1f}",
        "table": table,
        "grid_sentence": GRID_SENTENCE,
        "grid_answer": show_token(final[-1]),
        "grid_answer_layer": str(grid_settling_layers(g)[-1]),
        "grid_median_settle": f"{np.median(grid_settling_layers(g)):.0f}",
        "grid_embed_copy": str(sum(a == b for a, b in zip(g["top"][0], g["inputs"]))),
        "grid_positions": str(len(g["inputs"])),
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
