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

from snippets.plotting import INK, MUTED, PALETTE, new_figure
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

EVAL_FILE = Path(__file__).resolve().parent / "data" / "layer_eval.json"
PASSAGE_TOKENS = 32  # every passage is cut to its first 32 tokens: one batch, no padding
SIZES = (4, 6, 8, 12)  # how many middle layers each variant alters
SEEDS = (0, 1, 2)  # random orders of the middle layers
LOOPS = 3  # how often the looped-parallel block runs
EDGE = 3  # "middle" layers, for the comparisons: all but the first and last EDGE

# --8<-- [start:rewire]
# A step is a layer index, a tuple of layers run side by side, or a stand-in.
Step = int | tuple[int, ...] | nn.Module
Plan = tuple[Step, ...]  # the steps, in the order the model runs them


class Parallel(nn.Module):
    """Several layers read the same state; the mean of their outputs goes on."""

    def __init__(self, layers: Sequence[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(layers)

    def forward(self, hidden_states: torch.Tensor, **kwargs) -> torch.Tensor:
        # Each layer returns hidden_states + its update, so the mean keeps
        # the input once and adds the *average* of the updates.
        outputs = [layer(hidden_states, **kwargs) for layer in self.branches]
        return torch.stack(outputs).mean(dim=0)


@contextmanager
def rewired(model: nn.Module, plan: Plan) -> Iterator[nn.Module]:
    """Run `model` with its layers as `plan` says, then restore them."""
    body = model.model  # the decoder stack of a Hugging Face causal LM
    layers, depth = body.layers, body.config.num_hidden_layers

    def step(s: Step) -> nn.Module:
        if isinstance(s, nn.Module):
            return s
        if isinstance(s, tuple):
            return Parallel([layers[i] for i in s])
        return layers[s]

    body.layers = nn.ModuleList(step(s) for s in plan)
    body.config.num_hidden_layers = len(plan)  # the forward pass runs this many
    try:
        yield model
    finally:
        body.layers, body.config.num_hidden_layers = layers, depth


# --8<-- [end:rewire]


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

    def forward(self, hidden_states: torch.Tensor, **kwargs) -> torch.Tensor:
        return self.state


def snapshots(
    data: EvalSet,
    lm: LanguageModel | None = None,
) -> tuple[dict[str, list[torch.Tensor]], Scores]:
    """The intact model's state after each layer, for each batch; and, from the same
    forward passes, its scores."""
    lm = lm or load()
    saved, out = {}, {}
    for name, inputs in data.inputs().items():
        states: list[torch.Tensor] = []
        hooks = [
            layer.register_forward_hook(
                lambda _layer, _args, output, states=states: states.append(output)
            )
            for layer in lm.model.model.layers
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
    """The same plan, its untouched first k layers replaced by their output."""
    k = 0
    while k < len(plan) and plan[k] == k:
        k += 1
    return (Resume(states[k - 1]), *plan[k:]) if k else plan


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

    def forward(self, hidden_states: torch.Tensor, **kwargs) -> torch.Tensor:
        update = self.layer(hidden_states, **kwargs) - hidden_states
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
    states: tuple[torch.Tensor, ...]  # passages: embeddings, then each layer's
    runs: int  # arrangements of the layers evaluated
    seconds: float


@functools.cache
def experiments() -> Results:
    """Every surgery on the page, run once per process: figures, numbers in
    the prose and tests all read these results."""
    started = time.perf_counter()
    lm = load()
    data = load_eval_set(lm)
    depth = lm.model.config.num_hidden_layers
    layers = lm.model.model.layers
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
    with torch.inference_mode():
        embeddings = lm.model.model.embed_tokens(data.passages)
    states = (embeddings, *saved["passages"])
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


# Comparisons, figures and numbers for the page.


def middle_layers(depth: int) -> range:
    return range(EDGE, depth - EDGE)


def cost(scores: Scores, results: Results) -> float:
    """How much a surgery raised the loss, in nats per token."""
    return scores.nll - results.baseline.nll


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


@dataclass(frozen=True)
class Row:
    paper: str  # the finding as Sun et al. state it for Llama 2
    here: str  # what this model does, with the numbers
    verdict: str  # "agrees", "partly" or "differs"


def comparison(r: Results) -> list[Row]:
    """The paper's findings beside this model's numbers; each verdict set by a stated rule."""
    base, depth, mid = r.baseline, r.depth, middle_layers(r.depth)
    skip = [cost(s, r) for s in r.skip_one]
    small = SIZES[0]
    by_size = variant_nll(r)
    rows = []

    worst = int(np.argmax(skip))
    runner = max((i for i in range(depth) if i != worst), key=skip.__getitem__)
    rows.append(
        Row(
            "The first layer is special: skipping it is catastrophic.",
            f"Skipping layer 0 raises the loss by {skip[0]:.2f} nats, the most of any layer "
            f"(next: layer {runner}, +{skip[runner]:.2f})."
            if worst == 0
            else f"Skipping layer 0 costs {skip[0]:.2f} nats; layer {worst} costs more ({skip[worst]:.2f}).",
            "agrees" if worst == 0 else "differs",
        )
    )

    last = depth - 1
    beaten = [i for i in mid if skip[i] < skip[last]]
    outliers = ", ".join(str(i) for i in mid if skip[i] >= skip[last])
    rows.append(
        Row(
            "The last layer is special too.",
            f"Skipping layer {last} costs {skip[last]:.2f} nats, more than skipping "
            f"{len(beaten)} of "
            f"the {len(mid)} middle layers"
            + (f" (not layer {outliers})." if outliers else "."),
            "agrees"
            if len(beaten) == len(mid)
            else "partly"
            if len(beaten) >= len(mid) / 2
            else "differs",
        )
    )

    gentle = [i for i in mid if skip[i] < 0.1 * base.nll]
    rough = ", ".join(str(i) for i in mid if i not in gentle)
    rows.append(
        Row(
            "Middle layers share one representation space: skipping one does little harm.",
            f"Skipping one middle layer costs a median of {np.median([skip[i] for i in mid]):.2f} "
            f"nats; {len(gentle)} of {len(mid)} cost under 10 % of the loss"
            + (f", layers {rough} more." if rough else "."),
            "agrees"
            if len(gentle) >= 0.9 * len(mid)
            else "partly"
            if len(gentle) >= len(mid) / 2
            else "differs",
        )
    )

    few = r.variants["skip", small][0]
    rows.append(
        Row(
            "Skipping a few middle layers degrades gracefully.",
            f"Skipping the middle {small} costs {cost(few, r):.2f} nats (layer 0 alone: "
            f"{skip[0]:.2f}) and keeps {sum(few.facts)} of {len(few.facts)} facts.",
            "agrees"
            if cost(few, r) < 0.2 * skip[0] and few.fact_accuracy >= 0.75
            else "differs",
        )
    )

    repeat_worst = all(
        by_size["repeat"][k] == max(v[k] for v in by_size.values()) for k in range(len(SIZES))
    )
    rows.append(
        Row(
            "Middle layers are not interchangeable: repeating the centre layer is the worst variant.",
            f"Repeating layer {depth // 2} in place of {small} layers costs "
            f"{by_size['repeat'][0] - base.nll:.2f} nats, of {SIZES[-1]} layers "
            f"{by_size['repeat'][-1] - base.nll:.2f}; "
            + (
                "the worst variant at every size." if repeat_worst else "not always the worst."
            ),
            "agrees" if repeat_worst else "differs",
        )
    )

    calmer = [n for k, n in enumerate(SIZES) if by_size["shuffle"][k] < by_size["reverse"][k]]
    reverse_small = by_size["reverse"][0] - base.nll
    rows.append(
        Row(
            "Order matters somewhat: reversed or shuffled middle layers degrade gracefully.",
            f"Reversing the middle {small} costs {reverse_small:.2f} nats, shuffling them "
            f"{by_size['shuffle'][0] - base.nll:.2f} (mean of {len(SEEDS)} orders); "
            "shuffled beats "
            f"reversed at {len(calmer)} of {len(SIZES)} sizes.",
            "agrees"
            if 0 < reverse_small < 0.2 * skip[0]
            and by_size["shuffle"][0] - base.nll < 0.2 * skip[0]
            else "differs",
        )
    )

    par = r.variants["parallel", small][0]
    works = cost(par, r) < cost(few, r) and par.fact_accuracy >= few.fact_accuracy
    rows.append(
        Row(
            "Middle layers can run in parallel, except for maths.",
            f"The middle {small} run side by side cost {cost(par, r):.2f} nats (skipping them: "
            f"{cost(few, r):.2f}) and keep {sum(par.facts)} of {len(par.facts)} facts, but only "
            f"{sum(par.sums)} of {len(par.sums)} sums.",
            "agrees"
            if works and par.sum_accuracy <= 0.5
            else "partly"
            if works
            else "differs",
        )
    )

    helped = [
        n
        for k, n in enumerate(SIZES)
        if by_size["looped parallel"][k] < by_size["parallel"][k]
    ]
    rows.append(
        Row(
            "Looping the parallel block helps.",
            f"Running the parallel block {LOOPS} times lowers the loss at {len(helped)} of "
            f"{len(SIZES)} sizes ({by_size['parallel'][0]:.2f} → "
            f"{by_size['looped parallel'][0]:.2f} nats for {small} layers).",
            "agrees" if len(helped) == len(SIZES) else "partly" if helped else "differs",
        )
    )

    ranks = [sorted(by_size, key=lambda v: by_size[v][k]) for k in range(len(SIZES))]
    pair = {"shuffle", "looped parallel"}
    both = [n for n, rank in zip(SIZES, ranks) if set(rank[:2]) == pair]
    one = [n for n, rank in zip(SIZES, ranks) if rank[0] in pair]
    rows.append(
        Row(
            "Shuffling and looped parallel do the least damage; repeating does the most.",
            f"The two mildest variants are shuffle and looped parallel at {len(both)} of "
            f"{len(SIZES)} sizes; the mildest is one of them at {len(one)}.",
            "agrees"
            if len(both) == len(SIZES)
            else "partly"
            if len(one) == len(SIZES)
            else "differs",
        )
    )

    gentle_runs = [r.skip_one[i] for i in mid] + [r.variants[v, small][0] for v in VARIANTS]
    facts_kept, sums_kept = accuracies(gentle_runs)
    rows.append(
        Row(
            "Maths is the most fragile: it depends most on order, and parallel layers fail it.",
            f"Over the {len(gentle_runs)} mildest surgeries (one middle layer skipped, or {small} "
            f"altered) {sums_kept:.0%} of sums stay right, against {facts_kept:.0%} of facts.",
            "agrees" if sums_kept < facts_kept else "differs",
        )
    )
    return rows


def comparison_table(rows: Sequence[Row], model: str) -> str:
    mark = {"agrees": "● agrees", "partly": "◐ partly", "differs": "○ differs"}
    lines = [
        f"| Sun et al. (Llama 2, benchmarks) | {model}, this page's data | |",
        "|---|---|---|",
    ]
    lines += [f"| {row.paper} | {row.here} | {mark[row.verdict]} |" for row in rows]
    return "\n".join(lines)


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
    increase = np.array([cost(s, r) for s in r.skip_one])
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
    with_sink = [n for n in SIZES if r.sink in middle(r.depth, n)]
    for ax in (left, right):
        ax.set_xlabel("middle layers altered")
        ax.set_xticks(SIZES)
        ax.axvspan(with_sink[0] - 0.5, SIZES[-1] + 0.5, color=MUTED, alpha=0.12, lw=0)
    right.text(
        (with_sink[0] + SIZES[-1]) / 2,
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
def layer_facts():
    lm, r = load(), experiments()
    base, depth, mid = r.baseline, r.depth, middle_layers(r.depth)
    skip = [cost(s, r) for s in r.skip_one]
    cheapest = min(mid, key=skip.__getitem__)
    kept = [i for i in range(depth) if all(r.skip_one[i].facts)]
    sim, writes = similarity(r.states), write_sizes(r.states)
    first, rest = norms(r.states)
    adjacent = [sim[i, i + 1] for i in mid]
    big = max(mid, key=lambda i: writes[i])
    by_size = variant_nll(r)
    small, cliff = SIZES[0], min(n for n in SIZES if r.sink in middle(depth, n))
    k = SIZES.index(cliff)
    rows = comparison(r)
    verdicts = [row.verdict for row in rows]

    def nats(x: float) -> str:
        return f"{x:.2f}"

    return {
        "model": lm.name,
        "depth": str(depth),
        "last": str(depth - 1),
        "width": str(lm.model.config.hidden_size),
        "passages": str(len(base.passage_nll)),
        "passage_tokens": str(PASSAGE_TOKENS),
        "scored_tokens": str(len(base.passage_nll) * (PASSAGE_TOKENS - 1)),
        "facts": str(len(base.facts)),
        "sums": str(len(base.sums)),
        "baseline": nats(base.nll),
        "perplexity": f"{np.exp(base.nll):.0f}",
        "baseline_facts": _count(base.facts),
        "baseline_sums": _count(base.sums),
        "runs": str(r.runs),
        "edge": str(EDGE),
        "mid_first": str(mid[0]),
        "mid_last": str(mid[-1]),
        "mid_count": str(len(mid)),
        "top_layers": "{}, {}, {} and {}".format(
            *sorted(sorted(range(depth), key=lambda i: -skip[i])[:4])
        ),
        "skip0": nats(r.skip_one[0].nll),
        "skip0_cost": nats(skip[0]),
        "skip1_cost": nats(skip[1]),
        "skip_last_cost": nats(skip[-1]),
        "mid_median_cost": nats(float(np.median([skip[i] for i in mid]))),
        "mid_median_pct": f"{np.median([skip[i] for i in mid]) / base.nll:.0%}",
        "cheapest": str(cheapest),
        "cheapest_cost": nats(skip[cheapest]),
        "facts_kept_layers": str(len(kept)),
        "facts_kept_min": nats(min(skip[i] for i in kept)),
        "facts_kept_max": nats(max(skip[i] for i in kept)),
        "mid_facts_mean": f"{accuracies([r.skip_one[i] for i in mid])[0]:.0%}",
        "mid_sums_mean": f"{accuracies([r.skip_one[i] for i in mid])[1]:.0%}",
        "mid_all_facts": str(sum(all(r.skip_one[i].facts) for i in mid)),
        "mid_all_sums": str(sum(all(r.skip_one[i].sums) for i in mid)),
        "embed_similarity": f"{sim[0, 1]:.2f}",
        "layer0_write": f"{writes[0]:.0f}",
        "mid_write_median": f"{np.median([writes[i] for i in mid]):.0%}",
        "mid_adjacent_median": f"{np.median(adjacent):.2f}",
        "big_writer": str(big),
        "big_writer_size": f"{writes[big]:.0%}",
        "big_writer_adjacent": f"{sim[big, big + 1]:.2f}",
        "big_writer_facts": _count(r.skip_one[big].facts),
        "sink": str(r.sink),
        "sink_cost": nats(skip[r.sink]),
        "sink_skipped": nats(r.skip_one[r.sink].nll),
        "sink_facts": _count(r.skip_one[r.sink].facts),
        "sink_before": f"{first[r.sink]:,.0f}",
        "sink_after": f"{first[r.sink + 1]:,.0f}",
        "sink_growth": f"{first[r.sink + 1] / first[r.sink]:.0f}",
        "sink_others": f"{rest[r.sink + 1]:,.0f}",
        "sink_first_only": nats(r.sink_first_only.nll),
        "sink_first_only_facts": _count(r.sink_first_only.facts),
        "sink_all_but_first": nats(r.sink_all_but_first.nll),
        "sink_all_but_first_facts": _count(r.sink_all_but_first.facts),
        "small": str(small),
        "small_block": f"{middle(depth, small)[0]}–{middle(depth, small)[-1]}",
        "cliff": str(cliff),
        "cliff_block": f"{middle(depth, cliff)[0]}–{middle(depth, cliff)[-1]}",
        "centre": str(depth // 2),
        "loops": str(LOOPS),
        "seeds": str(len(SEEDS)),
        "sizes": ", ".join(map(str, SIZES)),
        **{f"{v.replace(' ', '_')}_small": nats(by_size[v][0] - base.nll) for v in VARIANTS},
        **{f"{v.replace(' ', '_')}_cliff": nats(by_size[v][k] - base.nll) for v in VARIANTS},
        "before_cliff": str(SIZES[k - 1]),
        "repeat_before_cliff": nats(by_size["repeat"][k - 1] - base.nll),
        "others_before_cliff_max": nats(
            max(by_size[v][k - 1] for v in VARIANTS if v != "repeat") - base.nll
        ),
        "parallel_small_facts": _count(r.variants["parallel", small][0].facts),
        "parallel_small_sums": _count(r.variants["parallel", small][0].sums),
        "small_sums_best": _count(
            max(
                (x for v in VARIANTS for x in r.variants[v, small]), key=lambda x: sum(x.sums)
            ).sums
        ),
        **{f"robust_{k}": _count(v) for k, v in per_passage(r).items()},
        "table": comparison_table(rows, lm.name),
        "agrees": str(verdicts.count("agrees")),
        "partly": str(verdicts.count("partly")),
        "differs": str(verdicts.count("differs")),
        "findings": str(len(rows)),
    }


@facts("layers-timing")
def layer_timing_facts():
    return {"seconds": f"{experiments().seconds:.0f}"}


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
