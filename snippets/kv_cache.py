"""The KV cache: a memo of a pure function of the prefix, not a memory the model carries.

Generating with the cache and recomputing everything from the text alone give the same
logits (up to float rounding) and the same greedy tokens; the cache only saves work.
"""

import contextlib
import functools
import time
from dataclasses import dataclass

import numpy as np
import torch
from transformers import DynamicCache

from snippets import corpus
from snippets.decoder import parts, require
from snippets.intervals import Interval, bootstrap
from snippets.next_token import check_prompt
from snippets.plotting import MUTED, PALETTE, new_figure
from snippets.tables import markdown_table
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

PROMPT = "Once upon a time, there was a little"
NEW_TOKENS = 16
CONTEXT = 2048  # the context length the page prices the cache at
TIMED_LENGTHS = (32, 96, 160, 224)  # context lengths at which one decoding step is timed
REPEATS = 3  # runs of a full recomputation; the cheap cached step gets more
CACHED_REPEATS = 8
SINKS = 4  # StreamingLLM keeps the first four positions: its "attention sinks"
WINDOWS = (8, 32, 128, 240)  # positions kept before the scored tokens (240 = all but 8)
SCORED = 8  # the last tokens of each text, predicted again with an evicted cache


# --8<-- [start:incremental]
def decode_with_cache(prompt: str, steps: int, lm: LanguageModel | None = None):
    """Greedy decoding as `generate` does it: feed the newest token, keep a cache.

    Returns all token ids (prompt + generated) and the logits of every step.
    """
    lm = lm or load()
    ids = lm.tokenizer(check_prompt(prompt), return_tensors="pt").input_ids
    cache = DynamicCache(config=lm.model.config)  # per layer: keys, values
    new, step_logits = ids, []  # the first step reads the whole prompt
    with torch.no_grad():
        for _ in range(steps):
            logits = lm.model(new, cache=cache, use_cache=True).logits[0, -1]
            step_logits.append(logits)
            new = logits.argmax().view(1, 1)  # greedy: feed the top token back
            ids = torch.cat([ids, new], dim=1)
    return ids, torch.stack(step_logits)


def recompute_without_cache(
    ids: torch.Tensor, steps: int, lm: LanguageModel | None = None
) -> torch.Tensor:
    """The same logits from the finished text alone: one pass, no memory."""
    lm = lm or load()
    with torch.no_grad():
        logits = lm.model(ids, use_cache=False).logits[0]
    # position t predicts token t + 1: the last `steps` predictions that were used
    return logits[-steps - 1 : -1]


# --8<-- [end:incremental]


@functools.cache
def equivalence(prompt: str = PROMPT, steps: int = NEW_TOKENS) -> dict:
    """Cached and recomputed logits for the page's prompt, and how far apart they are."""
    lm = load()
    ids, cached = decode_with_cache(prompt, steps, lm)
    recomputed = recompute_without_cache(ids, steps, lm)
    return {
        "ids": ids,
        "max_abs_diff": float((cached - recomputed).abs().max()),
        "max_abs_logit": float(recomputed.abs().max()),
        "same_argmax": bool((cached.argmax(-1) == recomputed.argmax(-1)).all()),
    }


# --8<-- [start:generate]
@contextlib.contextmanager
def count_tokens_fed(lm: LanguageModel):
    """Count the tokens that go through the network, whoever calls it: every forward pass
    starts by embedding its new tokens, ids of shape (batch, tokens)."""
    fed = []

    def count(module, args):
        fed.append(args[0].shape[-1])

    hook = parts(lm.model).embedding.register_forward_pre_hook(count)
    try:
        yield fed
    finally:
        hook.remove()


def greedy(
    prompt: str, new_tokens: int, use_cache: bool, lm: LanguageModel | None = None
) -> tuple[str, list[int]]:
    """transformers' own `generate`, greedy, with or without its cache.

    Returns the continuation and the number of tokens fed to the network per step.
    """
    lm = lm or load()
    ids = lm.tokenizer(check_prompt(prompt), return_tensors="pt").input_ids
    with torch.no_grad(), count_tokens_fed(lm) as fed:
        out = lm.model.generate(
            ids,
            max_new_tokens=new_tokens,
            do_sample=False,
            use_cache=use_cache,
            pad_token_id=lm.tokenizer.eos_token_id,
        )
    return lm.tokenizer.decode(out[0, ids.shape[1] :]), fed


# --8<-- [end:generate]


