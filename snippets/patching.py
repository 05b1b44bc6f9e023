"""Activation patching: where in the network does a late correction change the answer?

Two runs of one story differ only in one sentence: the *clean* run has the correction
("Actually, I was wrong: it is on Tuesday."), the *corrupt* run a neutral sentence of exactly
as many tokens. Copy the residual stream of the clean run into the corrupt run at one layer and
one group of positions, let the rest of the network run on, and read the probability of the
corrected value: where the copy restores it, that part of the stream carries the correction
(Meng et al. 2022; Heimersheim & Nanda 2024). Layers are reached only through
`snippets.decoder.parts`, with forward hooks.
"""

import functools
from dataclasses import dataclass

import numpy as np
import torch

from snippets import stories
from snippets.decoder import parts
from snippets.intervals import bootstrap
from snippets.plotting import new_figure
from snippets.state_simulators import next_token_logprobs, token_id
from state_simulators import keys
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

GROUPS = ("correction sentence", "question", "final position")
FILLERS = (  # neutral sentences of different token lengths, to match a correction's length
    "It rained.",
    "It rained that morning.",
    "It had rained that morning.",
    "It had rained a little that morning.",
    "It had rained a little in the morning.",
    "It had rained a little in the early morning.",
    "It had rained a little in the very early morning.",
    "It had rained a little in the very early morning, too.",
    "It had rained a little in the very early morning, as usual.",
)


# --8<-- [start:pair]
@dataclass(frozen=True)
class Pair:
    item: stories.Item
    clean: list[int]  # the corrected story, as token ids
    corrupt: list[int]  # the same, the correction replaced by a neutral sentence
    span: tuple[int, int]  # [start, end): the positions where the two differ


def pair(item: stories.Item, tokenizer) -> Pair | None:
    """The clean and corrupt versions of an item's corrected story, or None when no filler
    has as many tokens as the correction (the runs must line up position by position)."""
    fact, restated, question = (t.replace("{name}", item.name) for t in item.template)
    prefix = tokenizer(fact.format(v=item.first) + ".").input_ids
    correction = tokenizer(f" Actually, I was wrong: {restated.format(v=item.second)}.")
    ask = tokenizer(" " + question).input_ids
    for filler in FILLERS:
        neutral = tokenizer(" " + filler).input_ids
        if len(neutral) == len(correction.input_ids):
            span = (len(prefix), len(prefix) + len(neutral))
            return Pair(
                item, prefix + correction.input_ids + ask, prefix + neutral + ask, span
            )
    return None


# --8<-- [end:pair]


# --8<-- [start:patch]
def residual_streams(ids: list[int], lm: LanguageModel) -> torch.Tensor:
    """The residual stream of one text at every position: (layers + 1, positions, hidden);
    [0] the token embeddings, [l] the stream after layer l."""
    decoder = parts(lm.model)
    captured = []

    def keep(module, inputs, output):
        captured.append((output[0] if isinstance(output, tuple) else output)[0])

    hooks = [m.register_forward_hook(keep) for m in (decoder.embedding, *decoder.layers)]
    try:
        with torch.no_grad():
            decoder.body(torch.tensor([ids]))
    finally:
        for hook in hooks:
            hook.remove()
    return torch.stack(captured)


def patched_logprobs(
    corrupt: list[int],
    source: torch.Tensor,
    patches: list[tuple[int, list[int]]],
    lm: LanguageModel,
    start: int = 0,
) -> torch.Tensor:
    """Run `corrupt` once per patch, all in one batch; patch (state, positions) overwrites the
    stream at those positions, at that state (0 = embeddings, l = after layer l), with
    `source` (layers + 1, positions, hidden). Positions before `start` are computed once and
    shared (they must not be patched). Returns next-token log-probabilities: (patches, vocab).
    """
    decoder = parts(lm.model)
    if any(p < start or p >= len(corrupt) for _, ps in patches for p in ps):
        raise ValueError(f"patch positions must lie in [{start}, {len(corrupt)})")
    masks = torch.zeros(
        decoder.depth + 1, len(patches), len(corrupt) - start, dtype=torch.bool
    )
    for row, (state, positions) in enumerate(patches):
        masks[state, row, [p - start for p in positions]] = True

    def patch(state):
        def hook(module, inputs, output):
            hidden = output[0] if isinstance(output, tuple) else output
            new = torch.where(masks[state, :, :, None], source[state, start:], hidden)
            return (new, *output[1:]) if isinstance(output, tuple) else new

        return hook

    with torch.no_grad():
        cache = None
        if start:  # the shared prefix, once; then one copy of its cache per patch
            cache = decoder.body(torch.tensor([corrupt[:start]]), use_cache=True).cache
            cache.batch_repeat_interleave(len(patches))
        modules = (decoder.embedding, *decoder.layers)
        hooks = [m.register_forward_hook(patch(s)) for s, m in enumerate(modules)]
        try:
            rows = torch.tensor([corrupt[start:]] * len(patches))
            out = decoder.body(rows, cache=cache, use_cache=cache is not None)
        finally:
            for hook in hooks:
                hook.remove()
        return torch.log_softmax(decoder.unembedding(out.last_hidden_state[:, -1]), -1)


