"""Layer surgery on the embedded model: skip, reorder, repeat and parallelise its layers.

After Sun et al., "Transformer Layers as Painters" (AAAI 2025). Every experiment re-wires the
model's own list of decoder layers for the length of a `with` block and puts it back after;
nothing about the model is copied or rewritten. The evaluation set lives in
snippets/data/layer_eval.json: passages from 19th-century books, short factual completions and
one-digit sums.
"""

import functools
import io
import json
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from snippets.decoder import UnsupportedModel, parts, require
from snippets.intervals import Interval, bootstrap
from snippets.plotting import INK, MUTED, PALETTE, new_figure
from snippets.tables import markdown_table
from state_simulators import keys
from state_simulators.artifacts import facts, figure
from state_simulators.cache import atomic_write
from state_simulators.model import LanguageModel, load

EVAL_FILE = Path(__file__).resolve().parent / "data" / "layer_eval.json"
DATA_FILES = ("snippets/data/layer_eval.json",)
PASSAGE_TOKENS = 32  # every passage is cut to its first 32 tokens: one batch, no padding
SIZES = (4, 6, 8, 12)  # how many middle layers each variant alters
SEEDS = (0, 1, 2)  # random orders of the middle layers
LOOPS = 3  # how often the looped-parallel block runs
EDGE = 3  # "middle" layers, for the findings: all but the first and last EDGE
IGNORE = -100  # a label position that scores nothing (PyTorch's ignore_index)
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
    facts: tuple[torch.Tensor, ...]  # prompts, one batch per length: no padding
    facts_answer: tuple[torch.Tensor, ...]  # (prompts, 1) per batch: the token due next
    sums: torch.Tensor  # question, then all answer digits but the last, padded on the right
    sums_at: torch.Tensor  # positions of the answer digits (the same in every row)
    sums_answer: torch.Tensor  # (sums, digits): the digits due there; IGNORE past the end
    names: tuple[str, ...]  # where each passage comes from

    def inputs(self, items: bool = True) -> dict[str, dict[str, torch.Tensor]]:
        """The batches, as keyword arguments for the model (passages only if not `items`).
        Facts and sums are unembedded only where an answer is due (the unembedding is the
        size of eight layers). No batch is padded on the left: every row starts with its
        own first token, the one that carries the attention sink."""
        batches = {"passages": {"input_ids": self.passages, "labels": self.passages}}
        if items:
            for k, prompts in enumerate(self.facts):
                batches[f"facts {k}"] = {"input_ids": prompts, "logits_to_keep": 1}
            batches["sums"] = {"input_ids": self.sums, "logits_to_keep": self.sums_at - 1}
        return batches


@dataclass(frozen=True)
class Scores:
    nll: float  # the model's own loss on the passages: nats per token
    passage_nll: tuple[float, ...]  # the same, passage by passage
    facts: tuple[bool, ...] = ()  # is the answer the most likely next token?
    sums: tuple[bool, ...] = ()  # ... is every answer digit?
    fact_logp: tuple[float, ...] = ()  # log-probability of the right answer, nats
    sum_logp: tuple[float, ...] = ()  # (of all its digits) — empty if items were not run

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
    items: bool = True,
) -> Scores:
    """Score one arrangement of the layers on the passages and (if `items`) on the facts
    and sums: one forward pass per batch."""
    lm = lm or load()
    out = {}
    for name, inputs in data.inputs(items).items():
        steps = resume(plan, saved[name]) if saved else plan  # see below
        with rewired(lm.model, steps) as model, torch.inference_mode():
            out[name] = model(**inputs, use_cache=False)
    return score(out, data)


def answer_logp(logits: torch.Tensor, answer: torch.Tensor) -> tuple[list, list]:
    """log p of each row's answer (the sum over its tokens, nats) and whether every token
    is the most likely one. logits: (rows, tokens, vocabulary); answer: (rows, tokens)."""
    nll = F.cross_entropy(
        logits.transpose(1, 2), answer, ignore_index=IGNORE, reduction="none"
    )
    right = (logits.argmax(-1) == answer) | (answer == IGNORE)
    return (-nll.sum(-1)).tolist(), right.all(-1).tolist()