@functools.cache
def greedy_both_ways(prompt: str = PROMPT, new_tokens: int = NEW_TOKENS) -> dict:
    lm = load()
    with_cache, fed_with = greedy(prompt, new_tokens, True, lm)
    without_cache, fed_without = greedy(prompt, new_tokens, False, lm)
    return {
        "with": with_cache,
        "without": without_cache,
        "fed_with": fed_with,
        "fed_without": fed_without,
    }


# --8<-- [start:size]
@dataclass(frozen=True)
class CacheSize:
    layers: int
    kv_heads: int
    head_dim: int
    bytes_per_number: int

    @property
    def per_token(self) -> int:
        """Bytes per token: a key and a value vector per KV head, per layer."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.bytes_per_number

    def for_tokens(self, tokens: int) -> int:
        return tokens * self.per_token


def cache_size(config, dtype: torch.dtype = torch.float32) -> CacheSize:
    """What the cache costs, from the model's config alone. A model without grouped queries
    (no `num_key_value_heads`, e.g. GPT-2) has a key-value head per query head."""
    heads = config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
    return CacheSize(
        layers=config.num_hidden_layers,
        kv_heads=getattr(config, "num_key_value_heads", None) or heads,
        head_dim=head_dim,
        bytes_per_number=dtype.itemsize,
    )


def measured_cache_bytes(cache: DynamicCache) -> int:
    """What a filled cache holds: every key and value tensor of every layer."""
    return sum(
        t.numel() * t.element_size()
        for layer in cache.layers
        for t in (layer.keys, layer.values)
    )


# --8<-- [end:size]


@functools.cache
def filled_cache(prompt: str = PROMPT) -> DynamicCache:
    """The cache after reading the page's prompt, to look inside."""
    lm = load()
    ids = lm.tokenizer(check_prompt(prompt), return_tensors="pt").input_ids
    cache = DynamicCache(config=lm.model.config)
    with torch.no_grad():
        lm.model(ids, cache=cache, use_cache=True)
    return cache


def mebibytes(n: int) -> str:
    return f"{n / 2**20:,.1f} MiB"