# --8<-- [end:patch]


def position_groups(p: Pair) -> dict[str, tuple[int, list[int]]]:
    """Per group: the first position that can differ from the corrupt run, and the positions
    patched. Before the correction the two runs are identical (causal attention), so
    patching there would change nothing."""
    end = len(p.corrupt) - 1
    return {
        "correction sentence": (p.span[0], list(range(*p.span))),
        "question": (p.span[1], list(range(p.span[1], end))),
        "final position": (end, [end]),
    }


# --8<-- [start:map]
def restoration_map(p: Pair, lm: LanguageModel, states: list[int]) -> np.ndarray:
    """p(the corrected value) after patching each group of positions at each state:
    (states, groups)."""
    source = residual_streams(p.clean, lm)
    corrected = token_id(p.item.second, lm)
    grid = np.zeros((len(states), len(GROUPS)))
    for g, (start, positions) in enumerate(position_groups(p).values()):
        patches = [(state, positions) for state in states]
        grid[:, g] = patched_logprobs(p.corrupt, source, patches, lm, start)[
            :, corrected
        ].exp()
    return grid


# --8<-- [end:map]


def states(lm: LanguageModel) -> list[int]:
    """The states patched: every one, from the embeddings (0) to after the last layer."""
    return list(range(parts(lm.model).depth + 1))


@dataclass(frozen=True)
class PatchingResult:
    states: list[int]
    restored: np.ndarray  # (items, states, groups): p(corrected value) after the patch
    clean: np.ndarray  # (items,): p(corrected value) in the corrected story
    corrupt: np.ndarray  # (items,): the same with the neutral sentence instead


def run_patching(items: list[stories.Item], lm: LanguageModel) -> PatchingResult:
    """The restoration map of every item that has a same-length neutral sentence."""
    pairs = [p for item in items if (p := pair(item, lm.tokenizer)) is not None]
    grid = states(lm)
    maps = np.array([restoration_map(p, lm, grid) for p in pairs])
    ends = np.array(
        [
            next_token_logprobs([p.clean, p.corrupt], lm)[:, token_id(p.item.second, lm)]
            .exp()
            .numpy()
            for p in pairs
        ]
    )
    return PatchingResult(grid, maps, ends[:, 0], ends[:, 1])


@functools.cache
def patching() -> PatchingResult:
    """Every story of the conditions experiment (the item is the unit), on the page's model;
    cached on disk, so that the figure, the facts and the tests share one run."""
    path = keys.step_path("patching", "results", [__name__], suffix=".npz")
    saved = keys.cached_arrays(path, lambda: vars(run_patching(stories.items(), load())))
    return PatchingResult(**{**saved, "states": saved["states"].tolist()})


@figure("state-simulators-patching.svg")
def patching_figure():
    found = patching()
    fig, ax = new_figure(height=4.6)
    mean = found.restored.mean(axis=0)
    image = ax.imshow(mean, aspect="auto", origin="lower", cmap="viridis", vmin=0)
    ax.set_xticks(range(len(GROUPS)), GROUPS)
    ax.set_yticks(range(0, len(found.states), 2), found.states[::2], fontsize=7)
    ax.set_ylabel("state patched (0 = embeddings, l = after layer l)")
    ax.set_title(
        f"p(corrected value) after patching the clean stream in (mean of {len(found.clean)} stories)",
        fontsize=9,
    )
    ax.grid(visible=False)
    fig.colorbar(image, ax=ax, label="p(corrected value)")
    return fig


@facts("patching")
def patching_facts():
    found = patching()
    mean = found.restored.mean(axis=0)  # (states, groups)
    span, final = GROUPS.index("correction sentence"), GROUPS.index("final position")
    clean, corrupt = found.clean.mean(), found.corrupt.mean()
    # restored: nearer the clean run than the corrupt one (true of the whole-stream patches at
    # the embeddings and after the last layer, whatever the model)
    restored = lambda v: abs(v - clean) <= abs(v - corrupt)  # noqa: E731
    return {
        "items": str(len(found.clean)),
        "clean": bootstrap(found.clean).format(),
        "corrupt": bootstrap(found.corrupt).format(),
        "span_last": str(max(s for s, v in zip(found.states, mean[:, span]) if restored(v))),
        "final_first": str(
            min(s for s, v in zip(found.states, mean[:, final]) if restored(v))
        ),
        "question_max": f"{mean[:, GROUPS.index('question')].max():.2f}",
        "span_at_0": f"{mean[0, span]:.2f}",
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
