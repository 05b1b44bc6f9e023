"""The tuned lens: one learned affine map per layer in front of the model's own readout.

The logit lens reads the residual stream h_l of every layer with the last layer's readout,
unembed(norm(h_l)). The tuned lens (Belrose et al., 2023) first translates it, A_l h_l + b_l,
with A_l and b_l trained so that the readout matches the model's own final distribution
(minimising KL(final ‖ lens)). With A_l = I and b_l = 0 it is the logit lens. The maps are
trained at build time on chapters I–IV of *Alice* (`corpus`, "fit"), measured on chapters V–VI
("held_out"), and cached, so a warm build imports no torch.
"""

import functools
import json
from dataclasses import asdict, dataclass

import numpy as np
import torch
from safetensors.torch import load_file, save

from snippets import corpus
from snippets import logit_lens as ll
from snippets.decoder import require
from snippets.intervals import Interval, bootstrap
from snippets.plotting import PALETTE, new_figure
from snippets.tables import markdown_table
from state_simulators import keys
from state_simulators.artifacts import facts, figure
from state_simulators.cache import atomic_write
from state_simulators.model import LanguageModel, load

TEXT = "snippets/data/alice-chapters-1-6.txt"  # the corpus: part of every cache key here


@dataclass(frozen=True)
class Recipe:
    """How the maps are trained and measured; small enough for a site build on two cores."""

    context: int = 64  # tokens read from the start of every 256-token window of the corpus
    skip: int = 4  # the first positions of a window are left out: their states are outliers
    vocabulary: int = 1024  # the training softmax: the tokens most likely at the output…
    others: int = 1024  # …and this many others, sampled anew each step, for all the rest
    steps: int = 60
    batch: int = 128  # positions per step, the same ones at every layer
    learning_rate: float = 2e-3
    seed: int = 0
    measured: int = 4  # held-out positions measured per window (the unit of the intervals)


RECIPE = Recipe()


# --8<-- [start:states]
def residual_states(ids: torch.Tensor, lm: LanguageModel) -> torch.Tensor:
    """The residual stream before the final norm, at every depth, in one pass.

    ids: (rows, positions) token ids; returns (layers + 1, rows, positions, hidden): h_0 (the
    embeddings), then the output of each layer, the last one caught on its way into the final
    norm (`transformers` hands it back already normalised).
    """
    decoder = require(lm.model, what="the tuned lens")
    entering = []
    hook = decoder.final_norm.register_forward_pre_hook(
        lambda _, args: entering.append(args[0])
    )
    try:
        with torch.no_grad():
            out = decoder.body(ids, output_hidden_states=True)
    finally:
        hook.remove()
    return torch.stack([*out.hidden_states[:-1], entering[-1]])


# --8<-- [end:states]