@facts("kv_cache")
def kv_cache_facts():
    lm = load()
    config = lm.model.config
    size = cache_size(config)
    same = equivalence()
    both = greedy_both_ways()
    cache = filled_cache()
    keys = cache.layers[0].keys
    weights = sum(p.numel() * p.element_size() for p in lm.model.parameters())
    return {
        "prompt": PROMPT,
        "new_tokens": str(NEW_TOKENS),
        "max_abs_diff": f"{same['max_abs_diff']:.1e}",
        "max_abs_logit": f"{same['max_abs_logit']:.1f}",
        "identical": "identical" if both["with"] == both["without"] else "different",
        "greedy_text": both["with"].replace("\n", " ").strip(),
        "fed_with": str(sum(both["fed_with"])),
        "fed_without": f"{sum(both['fed_without']):,}",
        "steps": str(len(both["fed_with"])),
        "head_dim": str(size.head_dim),
        "group": str(config.num_attention_heads // size.kv_heads),
        "prompt_tokens": str(keys.shape[2]),
        "keys_shape": " × ".join(str(n) for n in keys.shape),
        "tensors": str(2 * len(cache.layers)),
        "per_layer_per_token": f"{size.per_token // size.layers:,}",
        "per_token": f"{size.per_token:,}",
        "per_token_kib": f"{size.per_token / 1024:.0f} KiB",
        "context": f"{CONTEXT:,}",
        "context_memory": mebibytes(size.for_tokens(CONTEXT)),
        "context_memory_16bit": mebibytes(
            cache_size(config, torch.bfloat16).for_tokens(CONTEXT)
        ),
        "context_memory_mha": mebibytes(
            size.for_tokens(CONTEXT) * config.num_attention_heads // size.kv_heads
        ),
        "weights": mebibytes(weights),
        "max_context_memory": mebibytes(size.for_tokens(config.max_position_embeddings)),
    }


# --8<-- [start:eviction]
def evict(cache: DynamicCache, first: int, last: int, upto: int, config) -> DynamicCache:
    """A new cache with only the first `first` and the last `last` of the positions before
    `upto`, in every layer: a sliding window (first = 0), or StreamingLLM's sinks and a
    window. The kept keys stay rotated by their original positions."""
    first = min(first, upto)
    kept = torch.cat([torch.arange(first), torch.arange(max(first, upto - last), upto)])
    evicted = DynamicCache(config=config)
    for i, layer in enumerate(cache.layers):
        evicted.update(layer.keys[:, :, kept], layer.values[:, :, kept], i)
    return evicted


@torch.no_grad()
def exact_pass(ids: torch.Tensor, scored: int, lm: LanguageModel):
    """One pass over texts (batch, tokens) with the full cache: the log-probabilities of the
    last `scored` predictions (batch, scored, vocab), and the cache."""
    cache = DynamicCache(config=lm.model.config)
    logits = lm.model(ids, cache=cache, use_cache=True, logits_to_keep=scored).logits
    return logits.log_softmax(-1), cache


@torch.no_grad()
def evicted_pass(ids, cache, first: int, last: int, scored: int, lm: LanguageModel):
    """The last `scored` tokens fed again, reading an evicted cache of the positions before
    them: the same predictions as `exact_pass`, from less memory. Each keeps its position."""
    start = ids.shape[1] - scored
    kept = evict(cache, first, last, start, lm.model.config)
    positions = torch.arange(start, ids.shape[1]).expand(ids.shape[0], -1)
    logits = lm.model(ids[:, start:], cache=kept, position_ids=positions).logits
    return logits.log_softmax(-1)


def divergence(exact: torch.Tensor, evicted: torch.Tensor) -> tuple[list, list]:
    """Per text: KL(exact ‖ evicted) in nats and the share of positions whose top token is
    unchanged, each averaged over the scored positions (one value per text)."""
    kl = (exact.exp() * (exact - evicted)).sum(-1).mean(-1)
    same = (exact.argmax(-1) == evicted.argmax(-1)).float().mean(-1)
    return kl.tolist(), same.tolist()


# --8<-- [end:eviction]


@functools.cache
def eviction_study(
    windows: tuple[int, ...] = WINDOWS, sinks: int = SINKS, scored: int = SCORED
) -> dict:
    """Both policies at every window, on the held-out text: {(first, last): (KL, top-1)},
    each a 95 % interval over the texts."""
    lm = load()
    require(lm.model, min_positions=corpus.WINDOW, what="the cache-eviction measurement")
    ids = corpus.windows(lm.tokenizer, "held_out")
    exact, cache = exact_pass(ids, scored, lm)
    results: dict[tuple[int, int], tuple[Interval, Interval]] = {}
    for first in (0, sinks):
        for last in windows:
            kl, same = divergence(exact, evicted_pass(ids, cache, first, last, scored, lm))
            results[first, last] = (bootstrap(kl), bootstrap(same))
    return {"texts": ids.shape[0], "tokens": ids.shape[1], "results": results}


def short(interval: Interval, digits: int = 2, scale: float = 1.0) -> str:
    """E.g. "0.56 (0.45–0.70)": the estimate and its 95 % interval, for a table's cell."""
    e, lo, hi = (
        f"{v * scale:.{digits}f}" for v in (interval.estimate, interval.low, interval.high)
    )
    return f"{e} ({lo}–{hi})"


def policy_name(first: int) -> str:
    return "last W only" if first == 0 else f"first {first} + last W"


@figure("kv-cache-eviction.svg")
def kv_cache_eviction_figure():
    study = eviction_study()
    fig, (left, right) = new_figure(1, 2)
    for colour, first in zip(PALETTE, (0, SINKS)):
        for ax, which in ((left, 0), (right, 1)):
            points = [study["results"][first, w][which] for w in WINDOWS]
            ax.errorbar(
                WINDOWS,
                [p.estimate for p in points],
                yerr=np.array([p.errors for p in points]).T,
                fmt="o-",
                capsize=3,
                color=colour,
                label=policy_name(first),
            )
    for ax, label in ((left, "KL(exact ‖ evicted), nats"), (right, "top token unchanged")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(WINDOWS, [str(w) for w in WINDOWS])
        ax.set_xlabel("W: latest positions kept in the cache")
        ax.set_ylabel(label)
        ax.set_ylim(bottom=0)
    left.set_title("How far the predictions move")
    right.set_title("How often the top token survives")
    right.set_ylim(0, 1.02)
    left.legend(fontsize=8)
    return fig


@facts("kv_eviction")
def kv_eviction_facts():
    study = eviction_study()
    results = study["results"]
    rows = [
        [str(w)]
        + [
            text
            for first in (0, SINKS)
            for text in (short(results[first, w][0]), short(results[first, w][1], 0, 100))
        ]
        for w in WINDOWS
    ]
    header = ["W"] + [
        f"{policy_name(first)}: {what}"
        for first in (0, SINKS)
        for what in ("KL, nats", "top-1, %")
    ]
    widest = max(WINDOWS)
    return {
        "texts": str(study["texts"]),
        "tokens": str(study["tokens"]),
        "scored": str(SCORED),
        "prefix": str(study["tokens"] - SCORED),
        "sinks": str(SINKS),
        "widest": str(widest),
        "dropped": str(study["tokens"] - SCORED - widest),
        "table": markdown_table(header, rows, ["right"] * len(header)),
        "window_kl_widest": results[0, widest][0].format(2),
        "window_top1_widest": results[0, widest][1].format(0, 100, " %"),
        "sinks_kl_widest": results[SINKS, widest][0].format(3),
        "sinks_top1_smallest": results[SINKS, min(WINDOWS)][1].format(0, 100, " %"),
        "window_top1_smallest": results[0, min(WINDOWS)][1].format(0, 100, " %"),
    }


# --8<-- [start:timing]
def _seconds(run, repeats: int) -> float:
    """The fastest of a few runs: the one least disturbed by other programs."""
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def time_one_step(
    context: int, repeats: int = REPEATS, lm: LanguageModel | None = None
) -> tuple[float, float]:
    """Seconds for the next token after `context` tokens: (cached, uncached)."""
    lm = lm or load()
    seeded = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 20000, (1, context + 1), generator=seeded)
    cache = DynamicCache(config=lm.model.config)
    with torch.no_grad():
        lm.model(ids[:, :context], cache=cache, use_cache=True)  # fill the cache

        def cached_step():
            lm.model(ids[:, context:], cache=cache, logits_to_keep=1)
            cache.crop(-1)  # forget the new token: each repeat does the same work

        def full_recompute():
            lm.model(ids, use_cache=False, logits_to_keep=1)

        return (_seconds(cached_step, CACHED_REPEATS), _seconds(full_recompute, repeats))


# --8<-- [end:timing]


@functools.cache
def step_times(lengths: tuple[int, ...] = TIMED_LENGTHS) -> dict[int, tuple[float, float]]:
    lm = load()
    require(lm.model, min_positions=max(lengths) + 1, what="the KV-cache timing")
    return {n: time_one_step(n, lm=lm) for n in lengths}


def cumulative_seconds(times: dict[int, tuple[float, float]], upto: np.ndarray) -> np.ndarray:
    """Time to generate every token up to each context length, interpolating the measured steps."""
    lengths = np.array(sorted(times), dtype=float)
    per_step = np.array([times[n] for n in sorted(times)]).T  # (2, len(lengths))
    steps = np.arange(1, upto.max() + 1)
    curves = [np.cumsum(np.interp(steps, lengths, row)) for row in per_step]
    return np.array([c[upto - 1] for c in curves])


@figure("kv-cache-timing.svg", machine_dependent=True)
def kv_cache_timing_figure():
    times = step_times()
    lengths = sorted(times)
    with_cache = [times[n][0] * 1000 for n in lengths]
    without = [times[n][1] * 1000 for n in lengths]
    fig, (left, right) = new_figure(1, 2)
    left.plot(lengths, without, "o-", color=PALETTE[3], label="without cache (recompute all)")
    left.plot(lengths, with_cache, "o-", color=PALETTE[0], label="with cache (one new token)")
    left.set_xlabel("tokens already in the context")
    left.set_ylabel("milliseconds for the next token")
    left.set_title("Cost of one more token")
    left.set_ylim(bottom=0)
    left.legend(loc="upper left", fontsize=8)
    upto = np.linspace(1, max(lengths), 64).astype(int)
    totals = cumulative_seconds(times, upto)
    right.plot(upto, totals[1], color=PALETTE[3], label="without cache: grows ~ n²")
    right.plot(upto, totals[0], color=PALETTE[0], label="with cache: grows ~ n")
    right.set_xlabel("tokens generated, n")
    right.set_ylabel("seconds in total")
    right.set_title("Cost of a whole generation")
    right.set_ylim(bottom=0)
    right.legend(loc="upper left", fontsize=8)
    right.text(
        0.03,
        0.74,
        "summed from the measured steps",
        transform=right.transAxes,
        ha="left",
        va="top",
        fontsize=7,
        color=MUTED,
    )
    return fig


@facts("kv_cache_timing", machine_dependent=True)
def kv_cache_timing_facts():
    times = step_times()
    longest = max(times)
    cached, full = times[longest]
    shortest = min(times)
    totals = cumulative_seconds(times, np.array([longest]))
    return {
        "longest": str(longest),
        "repeats": str(REPEATS),
        "cached_repeats": str(CACHED_REPEATS),
        "shortest": str(shortest),
        "cached_ms": f"{cached * 1000:.0f}",
        "full_ms": f"{full * 1000:.0f}",
        "cached_ms_short": f"{times[shortest][0] * 1000:.0f}",
        "full_ms_short": f"{times[shortest][1] * 1000:.0f}",
        "speedup": f"{full / cached:.0f}",
        "total_with": f"{totals[0][0]:.1f}",
        "total_without": f"{totals[1][0]:.0f}",
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
