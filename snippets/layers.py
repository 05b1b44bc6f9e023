"""Layer surgery on the embedded model: skip, reorder, repeat and parallelise its layers.

After Sun et al., "Transformer Layers as Painters" (AAAI 2025). Every experiment re-wires the
model's own list of decoder layers for the length of a `with` block and puts it back after;
nothing about the model is copied or rewritten. The evaluation set lives in
snippets/data/layer_eval.json: passages from 19th-century books, short factual completions and
one-digit sums.
"""

import functools
import json
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snippets.decoder import UnsupportedModel, parts, require
from snippets.plotting import INK, MUTED, PALETTE, new_figure
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

EVAL_FILE = Path(__file__).resolve().parent / "data" / "layer_eval.json"
PASSAGE_TOKENS = 32  # every passage is cut to its first 32 tokens: one batch, no padding
SIZES = (4, 6, 8, 12)  # how many middle layers each variant alters
SEEDS = (0, 1, 2)  # random orders of the middle layers
LOOPS = 3  # how often the looped-parallel block runs
EDGE = 3  # "middle" layers, for the findings: all but the first and last EDGE
MIN_DEPTH = max(SIZES) + 1  # the largest block must leave at least one layer untouched

# --8<-- [start:rewire]
# A step is a layer index, a tuple of layers run side by side, or a stand-in.
Step = int | tuple[int, ...] | nn.Module
Plan = tuple[Step, ...]  # the steps, in the order the model runs them