def score(out: dict, data: EvalSet) -> Scores:
    """The scores from the model's outputs for the batches it ran."""
    text = out["passages"]
    per_token = F.cross_entropy(
        text.logits[:, :-1].flatten(0, 1), data.passages[:, 1:].flatten(), reduction="none"
    ).view(len(data.passages), -1)
    scores = Scores(float(text.loss), tuple(per_token.mean(dim=1).tolist()))
    if "sums" not in out:
        return scores
    found = [answer_logp(out[f"facts {k}"].logits, a) for k, a in enumerate(data.facts_answer)]
    fact_logp, facts = [x for f in found for x in f[0]], [x for f in found for x in f[1]]
    sum_logp, sums = answer_logp(out["sums"].logits, data.sums_answer)
    return replace(
        scores,
        facts=tuple(facts),
        sums=tuple(sums),
        fact_logp=tuple(fact_logp),
        sum_logp=tuple(sum_logp),
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
    """Tokenise snippets/data/layer_eval.json into the batches `evaluate` runs: every
    candidate fact and sum (`keep_right` then keeps those the intact model gets right).
    Raises ValueError (one line) for a passage too short, an answer of more than one token
    or an answer its own prompt already contains."""
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
    questions = [*spec["facts"], *sum_questions(spec["sums"])]
    if leaks := [q for q, a in questions if a.strip() in q]:
        raise ValueError(f"the answer is already in the prompt {leaks[0]!r}")
    prompts = [ids(prompt) for prompt, _ in spec["facts"]]
    answers = [ids(answer) for _, answer in spec["facts"]]
    if any(len(a) != 1 for a in answers):
        raise ValueError(f"every fact answer in {EVAL_FILE.name} must be a single token")
    lengths = sorted({len(p) for p in prompts})
    by_length = [[i for i, p in enumerate(prompts) if len(p) == n] for n in lengths]
    sums = [(ids(q), ids(a)) for q, a in questions[len(prompts) :]]
    if len({len(q) for q, _ in sums}) > 1:
        raise ValueError(f"every sum question in {EVAL_FILE.name} must be equally long")
    digits = max(len(a) for _, a in sums)
    at = len(sums[0][0]) + torch.arange(digits)
    return EvalSet(
        passages=torch.tensor([p[:PASSAGE_TOKENS] for p in passages]),
        facts=tuple(torch.tensor([prompts[i] for i in rows]) for rows in by_length),
        facts_answer=tuple(torch.tensor([answers[i] for i in rows]) for rows in by_length),
        sums=padded([q + a[:-1] for q, a in sums], tok.pad_token_id),  # last digit: not read
        sums_at=at,
        sums_answer=padded([a for _, a in sums], IGNORE),
        names=tuple(p["source"] for p in spec["passages"]),
    )


def sum_questions(spec: dict) -> list[tuple[str, str]]:
    """The candidate sums: `candidates` pairs of numbers from `digits`, drawn with `seed`
    (each pair at most once), asked as `question`. Returns (prompt, answer) pairs."""
    low, high = spec["digits"]
    pairs = [(a, b) for a in range(low, high + 1) for b in range(low, high + 1)]
    drawn = random.Random(spec["seed"]).sample(pairs, min(spec["candidates"], len(pairs)))
    return [(spec["question"].format(a=a, b=b), str(a + b)) for a, b in drawn]


def padded(rows: list[list[int]], pad: int) -> torch.Tensor:
    """Rows of token ids as one tensor, padded on the right with `pad`."""
    width = max(map(len, rows))
    return torch.tensor([r + [pad] * (width - len(r)) for r in rows])


def keep_right(
    data: EvalSet, saved: dict[str, list[torch.Tensor]], intact: Scores
) -> tuple[EvalSet, dict[str, list[torch.Tensor]], Scores]:
    """The facts and sums the intact model gets right: so that every wrong answer after a
    surgery is damage the surgery did. The saved states and the scores keep the same rows.
    A model that gets fewer than 2 of either right (another, weaker model) keeps every item:
    the change in the right answer's log p is still defined, and the page says which rule held."""
    facts, sums = torch.tensor(intact.facts), torch.tensor(intact.sums)
    if min(facts.sum(), sums.sum()) < 2:
        return data, saved, intact
    kept = facts.split([len(f) for f in data.facts])  # per batch of facts
    rows = {f"facts {k}": right for k, right in enumerate(kept)}
    groups = [k for k, right in enumerate(kept) if right.any()]  # batches left
    data = replace(
        data,
        facts=tuple(data.facts[k][kept[k]] for k in groups),
        facts_answer=tuple(data.facts_answer[k][kept[k]] for k in groups),
        sums=data.sums[sums],
        sums_answer=data.sums_answer[sums],
    )
    rows |= {"passages": slice(None), "sums": sums}
    saved = {name: [s[rows[name]] for s in states] for name, states in saved.items()}
    saved = {  # renumbered like the batches
        **{n: v for n, v in saved.items() if not n.startswith("facts")},
        **{f"facts {new}": saved[f"facts {k}"] for new, k in enumerate(groups)},
    }
    pick = lambda values, kept: tuple(v for v, k in zip(values, kept.tolist()) if k)  # noqa: E731
    intact = replace(
        intact,
        facts=pick(intact.facts, facts),
        sums=pick(intact.sums, sums),
        fact_logp=pick(intact.fact_logp, facts),
        sum_logp=pick(intact.sum_logp, sums),
    )
    return data, saved, intact


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


def run_experiments() -> Results:
    """Every surgery on the page. Facts and sums are scored after every single-layer skip,
    the sink runs and the smallest block's variants; the loss after every run. Raises
    UnsupportedModel (one line) for a shallow model."""
    started = time.perf_counter()
    lm = load()
    layers = require(lm.model, min_depth=MIN_DEPTH, what="the layers page").layers
    data = load_eval_set(lm)
    require(lm.model, min_positions=data.passages.shape[1], what="the layers page")
    depth = len(layers)
    # the intact model, its states and scores; then only the items it gets right
    data, saved, baseline = keep_right(data, *snapshots(data, lm))

    def run(plan: Plan, items: bool = True) -> Scores:
        return evaluate(plan, data, lm, saved, items)

    singles = tuple(run(skip_one(i, depth)) for i in range(depth))
    variants = {
        (v, n): tuple(
            run(surgery(v, n, depth, seed), items=n == SIZES[0])
            for seed in (SEEDS if v == "shuffle" else (0,))
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


@functools.cache
def experiments() -> Results:
    """`run_experiments`, computed once per process and cached on disk (keyed by this code,
    the evaluation set and the model): figures, numbers in the prose and tests all read it."""
    path = keys.step_path("layers", "experiments", [__name__], suffix=".pt", files=DATA_FILES)
    if path.exists():
        return from_saved(torch.load(path, weights_only=True))
    results = run_experiments()
    buffer = io.BytesIO()
    torch.save(to_saved(results), buffer)
    atomic_write(path, buffer.getvalue())
    return results


def to_saved(r: Results) -> dict:
    """Results as plain containers and tensors (what `torch.load(weights_only=True)` reads)."""
    return {
        **{f.name: getattr(r, f.name) for f in fields(Results)},
        "baseline": asdict(r.baseline),
        "skip_one": [asdict(s) for s in r.skip_one],
        "variants": [[v, n, [asdict(s) for s in runs]] for (v, n), runs in r.variants.items()],
        "sink_first_only": asdict(r.sink_first_only),
        "sink_all_but_first": asdict(r.sink_all_but_first),
        "states": torch.stack(r.states),
    }


def from_saved(d: dict) -> Results:
    """The inverse of `to_saved`."""
    scores = lambda s: Scores(**{k: v if k == "nll" else tuple(v) for k, v in s.items()})  # noqa: E731
    return Results(
        **{
            **d,
            "baseline": scores(d["baseline"]),
            "skip_one": tuple(map(scores, d["skip_one"])),
            "variants": {(v, n): tuple(map(scores, runs)) for v, n, runs in d["variants"]},
            "sink_first_only": scores(d["sink_first_only"]),
            "sink_all_but_first": scores(d["sink_all_but_first"]),
            "states": tuple(d["states"]),
        }
    )


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


# --8<-- [start:change]
KINDS = {"facts": "fact_logp", "sums": "sum_logp"}


def logp_change(scores: Scores, results: Results, kind: str) -> np.ndarray:
    """For each fact or sum (kind), how far a surgery moved the log-probability of the
    right answer, in nats: negative when the answer became less likely."""
    key = KINDS[kind]
    return np.array(getattr(scores, key)) - np.array(getattr(results.baseline, key))


def change(runs: Sequence[Scores], results: Results, kind: str) -> Interval:
    """The mean change over the items with its 95 % interval, the item as the unit: with
    several runs (shuffled orders, a group of surgeries) each item's changes are averaged
    over the runs first."""
    return bootstrap(np.mean([logp_change(s, results, kind) for s in runs], axis=0))


def more_fragile(runs: Sequence[Scores], results: Results) -> str:
    """ "sums" if their interval lies wholly below the facts' (the sums lost more), "facts"
    if the other way round, "neither" if the two intervals overlap."""
    facts, sums = change(runs, results, "facts"), change(runs, results, "sums")
    return "sums" if sums.high < facts.low else "facts" if facts.high < sums.low else "neither"


# --8<-- [end:change]


def cliff(results: Results) -> int:
    """The smallest block size whose middle block holds the sink layer (the largest size if
    none does): from there on, every surgery removes or moves that layer's write."""
    return next((n for n in SIZES if results.sink in middle(results.depth, n)), SIZES[-1])


# --8<-- [start:similarity]
def token_states(states: Sequence[torch.Tensor]) -> torch.Tensor:
    """(layers + 1, tokens, width): every passage token's state but the first position's."""
    return torch.stack(tuple(states))[:, :, 1:].flatten(1, 2).double()


def similarity(states: Sequence[torch.Tensor], standardise: bool = False) -> np.ndarray:
    """[i, j]: mean cosine similarity of a token's states after i and after j layers. With
    `standardise`, each dimension is first z-scored over the tokens (per layer), so that a
    few dimensions with huge values cannot decide the angle alone."""
    x = token_states(states)
    if standardise:
        x = (x - x.mean(dim=1, keepdim=True)) / x.std(dim=1, keepdim=True).clamp_min(1e-12)
    unit = F.normalize(x, dim=-1)
    return torch.einsum("itd,jtd->ijt", unit, unit).mean(dim=-1).numpy()


def linear_cka(states: Sequence[torch.Tensor]) -> np.ndarray:
    """[i, j]: linear CKA (Kornblith et al., ICML 2019) of the states after i and j layers,
    over the tokens: 1 when one set of states is a rotation and scaling of the other."""
    x = token_states(states)
    x = x - x.mean(dim=1, keepdim=True)
    gram = x @ x.transpose(1, 2)  # (layers + 1, tokens, tokens)
    hsic = torch.einsum("itu,jtu->ij", gram, gram)
    scale = hsic.diagonal().sqrt()
    return (hsic / torch.outer(scale, scale)).numpy()


# --8<-- [end:similarity]


def outlier_share(states: Sequence[torch.Tensor], top: int = 4) -> np.ndarray:
    """[k]: the share of the squared length of the state after k layers that its `top`
    largest dimensions hold (mean square over the tokens)."""
    power = token_states(states).pow(2).mean(dim=1)  # (layers + 1, width)
    return (power.topk(top, dim=-1).values.sum(-1) / power.sum(-1)).numpy()


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
    for kind, colour, marker, shift in (
        ("facts", PALETTE[2], "o", -0.15),
        ("sums", PALETTE[1], "s", 0.15),
    ):
        found = [change([s], r, kind) for s in r.skip_one]
        bottom.errorbar(
            layers + shift,
            [c.estimate for c in found],
            yerr=np.array([c.errors for c in found]).T,
            fmt=marker,
            ms=3,
            capsize=0,
            lw=1,
            color=colour,
            label=f"{kind} (n = {found[0].n})",
        )
    bottom.axhline(0, color=MUTED, lw=0.8)
    bottom.set_yscale("symlog", linthresh=1)
    bottom.set_ylim(-60, 1)
    bottom.set_ylabel("Δ log p of the answer (nats)")
    bottom.set_xlabel("layer skipped")
    bottom.set_xticks(layers[::2])
    bottom.legend(loc="lower right", ncols=2, fontsize=8)
    return fig


@figure("layer-states.svg", depends=("snippets/data/layer_eval.json",))
def states_figure():
    r = experiments()
    (first, rest), ticks = norms(r.states), np.arange(0, r.depth + 1, 5)
    fig, axes = new_figure(2, 2, height=6.4)
    maps = {
        "cosine similarity (raw)": similarity(r.states),
        "cosine, dimensions z-scored": similarity(r.states, standardise=True),
        "linear CKA": linear_cka(r.states),
    }
    for ax, (title, values) in zip(axes.flat, maps.items()):
        image = ax.imshow(values, cmap="Blues", vmin=0, vmax=1, origin="lower")
        ax.set_title(title, fontsize=10)
        ax.set_xticks(ticks, [str(t) for t in ticks])
        ax.set_yticks(ticks, [str(t) for t in ticks])
        ax.set_xlabel("layers run (0 = embeddings)", fontsize=8)
        ax.set_ylabel("layers run", fontsize=8)
        ax.grid(False)
    fig.colorbar(image, ax=axes[:, 0], shrink=0.5)
    right = axes[1, 1]
    steps = np.arange(r.depth + 1)
    right.plot(steps, first, "o-", ms=3, color=PALETTE[3], label="first token")
    right.plot(steps, rest, "s-", ms=3, color=PALETTE[0], label="all other tokens")
    right.set_yscale("log")
    right.set_title("length of the state", fontsize=10)
    right.set_xlabel("layers run (0 = embeddings)", fontsize=8)
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
    with_sink = cliff(r)
    left.set_xlabel("middle layers altered")
    left.set_xticks(SIZES)
    left.axvspan(with_sink - 0.5, SIZES[-1] + 0.5, color=MUTED, alpha=0.12, lw=0)
    left.text(
        (with_sink + SIZES[-1]) / 2,
        left.get_ylim()[1],
        f"block includes\nlayer {r.sink}",
        ha="center",
        va="top",
        fontsize=8,
        color=INK,
    )
    answers_panel(right, r)
    handles, labels = left.get_legend_handles_labels()
    fig.legend(
        handles, labels, loc="outside lower center", ncols=6, fontsize=8, handlelength=1.5
    )
    return fig


def answers_panel(ax, r: Results) -> None:
    """Facts beside sums after each surgery on the smallest block: mean change in log p of
    the right answer with its 95 % interval over the items."""
    small = SIZES[0]
    for k, v in enumerate(VARIANTS):
        for kind, colour, shift in (("facts", PALETTE[2], -0.15), ("sums", PALETTE[1], 0.15)):
            found = change(r.variants[v, small], r, kind)
            ax.errorbar(
                found.estimate,
                k + shift,
                xerr=np.array([found.errors]).T,
                fmt="o" if kind == "facts" else "s",
                ms=4,
                capsize=2,
                color=colour,
                label=f"{kind} (n = {found.n})" if k == 0 else None,
            )
    ax.axvline(0, color=MUTED, lw=0.8)
    ax.set_yticks(range(len(VARIANTS)), VARIANTS, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("Δ log p of the answer (nats)")
    ax.set_title(f"answers, {small} middle layers altered", fontsize=10)
    ax.legend(loc="lower left", fontsize=8)


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
    spec = json.loads(EVAL_FILE.read_text())
    return {
        "passages": str(len(base.passage_nll)),
        "passage_tokens": str(PASSAGE_TOKENS),
        "scored_tokens": str(len(base.passage_nll) * (PASSAGE_TOKENS - 1)),
        "facts": str(len(base.facts)),
        "kept": (
            "keep only the items the intact model gets right"
            if all(base.facts) and all(base.sums)
            else "keep every item, because the intact model gets fewer than 2 of the facts or"
            " of the sums right"
        ),
        "fact_candidates": str(len(spec["facts"])),
        "sums": str(len(base.sums)),
        "sum_candidates": str(
            min(spec["sums"]["candidates"], len(sum_questions(spec["sums"])))
        ),
        "sum_question": spec["sums"]["question"].format(a=3, b=4).strip(),
        "baseline_fact_logp": nats(np.mean(base.fact_logp)),
        "baseline_sum_logp": nats(np.mean(base.sum_logp)),
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
        "mid_facts_mean": f"{facts_kept:.0%}",
        "mid_sums_mean": f"{sums_kept:.0%}",
        **answer_facts(r),
    }


def answer_facts(r: Results) -> dict[str, str]:
    """Sums beside facts, by the change in the log-probability of the right answer."""
    mid = [r.skip_one[i] for i in middle_layers(r.depth)]
    verdicts = [more_fragile([s], r) for s in mid]
    return {
        "mid_facts_change": change(mid, r, "facts").format(),
        "mid_sums_change": change(mid, r, "sums").format(),
        "mid_sums_lose_more": str(verdicts.count("sums")),
        "mid_facts_lose_more": str(verdicts.count("facts")),
        "mid_overlap": str(verdicts.count("neither")),
        "answers_table": answers_table(r),
    }


def answers_table(r: Results) -> str:
    """Per surgery: the change in log p of the right answer for facts and for sums (95 %
    intervals over the items), and which lost more."""
    mid, small = [r.skip_one[i] for i in middle_layers(r.depth)], SIZES[0]
    rows = {
        f"one middle layer skipped (mean of {len(mid)})": mid,
        **{f"{v}, middle {small}": r.variants[v, small] for v in VARIANTS},
        f"layer {r.sink} kept only at the first token": [r.sink_first_only],
        f"layer {r.sink} kept everywhere but there": [r.sink_all_but_first],
    }
    header = ["Surgery", "facts: Δ log p (nats)", "sums: Δ log p (nats)", "lost more"]
    body = [
        [
            name,
            change(runs, r, "facts").format(),
            change(runs, r, "sums").format(),
            more_fragile(runs, r),
        ]
        for name, runs in rows.items()
    ]
    return markdown_table(header, body, align=["left", "right", "right", "left"])


def state_facts(r: Results) -> dict[str, str]:
    """The section "Why the middle tolerates it": how much each layer changes the state."""
    sim, writes, mid = similarity(r.states), write_sizes(r.states), middle_layers(r.depth)
    big = max(mid, key=lambda i: writes[i])
    return {
        **similarity_facts(r),
        "layer0_write": f"{writes[0]:.0f}",
        "mid_write_median": f"{np.median([writes[i] for i in mid]):.0%}",
        "big_writer": str(big),
        "big_writer_size": f"{writes[big]:.0%}",
        "big_writer_adjacent": f"{sim[big, big + 1]:.2f}",
        "big_writer_facts": _count(r.skip_one[big].facts),
    }


def similarity_facts(r: Results) -> dict[str, str]:
    """Raw cosine beside the two measures that outlier dimensions cannot dominate."""
    mid, found = middle_layers(r.depth), {}
    measures = {
        "cos": similarity(r.states),
        "z": similarity(r.states, standardise=True),
        "cka": linear_cka(r.states),
    }
    for name, sim in measures.items():
        block = sim[mid[0] : mid[-1] + 2, mid[0] : mid[-1] + 2]
        found[f"{name}_adjacent"] = f"{np.median([sim[i, i + 1] for i in mid]):.2f}"
        found[f"{name}_block_min"] = f"{block.min():.2f}"
        found[f"{name}_across"] = f"{sim[mid[0], mid[-1] + 1]:.2f}"
        found[f"{name}_embed"] = f"{sim[0, 1]:.2f}"
    cka, after = measures["cka"], slice(r.sink + 1, mid[-1] + 2)  # after the sink layer
    found["cka_after_sink_min"] = f"{cka[after, after].min():.2f}"
    share = outlier_share(r.states)
    found["outlier_share"] = f"{np.median([share[i + 1] for i in mid]):.0%}"
    return found


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