# --8<-- [start:lens]
def translate(states: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A_l h_l + b_l at every layer but the last, whose state is the model's own output.

    states: (layers + 1, ..., hidden); weight: (layers, hidden, hidden); bias: (layers, hidden).
    """
    inner = states[:-1].reshape(len(weight), -1, states.shape[-1])
    moved = torch.baddbmm(bias[:, None], inner, weight.transpose(1, 2))
    return torch.cat([moved.reshape(states[:-1].shape), states[-1:]])


def tuned_lens(states: torch.Tensor, weight, bias, lm: LanguageModel) -> torch.Tensor:
    """unembed(norm(A_l h_l + b_l)): (layers + 1, ..., hidden) -> (layers + 1, ..., vocabulary)."""
    decoder = require(lm.model, what="the tuned lens")
    with torch.no_grad():
        return decoder.unembedding(decoder.final_norm(translate(states, weight, bias)))


def identity(layers: int, hidden: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The maps that make the tuned lens the logit lens: A_l = I, b_l = 0."""
    return torch.eye(hidden).repeat(layers, 1, 1), torch.zeros(layers, hidden)


# --8<-- [end:lens]


def readout(states: torch.Tensor, lm: LanguageModel, chunk: int = 256) -> torch.Tensor:
    """The model's readout, unembed(norm(h)), of raw states (n, hidden): logits (n, vocab),
    a chunk of rows at a time (the full vocabulary is wide)."""
    decoder = require(lm.model, what="the tuned lens")
    with torch.no_grad():
        pieces = [decoder.unembedding(decoder.final_norm(p)) for p in states.split(chunk)]
    return torch.cat(pieces)


def final_log_probabilities(last: torch.Tensor, lm: LanguageModel) -> torch.Tensor:
    """The model's own (T = 1) log-probabilities from raw last states (n, hidden): (n, vocab)."""
    return torch.log_softmax(readout(last, lm), dim=-1)


def training_data(lm: LanguageModel, recipe: Recipe = RECIPE):
    """States at every fit position, (layers + 1, n, hidden); the `recipe.vocabulary` tokens
    with the most final probability there, (vocabulary,); and the final log-probabilities of
    those tokens and, last, of all the others together, (n, vocabulary + 1)."""
    ids = corpus.windows(lm.tokenizer, "fit")[:, : recipe.context]
    states = residual_states(ids, lm)[:, :, recipe.skip :].flatten(1, 2)
    final = final_log_probabilities(states[-1], lm)
    vocabulary = final.exp().sum(dim=0).topk(recipe.vocabulary).indices.sort().values
    rest = final.clone()
    rest[:, vocabulary] = -torch.inf
    return states, vocabulary, torch.cat([final[:, vocabulary], rest.logsumexp(-1, True)], -1)


# --8<-- [start:train]
def kl_divergence(target: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
    """KL(target ‖ softmax(logits)) in nats over the last axis; target is log-probabilities."""
    return (target.exp() * (target - torch.log_softmax(logits, dim=-1))).sum(dim=-1)


def lumped_logits(normed, vocabulary, others, unembedding) -> torch.Tensor:
    """Logits of the `vocabulary` tokens and, last, one for all the other tokens together,
    estimated from a uniform sample of them, `others` (a sampled softmax)."""
    weight, shift = unembedding.weight, getattr(unembedding, "bias", None)
    logits = [
        torch.nn.functional.linear(normed, weight[t], None if shift is None else shift[t])
        for t in (vocabulary, others)
    ]
    rest = weight.shape[0] - len(vocabulary)  # each sampled token stands for rest/len(others)
    estimate = logits[1].logsumexp(-1, keepdim=True) + np.log(rest / len(others))
    return torch.cat([logits[0], estimate], dim=-1)


def train(states, vocabulary, target, lm: LanguageModel, recipe: Recipe = RECIPE):
    """Fit A_l, b_l for every layer but the last by Adam on the mean KL(final ‖ lens).

    states: (layers + 1, n, hidden) before the final norm; target: from `training_data`.
    Returns weight (layers, hidden, hidden), bias (layers, hidden) and the training KL per
    step and layer, (steps, layers).
    """
    decoder = require(lm.model, what="the tuned lens")
    outside = torch.ones(decoder.unembedding.weight.shape[0], dtype=torch.bool)
    outside[vocabulary] = False
    outside = outside.nonzero()[:, 0]
    weight, bias = (p.requires_grad_() for p in identity(len(states) - 1, states.shape[-1]))
    optimiser = torch.optim.Adam([weight, bias], lr=recipe.learning_rate)
    generator = torch.Generator().manual_seed(recipe.seed)
    history = []
    for _ in range(recipe.steps):
        rows = torch.randint(states.shape[1], (recipe.batch,), generator=generator)
        others = outside[torch.randint(len(outside), (recipe.others,), generator=generator)]
        normed = decoder.final_norm(translate(states[:, rows], weight, bias)[:-1])
        logits = lumped_logits(normed, vocabulary, others, decoder.unembedding)
        kl = kl_divergence(target[rows], logits).mean(dim=-1)  # one per layer
        # gradients for the maps only: the model's own parameters stay untouched
        weight.grad, bias.grad = torch.autograd.grad(kl.sum(), (weight, bias))
        optimiser.step()
        history.append(kl.detach())
    return weight.detach(), bias.detach(), torch.stack(history)


# --8<-- [end:train]


def fit(lm: LanguageModel, recipe: Recipe = RECIPE) -> dict[str, torch.Tensor]:
    """Train the maps for `lm` (deterministic algorithms, seeded); no cache."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        states, vocabulary, target = training_data(lm, recipe)
        weight, bias, history = train(states, vocabulary, target, lm, recipe)
    finally:
        torch.use_deterministic_algorithms(before)
    return {
        "weight": weight.contiguous(),
        "bias": bias,
        "history": history,
        "vocabulary": vocabulary,
        "positions": torch.tensor([states.shape[1]]),
    }


def cached_step(label: str, suffix: str, compute, write, read, recipe: Recipe):
    """Read a step of this page from the cache, or compute and write it (keyed by this module's
    code, the corpus, the model and the recipe)."""
    name = f"{label}-" + "-".join(f"{v}" for v in asdict(recipe).values())
    path = keys.step_path("tuned-lens", name, [__name__], suffix=suffix, files=(TEXT,))
    if not path.exists():
        atomic_write(path, write(compute()))
    return read(path)


@functools.cache
def translators(recipe: Recipe = RECIPE) -> dict[str, torch.Tensor]:
    """The trained maps for the configured model: from the cache, or trained now."""
    return cached_step(
        "maps", ".safetensors", lambda: fit(load(), recipe), save, load_file, recipe
    )


def held_out_data(lm: LanguageModel, recipe: Recipe = RECIPE):
    """States at `recipe.measured` random positions of every held-out window, (layers + 1,
    windows, measured, hidden), and the token that follows each position, (windows, measured)."""
    ids = corpus.windows(lm.tokenizer, "held_out")[:, : recipe.context]
    generator = torch.Generator().manual_seed(recipe.seed)
    span = recipe.context - 1 - recipe.skip  # positions whose next token is in the window
    positions = recipe.skip + torch.stack(
        [torch.randperm(span, generator=generator)[: recipe.measured] for _ in ids]
    )
    rows = torch.arange(len(ids))[:, None]
    return residual_states(ids, lm)[:, rows, positions], ids[rows, positions + 1]


# --8<-- [start:measure]
def held_out_losses(maps: dict, lm: LanguageModel, recipe: Recipe = RECIPE) -> dict:
    """For the logit lens (identity maps) and the tuned lens (`maps` from `fit`), at every
    layer: KL(final ‖ lens) and the cross-entropy on the text's next token, in nats,
    averaged within each held-out window (the unit): {lens: {loss: (layers + 1, windows)}};
    and the final probability that the training vocabulary holds, per window."""
    states, following = held_out_data(lm, recipe)
    final = final_log_probabilities(states[-1].flatten(0, 1), lm)
    held = final.exp()[:, maps["vocabulary"]].sum(-1).reshape(following.shape).mean(-1)
    lenses = {"logit": identity(*maps["bias"].shape), "tuned": (maps["weight"], maps["bias"])}
    found = {"coverage": held.tolist()}
    for name, maps in lenses.items():
        kl, ce = [], []
        for layer in translate(states, *maps):  # the last layer: the model's own output
            logits = readout(layer.flatten(0, 1), lm)
            kl.append(kl_divergence(final, logits))
            ce.append(-logits.log_softmax(-1).gather(-1, following.reshape(-1, 1))[:, 0])
        found[name] = {
            loss: torch.stack(values).reshape(len(states), *following.shape).mean(-1).tolist()
            for loss, values in (("kl", kl), ("ce", ce))
        }
    return found


# --8<-- [end:measure]


@functools.cache
def losses(recipe: Recipe = RECIPE) -> dict:
    """`held_out_losses` of the trained maps, for the configured model: cached."""

    def compute():
        return held_out_losses(translators(recipe), load(), recipe)

    def write(found):
        return json.dumps(found).encode()

    return cached_step(
        "losses", ".json", compute, write, lambda p: json.loads(p.read_text()), recipe
    )


def layer_intervals(values: list[list[float]]) -> list[Interval]:
    """One loss per layer with its 95 % interval over the held-out windows."""
    return [bootstrap(row) for row in values]


@functools.cache
def loss_intervals() -> dict[str, dict[str, list[Interval]]]:
    found = losses()
    return {
        lens: {loss: layer_intervals(found[lens][loss]) for loss in ("kl", "ce")}
        for lens in ("logit", "tuned")
    }


@figure("tuned-lens-loss.svg", depends=("snippets/data/alice-chapters-1-6.txt",))
def tuned_lens_loss_figure():
    found = loss_intervals()
    fig, axes = new_figure(1, 2, height=3.8)
    panels = (("kl", "KL(final ‖ lens), nats"), ("ce", "cross-entropy on the text, nats"))
    for ax, (loss, label) in zip(axes, panels):
        for colour, lens in zip(PALETTE, found):
            spans = found[lens][loss]
            if loss == "kl":
                spans = spans[:-1]  # zero at the output, for both lenses: off a log axis
            layers = range(len(spans))
            ax.fill_between(
                layers,
                [i.low for i in spans],
                [i.high for i in spans],
                color=colour,
                alpha=0.25,
            )
            ax.plot(layers, [i.estimate for i in spans], color=colour, label=f"{lens} lens")
        ax.set_yscale("log")
        ax.set_xlabel("layer (0 = embeddings)")
        ax.set_ylabel(label)
    axes[0].legend()
    return fig


@functools.cache
def tuned_grid(sentence: str = ll.GRID_SENTENCE) -> dict:
    """`logit_lens.grid`, read through the tuned lens."""
    lm, maps = load(), translators()
    ids = lm.tokenizer(sentence, return_tensors="pt").input_ids
    logits = tuned_lens(residual_states(ids, lm)[:, 0], maps["weight"], maps["bias"], lm)
    return ll.top_grid(logits, ids[0].tolist(), lm.tokenizer)


@figure("tuned-lens-grid.svg", depends=("snippets/data/alice-chapters-1-6.txt",))
def tuned_lens_grid_figure():
    fig, axes = new_figure(1, 2, height=9.0, sharey=True)
    for ax, g, title in zip(axes, (ll.grid(), tuned_grid()), ("logit lens", "tuned lens")):
        image = ll.draw_grid(ax, g, fontsize=5.5, width=4)  # 10 px and up when enlarged
        ax.set_title(title)
        ax.set_xlabel("input token")
    axes[0].set_ylabel("layer (0 = embeddings)")
    fig.colorbar(image, ax=axes, label="probability of the top token", shrink=0.5, pad=0.01)
    return fig


def track_rank(prompt: str, lm: LanguageModel, maps: dict) -> list[int]:
    """The rank of the model's final answer at every layer, read through the tuned lens."""
    ids = lm.tokenizer(prompt, return_tensors="pt").input_ids
    lens = tuned_lens(residual_states(ids, lm)[:, 0, -1], maps["weight"], maps["bias"], lm)
    answer = int(lens[-1].argmax())  # the last layer's lens is the model's own output
    return ((lens > lens[:, [answer]]).sum(dim=-1) + 1).tolist()


def cell(interval: Interval) -> str:
    return f"{interval.estimate:.2f} ({interval.low:.2f}–{interval.high:.2f})"


def loss_table(found: dict, depth: int) -> str:
    """Selected layers: both losses through both lenses, with their 95 % intervals."""
    shown = sorted({*range(0, depth, max(1, depth // 6)), depth - 1, depth})
    header = ["layer", "KL, logit lens", "KL, tuned lens", "CE, logit lens", "CE, tuned lens"]
    rows = [
        [layer, *(cell(found[lens][loss][layer]) for loss in ("kl", "ce") for lens in found)]
        for layer in shown
    ]
    return markdown_table(header, rows, align=["right", None, None, None, None])


@facts("tuned", depends=("snippets/data/alice-chapters-1-6.txt",))
def tuned_facts():
    lm, maps, found = load(), translators(), loss_intervals()
    depth = len(found["logit"]["kl"]) - 1
    mid = depth // 2
    windows = corpus.windows(lm.tokenizer, "held_out")
    kl, ce = ({lens: found[lens][loss] for lens in found} for loss in ("kl", "ce"))
    ranks = track_rank(ll.PROMPTS[0], lm, maps)
    settle = ll.grid_settling_layers(tuned_grid())
    return {
        "positions": f"{int(maps['positions'][0]):,}",
        "fit_windows": str(len(corpus.windows(lm.tokenizer, "fit"))),
        "context": str(RECIPE.context),
        "skip": str(RECIPE.skip),
        "vocabulary": f"{RECIPE.vocabulary:,}",
        "others": f"{RECIPE.others:,}",
        "coverage": bootstrap(losses()["coverage"]).format(digits=0, scale=100, unit=" %"),
        "steps": str(RECIPE.steps),
        "batch": str(RECIPE.batch),
        "learning_rate": f"{RECIPE.learning_rate:g}",
        "held_windows": str(len(windows)),
        "measured": str(RECIPE.measured),
        "held_positions": str(len(windows) * RECIPE.measured),
        "table": loss_table(found, depth),
        "mid_layer": str(mid),
        "kl_logit_mid": kl["logit"][mid].format(),
        "kl_tuned_mid": kl["tuned"][mid].format(),
        "kl_logit_last": kl["logit"][depth - 1].format(),
        "kl_tuned_last": kl["tuned"][depth - 1].format(),
        "ce_logit_mid": ce["logit"][mid].format(),
        "ce_tuned_mid": ce["tuned"][mid].format(),
        "ce_final": ce["tuned"][depth].format(),
        "kl_lower_layers": str(sum(t.high < g.low for t, g in zip(kl["tuned"], kl["logit"]))),
        "first_rank_mid": f"{ranks[mid]:,}",
        "first_settle": str(ll.settling_layer([r == 1 for r in ranks])),
        "grid_answer_layer": str(settle[-1]),
        "grid_median_settle": f"{np.median(settle):.0f}",
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