class Parallel(nn.Module):
    """Several layers read the same state; the mean of their outputs goes on."""

    def __init__(self, layers: Sequence[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(layers)

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        # Each layer returns hidden_states + its update, so the mean keeps
        # the input once and adds the *average* of the updates.
        outputs = [layer(hidden_states, *args, **kwargs) for layer in self.branches]
        return torch.stack(outputs).mean(dim=0)


@contextmanager
def rewired(model: nn.Module, plan: Plan) -> Iterator[nn.Module]:
    """Run `model` with its layers as `plan` says, then restore them.

    Raises UnsupportedModel (one line) when the plan names a layer the model lacks."""
    deepest = max((i for s in plan for i in steps_layers(s)), default=-1)
    decoder = require(model, min_depth=deepest + 1, what=f"a plan that runs layer {deepest}")
    body, layers = decoder.body, decoder.layers
    name = next(n for n, child in body.named_children() if child is layers)
    settings = config_for(body.config, len(plan))  # e.g. the layer count Llama's loop reads
    before = {key: getattr(body.config, key) for key in settings}

    def step(s: Step) -> nn.Module:
        if isinstance(s, nn.Module):
            return s
        if isinstance(s, tuple):
            return Parallel([layers[i] for i in s])
        return layers[s]

    # A layer run twice would write its keys twice under one layer_idx: no KV cache.
    no_cache = body.register_forward_pre_hook(
        lambda _body, args, kwargs: (args, {**kwargs, "use_cache": False}), with_kwargs=True
    )
    setattr(body, name, nn.ModuleList(step(s) for s in plan))
    configure(body.config, settings)
    try:
        yield model
    finally:
        no_cache.remove()
        setattr(body, name, layers)
        configure(body.config, before)


# --8<-- [end:rewire]


def steps_layers(step: Step) -> tuple[int, ...]:
    """The indices of the model's own layers that one step runs (none for a stand-in)."""
    if isinstance(step, nn.Module):
        return ()
    return step if isinstance(step, tuple) else (step,)


def config_for(config, length: int) -> dict[str, object]:
    """The settings a forward pass over `length` layers reads: Llama-style loops run the first
    `num_hidden_layers` layers, Qwen2-style ones also pick each layer's mask from `layer_types`
    (GPT-2 runs the whole list). Raises UnsupportedModel if the layers' attention differs."""
    settings: dict[str, object] = {"num_hidden_layers": length}
    kinds = getattr(config, "layer_types", None)
    if kinds:
        if len(set(kinds)) > 1:
            raise UnsupportedModel(
                f"layer surgery needs one attention type for every layer, not {sorted(set(kinds))}"
            )
        settings["layer_types"] = [kinds[0]] * length
    return settings


def configure(config, settings: dict[str, object]) -> None:
    for key, value in settings.items():
        setattr(config, key, value)  # through the config's aliases (GPT-2: n_layer)


# --8<-- [start:plans]
def middle(depth: int, n: int) -> list[int]:
    """The n layers around the centre of a stack of `depth` layers."""
    if not 0 < n < depth:
        raise ValueError(f"can alter 1 to {depth - 1} middle layers, not {n}")
    start = (depth - n) // 2
    return list(range(start, start + n))


def surgery(variant: str, n: int, depth: int, seed: int = 0) -> Plan:
    """The plan that alters the n middle layers as the paper's `variant`."""
    block = middle(depth, n)
    match variant:
        case "skip":  # leave them out
            altered = []
        case "repeat":  # the centre layer, n times over
            altered = [depth // 2] * n
        case "reverse":
            altered = block[::-1]
        case "shuffle":
            altered = random.Random(seed).sample(block, n)
        case "parallel":  # all of them side by side, once
            altered = [tuple(block)]
        case "looped parallel":  # the same side-by-side block, LOOPS times
            altered = [tuple(block)] * LOOPS
        case _:
            raise ValueError(f"unknown variant {variant!r}: use one of {', '.join(VARIANTS)}")
    return (*range(block[0]), *altered, *range(block[-1] + 1, depth))


VARIANTS = ("skip", "repeat", "reverse", "shuffle", "parallel", "looped parallel")
# --8<-- [end:plans]


def skip_one(layer: int, depth: int) -> Plan:
    return tuple(i for i in range(depth) if i != layer)


# --8<-- [start:evaluate]
@dataclass(frozen=True)
class EvalSet:
    passages: torch.Tensor  # token ids, one row per passage, all equally long
    facts: torch.Tensor  # prompts, padded on the right
    facts_mask: torch.Tensor  # 1 for real tokens, 0 for padding
    facts_last: torch.Tensor  # where each prompt ends
    facts_answer: torch.Tensor  # the one token that should come next
    sums: torch.Tensor  # one row: worked examples, then problems and answers
    sums_at: torch.Tensor  # positions of the answer digits
    names: tuple[str, ...]  # where each passage comes from

    def inputs(self) -> dict[str, dict[str, torch.Tensor]]:
        """The three batches, as keyword arguments for the model. Facts and sums are
        unembedded only at the positions that are read: where a prompt ends, where an
        answer digit is due (the unembedding is the size of eight layers)."""
        return {
            "passages": {"input_ids": self.passages, "labels": self.passages},
            "facts": {
                "input_ids": self.facts,
                "attention_mask": self.facts_mask,
                "logits_to_keep": self.facts_last.unique(),
            },
            "sums": {"input_ids": self.sums, "logits_to_keep": self.sums_at - 1},
        }


@dataclass(frozen=True)
class Scores:
    nll: float  # the model's own loss on the passages: nats per token
    passage_nll: tuple[float, ...]  # the same, passage by passage
    facts: tuple[bool, ...]  # is the answer the most likely next token?
    sums: tuple[bool, ...]

    @property
    def fact_accuracy(self) -> float:
        return sum(self.facts) / len(self.facts)

    @property
    def sum_accuracy(self) -> float:
        return sum(self.sums) / len(self.sums)


def evaluate(
    plan: Plan,
    data: EvalSet,
    lm: LanguageModel | None = None,
    saved: dict[str, list[torch.Tensor]] | None = None,
) -> Scores:
    """Score one arrangement of the layers on the whole evaluation set."""
    lm = lm or load()
    out = {}
    for name, inputs in data.inputs().items():
        steps = resume(plan, saved[name]) if saved else plan  # see below
        with rewired(lm.model, steps) as model, torch.inference_mode():
            out[name] = model(**inputs, use_cache=False)
    return score(out, data)


def score(out: dict, data: EvalSet) -> Scores:
    """The scores from the model's outputs for the three batches."""
    text, facts = out["passages"], out["facts"].logits
    sums = out["sums"].logits[0]  # one row of logits per answer digit
    per_token = F.cross_entropy(
        text.logits[:, :-1].flatten(0, 1), data.passages[:, 1:].flatten(), reduction="none"
    ).view(len(data.passages), -1)
    rows = torch.arange(len(data.facts_last))
    # facts has logits at each distinct end of a prompt: pick each row's own
    ends = torch.searchsorted(data.facts_last.unique(), data.facts_last)
    fact_guess = facts[rows, ends].argmax(-1)
    sum_guess = sums.argmax(-1)
    return Scores(
        nll=float(text.loss),
        passage_nll=tuple(per_token.mean(dim=1).tolist()),
        facts=tuple((fact_guess == data.facts_answer).tolist()),
        sums=tuple((sum_guess == data.sums[0, data.sums_at]).tolist()),
    )


# --8<-- [end:evaluate]


# --8<-- [start:resume]
class Resume(nn.Module):
    """Stands in for the first k layers: hands on the state they wrote."""

    def __init__(self, state: torch.Tensor):
        super().__init__()
        self.state = state

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        return self.state


def snapshots(
    data: EvalSet,
    lm: LanguageModel | None = None,
) -> tuple[dict[str, list[torch.Tensor]], Scores]:
    """The intact model's states for each batch, and, from the same forward passes, its
    scores. states[k] is the state after k layers (states[0]: what the first layer reads)."""
    lm = lm or load()
    layers = parts(lm.model).layers
    saved, out = {}, {}
    for name, inputs in data.inputs().items():
        states: list[torch.Tensor] = []
        hooks = [
            layers[0].register_forward_pre_hook(lambda _l, args, s=states: s.append(args[0]))
        ]
        hooks += [
            layer.register_forward_hook(lambda _l, _args, output, s=states: s.append(output))
            for layer in layers
        ]
        try:
            with torch.inference_mode():
                out[name] = lm.model(**inputs, use_cache=False)
        finally:
            for hook in hooks:
                hook.remove()
        saved[name] = states
    return saved, score(out, data)


def resume(plan: Plan, states: list[torch.Tensor]) -> Plan:
    """The same plan, its untouched first k layers replaced by their output, states[k]."""
    k = 0
    while k < len(plan) and plan[k] == k:
        k += 1
    return (Resume(states[k]), *plan[k:]) if k else plan


# --8<-- [end:resume]


def load_eval_set(lm: LanguageModel | None = None) -> EvalSet:
    """Tokenise snippets/data/layer_eval.json into the three batches `evaluate` runs."""
    lm = lm or load()
    tok = lm.tokenizer
    spec = json.loads(EVAL_FILE.read_text())

    def ids(text: str) -> list[int]:
        return tok(text, add_special_tokens=False).input_ids

    passages = [ids(p["text"]) for p in spec["passages"]]
    if min(map(len, passages)) < PASSAGE_TOKENS:
        raise ValueError(
            f"every passage in {EVAL_FILE.name} needs at least {PASSAGE_TOKENS} tokens"
        )
    prompts = [ids(prompt) for prompt, _ in spec["facts"]]
    answers = [ids(answer) for _, answer in spec["facts"]]
    if any(len(a) != 1 for a in answers):
        raise ValueError(f"every fact answer in {EVAL_FILE.name} must be a single token")
    width = max(map(len, prompts))
    sums, at = ids(spec["sums"]["examples"]), []
    for a, b in spec["sums"]["problems"]:
        sums += ids(f"{a} + {b} = ")
        at.append(len(sums))
        sums += ids(f"{a + b}\n")  # one-digit answers: one token each
    return EvalSet(
        passages=torch.tensor([p[:PASSAGE_TOKENS] for p in passages]),
        facts=torch.tensor([p + [tok.pad_token_id] * (width - len(p)) for p in prompts]),
        facts_mask=torch.tensor([[1] * len(p) + [0] * (width - len(p)) for p in prompts]),
        facts_last=torch.tensor([len(p) - 1 for p in prompts]),
        facts_answer=torch.tensor([a[0] for a in answers]),
        sums=torch.tensor([sums]),
        sums_at=torch.tensor(at),
        names=tuple(p["source"] for p in spec["passages"]),
    )


# --8<-- [start:sink]
class FirstTokenOnly(nn.Module):
    """Runs `layer`, but keeps its update at the first position only
    (first=True) or everywhere except there (first=False)."""

    def __init__(self, layer: nn.Module, first: bool = True):
        super().__init__()
        self.layer, self.first = layer, first

    def forward(self, hidden_states: torch.Tensor, *args, **kwargs) -> torch.Tensor:
        update = self.layer(hidden_states, *args, **kwargs) - hidden_states
        at_first = torch.zeros_like(hidden_states[..., :1])
        at_first[:, 0] = 1
        keep = at_first if self.first else 1 - at_first
        return hidden_states + update * keep


# --8<-- [end:sink]


def norms(states: Sequence[torch.Tensor]) -> tuple[np.ndarray, np.ndarray]:
    """Mean length of the state after each layer: at the first position, and at all others."""
    stacked = torch.stack(tuple(states)).norm(dim=-1)  # (layers + 1, passages, tokens)
    return stacked[:, :, 0].mean(dim=1).numpy(), stacked[:, :, 1:].mean(dim=(1, 2)).numpy()


def sink_layer(states: Sequence[torch.Tensor]) -> int:
    """The layer whose update grows the first position's state the most, relatively."""
    first, _ = norms(states)
    return int(np.argmax(first[1:] / first[:-1]))


# --8<-- [start:experiments]
@dataclass(frozen=True)
class Results:
    depth: int
    baseline: Scores
    skip_one: tuple[Scores, ...]  # skip_one[i]: every layer but layer i
    variants: dict[tuple[str, int], tuple[Scores, ...]]  # one per seed
    sink: int  # the layer that writes the first position's huge state
    sink_first_only: Scores  # that layer's update kept at the first position
    sink_all_but_first: Scores  # ... and everywhere but there
    states: tuple[torch.Tensor, ...]  # passages: what layer 0 reads, then each layer's output
    runs: int  # arrangements of the layers evaluated
    seconds: float


@functools.cache
def experiments() -> Results:
    """Every surgery on the page, run once per process: figures, numbers in the prose and
    tests all read these results. Raises UnsupportedModel (one line) for a shallow model."""
    started = time.perf_counter()
    lm = load()
    layers = require(lm.model, min_depth=MIN_DEPTH, what="the layers page").layers
    data = load_eval_set(lm)
    require(lm.model, min_positions=data.passages.shape[1], what="the layers page")
    depth = len(layers)
    saved, baseline = snapshots(data, lm)  # the intact model: its states, its scores

    def run(plan: Plan) -> Scores:
        return evaluate(plan, data, lm, saved)

    singles = tuple(run(skip_one(i, depth)) for i in range(depth))
    variants = {
        (v, n): tuple(
            run(surgery(v, n, depth, seed)) for seed in (SEEDS if v == "shuffle" else (0,))
        )
        for v in VARIANTS
        for n in SIZES
    }
    states = tuple(saved["passages"])  # what the first layer reads, then each layer's output
    sink = sink_layer(states)
    before, after = tuple(range(sink)), tuple(range(sink + 1, depth))
    only = run((*before, FirstTokenOnly(layers[sink], first=True), *after))
    but = run((*before, FirstTokenOnly(layers[sink], first=False), *after))
    runs = 3 + len(singles) + sum(map(len, variants.values()))
    return Results(
        depth,
        baseline,
        singles,
        variants,
        sink,
        only,
        but,
        states,
        runs,
        time.perf_counter() - started,
    )


# --8<-- [end:experiments]


# Measures, figures and numbers for the page.


def middle_layers(depth: int) -> range:
    return range(EDGE, depth - EDGE)


def cost(scores: Scores, results: Results) -> float:
    """How much a surgery raised the loss, in nats per token."""
    return scores.nll - results.baseline.nll


def skip_costs(results: Results) -> list[float]:
    """cost of skipping each layer, in nats per token: [i] for layer i."""
    return [cost(s, results) for s in results.skip_one]


def mean_nll(runs: Sequence[Scores]) -> float:
    return float(np.mean([s.nll for s in runs]))


def variant_nll(results: Results) -> dict[str, list[float]]:
    """Mean loss of each variant at each size (the mean over seeds for shuffle)."""
    return {v: [mean_nll(results.variants[v, n]) for n in SIZES] for v in VARIANTS}


def accuracies(runs: Sequence[Scores]) -> tuple[float, float]:
    """Mean accuracy on the facts and on the sums over a group of runs."""
    return (
        float(np.mean([s.fact_accuracy for s in runs])),
        float(np.mean([s.sum_accuracy for s in runs])),
    )


def cliff(results: Results) -> int:
    """The smallest block size whose middle block holds the sink layer (the largest size if
    none does): from there on, every surgery removes or moves that layer's write."""
    return next((n for n in SIZES if results.sink in middle(results.depth, n)), SIZES[-1])


def similarity(states: Sequence[torch.Tensor]) -> np.ndarray:
    """Mean cosine similarity of the states after i and j layers (first position left out)."""
    unit = F.normalize(torch.stack(tuple(states))[:, :, 1:].flatten(1, 2), dim=-1)
    return torch.einsum("itd,jtd->ijt", unit, unit).mean(dim=-1).numpy()


def write_sizes(states: Sequence[torch.Tensor]) -> np.ndarray:
    """How much each layer changes the state: |update| / |state read| (not the first token)."""
    stacked = torch.stack(tuple(states))[:, :, 1:]
    update = (stacked[1:] - stacked[:-1]).norm(dim=-1)
    return (update / stacked[:-1].norm(dim=-1)).mean(dim=(1, 2)).numpy()


STYLE = {  # colour and marker of each variant in the figures
    "skip": (PALETTE[0], "o"),
    "repeat": (PALETTE[3], "X"),
    "reverse": (PALETTE[1], "v"),
    "shuffle": (PALETTE[2], "s"),
    "parallel": (PALETTE[4], "D"),
    "looped parallel": (PALETTE[5], "^"),
}


@figure("layer-skip.svg", depends=("snippets/data/layer_eval.json",))
def skip_figure():
    r = experiments()
    base, layers = r.baseline, np.arange(r.depth)
    increase = np.array(skip_costs(r))
    fig, (top, bottom) = new_figure(
        2, 1, height=5.2, sharex=True, gridspec_kw={"height_ratios": [3, 2]}
    )
    colours = [PALETTE[3] if i not in middle_layers(r.depth) else PALETTE[0] for i in layers]
    top.bar(layers, increase, color=colours)
    top.set_yscale("log")
    top.set_ylabel("loss increase (nats/token)")
    top.set_title(f"Skipping one layer: how much the loss rises (intact: {base.nll:.2f} nats)")
    for i in sorted(layers, key=lambda i: -increase[i])[:4]:
        top.annotate(
            str(i),
            (i, increase[i]),
            textcoords="offset points",
            xytext=(0, 2),
            ha="center",
            fontsize=8,
        )
    top.set_ylim(top.get_ylim()[0], increase.max() * 3)
    top.axvspan(EDGE - 0.5, r.depth - EDGE - 0.5, color=MUTED, alpha=0.12, lw=0)
    top.text(
        r.depth / 2,
        increase.max() * 1.5,
        "middle layers",
        ha="center",
        va="center",
        fontsize=8,
        color=INK,
    )
    facts_acc = [s.fact_accuracy for s in r.skip_one]
    sums_acc = [s.sum_accuracy for s in r.skip_one]
    bottom.plot(layers, facts_acc, "o-", color=PALETTE[2], ms=4, label="facts right")
    bottom.plot(layers, sums_acc, "s--", color=PALETTE[1], ms=4, label="sums right")
    bottom.set_ylim(-0.05, 1.4)
    bottom.set_yticks([0, 0.5, 1])
    bottom.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    bottom.set_xlabel("layer skipped")
    bottom.set_xticks(layers[::2])
    bottom.legend(loc="upper center", ncols=2, fontsize=8)
    return fig


@figure("layer-states.svg", depends=("snippets/data/layer_eval.json",))
def states_figure():
    r = experiments()
    sim, (first, rest) = similarity(r.states), norms(r.states)
    fig, (left, right) = new_figure(1, 2, height=3.4, gridspec_kw={"width_ratios": [1, 1.25]})
    image = left.imshow(sim, cmap="Blues", vmin=0, vmax=1, origin="lower")
    left.set_title("cosine similarity of states", fontsize=10)
    left.set_xlabel("layers run (0 = embeddings)")
    left.set_ylabel("layers run")
    ticks = np.arange(0, r.depth + 1, 5)
    left.set_xticks(ticks, [str(t) for t in ticks])
    left.set_yticks(ticks, [str(t) for t in ticks])
    left.grid(False)
    fig.colorbar(image, ax=left, shrink=0.8)
    steps = np.arange(r.depth + 1)
    right.plot(steps, first, "o-", ms=3, color=PALETTE[3], label="first token")
    right.plot(steps, rest, "s-", ms=3, color=PALETTE[0], label="all other tokens")
    right.set_yscale("log")
    right.set_title("length of the state", fontsize=10)
    right.set_xlabel("layers run (0 = embeddings)")
    right.annotate(
        f"layer {r.sink}",
        (r.sink + 1, first[r.sink + 1]),
        textcoords="offset points",
        xytext=(6, -14),
        fontsize=8,
    )
    right.legend(loc="lower right", fontsize=8)
    return fig


@figure("layer-variants.svg", depends=("snippets/data/layer_eval.json",))
def variants_figure():
    r = experiments()
    fig, (left, right) = new_figure(1, 2, height=3.6)
    for v in VARIANTS:
        colour, marker = STYLE[v]
        runs = [r.variants[v, n] for n in SIZES]
        nll = [mean_nll(x) for x in runs]
        spread = np.array(
            [[m - min(s.nll for s in x), max(s.nll for s in x) - m] for m, x in zip(nll, runs)]
        ).T
        left.errorbar(
            SIZES,
            nll,
            yerr=spread if v == "shuffle" else None,
            color=colour,
            marker=marker,
            ms=5,
            capsize=3,
            label=v,
        )
        right.plot(SIZES, [accuracies(x)[0] for x in runs], color=colour, marker=marker, ms=5)
    left.axhline(r.baseline.nll, color=MUTED, ls="--", lw=1)
    left.text(
        SIZES[-1],
        r.baseline.nll,
        "intact model",
        ha="right",
        va="bottom",
        fontsize=8,
        color=INK,
    )
    left.set_ylabel("loss (nats/token)")
    left.set_title("loss on the passages", fontsize=10)
    right.set_title("facts right", fontsize=10)
    right.set_ylim(-0.05, 1.05)
    right.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    with_sink = cliff(r)
    for ax in (left, right):
        ax.set_xlabel("middle layers altered")
        ax.set_xticks(SIZES)
        ax.axvspan(with_sink - 0.5, SIZES[-1] + 0.5, color=MUTED, alpha=0.12, lw=0)
    right.text(
        (with_sink + SIZES[-1]) / 2,
        1.0,
        f"block includes\nlayer {r.sink}",
        ha="center",
        va="top",
        fontsize=8,
        color=INK,
    )
    fig.legend(loc="outside lower center", ncols=6, fontsize=8, handlelength=1.5)
    return fig


def _count(hits: Sequence[bool]) -> str:
    return f"{sum(hits)} of {len(hits)}"


def per_passage(r: Results) -> dict[str, list[bool]]:
    """The big effects, checked passage by passage rather than on the mean."""
    skip = np.array([s.passage_nll for s in r.skip_one]) - np.array(r.baseline.passage_nll)
    top4 = np.argsort(-skip, axis=0)[:4]
    worst_variant = [
        max(VARIANTS, key=lambda v: np.mean([s.passage_nll[j] for s in r.variants[v, n]]))
        for n in SIZES
        for j in range(len(r.baseline.passage_nll))
    ]
    return {
        "layer0_worst": list(skip.argmax(axis=0) == 0),
        "sink_top4": [r.sink in top4[:, j] for j in range(skip.shape[1])],
        "repeat_worst": [v == "repeat" for v in worst_variant],
    }


@facts("layers", depends=("snippets/data/layer_eval.json",))
def layer_facts() -> dict[str, str]:
    """The numbers in the page's prose; the model's size comes from the `model` group."""
    r = experiments()
    return {
        **setup_facts(r),
        **skip_facts(r),
        **state_facts(r),
        **sink_facts(r),
        **variant_facts(r),
        **{f"robust_{k}": _count(v) for k, v in per_passage(r).items()},
    }


def nats(x: float) -> str:
    return f"{x:.2f}"


def setup_facts(r: Results) -> dict[str, str]:
    """The evaluation set and the intact model's scores on it."""
    base, mid = r.baseline, middle_layers(r.depth)
    return {
        "passages": str(len(base.passage_nll)),
        "passage_tokens": str(PASSAGE_TOKENS),
        "scored_tokens": str(len(base.passage_nll) * (PASSAGE_TOKENS - 1)),
        "facts": str(len(base.facts)),
        "sums": str(len(base.sums)),
        "baseline": nats(base.nll),
        "perplexity": f"{np.exp(base.nll):.0f}",
        "baseline_facts": _count(base.facts),
        "runs": str(r.runs),
        "mid_first": str(mid[0]),
        "mid_last": str(mid[-1]),
        "mid_count": str(len(mid)),
        "centre": str(r.depth // 2),
        "loops": str(LOOPS),
        "seeds": str(len(SEEDS)),
        "sizes": ", ".join(map(str, SIZES)),
    }


def skip_facts(r: Results) -> dict[str, str]:
    """The section "Take one layer out": what skipping each single layer costs."""
    skip, mid = skip_costs(r), middle_layers(r.depth)
    cheapest = min(mid, key=skip.__getitem__)
    kept = [skip[i] for i in range(r.depth) if all(r.skip_one[i].facts)]
    facts_kept, sums_kept = accuracies([r.skip_one[i] for i in mid])
    return {
        "top_layers": "{}, {}, {} and {}".format(
            *sorted(sorted(range(r.depth), key=lambda i: -skip[i])[:4])
        ),
        "skip0": nats(r.skip_one[0].nll),
        "skip0_cost": nats(skip[0]),
        "skip1_cost": nats(skip[1]),
        "skip_last_cost": nats(skip[-1]),
        "mid_median_cost": nats(float(np.median([skip[i] for i in mid]))),
        "mid_median_pct": f"{np.median([skip[i] for i in mid]) / r.baseline.nll:.0%}",
        "cheapest": str(cheapest),
        "cheapest_cost": nats(skip[cheapest]),
        "facts_kept_layers": str(len(kept)),
        "facts_kept_min": nats(min(kept, default=np.nan)),
        "facts_kept_max": nats(max(kept, default=np.nan)),
        "mid_facts_mean": f"{facts_kept:.0%}",
        "mid_sums_mean": f"{sums_kept:.0%}",
        "mid_all_facts": str(sum(all(r.skip_one[i].facts) for i in mid)),
        "mid_all_sums": str(sum(all(r.skip_one[i].sums) for i in mid)),
    }


def state_facts(r: Results) -> dict[str, str]:
    """The section "Why the middle tolerates it": how much each layer changes the state."""
    sim, writes, mid = similarity(r.states), write_sizes(r.states), middle_layers(r.depth)
    big = max(mid, key=lambda i: writes[i])
    return {
        "embed_similarity": f"{sim[0, 1]:.2f}",
        "layer0_write": f"{writes[0]:.0f}",
        "mid_write_median": f"{np.median([writes[i] for i in mid]):.0%}",
        "mid_adjacent_median": f"{np.median([sim[i, i + 1] for i in mid]):.2f}",
        "big_writer": str(big),
        "big_writer_size": f"{writes[big]:.0%}",
        "big_writer_adjacent": f"{sim[big, big + 1]:.2f}",
        "big_writer_facts": _count(r.skip_one[big].facts),
    }


def sink_facts(r: Results) -> dict[str, str]:
    """The section "One middle layer with a special job": the first token's huge state."""
    first, rest = norms(r.states)
    s = r.sink
    return {
        "sink": str(s),
        "sink_cost": nats(cost(r.skip_one[s], r)),
        "sink_skipped": nats(r.skip_one[s].nll),
        "sink_facts": _count(r.skip_one[s].facts),
        "sink_before": f"{first[s]:,.0f}",
        "sink_after": f"{first[s + 1]:,.0f}",
        "sink_growth": f"{first[s + 1] / first[s]:.0f}",
        "sink_others": f"{rest[s + 1]:,.0f}",
        "sink_first_only": nats(r.sink_first_only.nll),
        "sink_first_only_facts": _count(r.sink_first_only.facts),
        "sink_all_but_first": nats(r.sink_all_but_first.nll),
        "sink_all_but_first_facts": _count(r.sink_all_but_first.facts),
    }


def variant_facts(r: Results) -> dict[str, str]:
    """The section "Skip, repeat, …": the six surgeries at each size."""
    by_size, base, small = variant_nll(r), r.baseline.nll, SIZES[0]
    k = SIZES.index(cliff(r))
    block = lambda n: f"{middle(r.depth, n)[0]}–{middle(r.depth, n)[-1]}"  # noqa: E731
    smallest = [x for v in VARIANTS for x in r.variants[v, small]]
    return {
        "small": str(small),
        "small_block": block(small),
        "cliff": str(SIZES[k]),
        "cliff_block": block(SIZES[k]),
        **{f"{v.replace(' ', '_')}_small": nats(by_size[v][0] - base) for v in VARIANTS},
        **{f"{v.replace(' ', '_')}_cliff": nats(by_size[v][k] - base) for v in VARIANTS},
        "before_cliff": str(SIZES[k - 1]),
        "repeat_before_cliff": nats(by_size["repeat"][k - 1] - base),
        "others_before_cliff_max": nats(
            max(by_size[v][k - 1] for v in VARIANTS if v != "repeat") - base
        ),
        "parallel_small_facts": _count(r.variants["parallel", small][0].facts),
        "small_sums_best": _count(max(smallest, key=lambda x: sum(x.sums)).sums),
    }


@facts("layers-timing", machine_dependent=True)
def layer_timing_facts():
    return {"seconds": f"{experiments().seconds:.0f}"}


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
