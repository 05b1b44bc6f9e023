"""Which temperature describes real text best: the held-out loss under softmax(logits / T).

One forward pass over the held-out windows of `snippets.corpus` gives every logit; dividing
them by T and measuring the cross-entropy of the real next tokens gives the loss at each T of a
grid. The loss is smooth in T, so a cubic spline through the grid locates the best T between
grid points. The 95 % interval resamples windows (the unit: tokens within a window are
correlated) and refits T on their summed loss curves, so a resample costs a sum, not a model.
"""

import functools
import io
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from scipy.interpolate import CubicSpline

from snippets import corpus
from snippets.intervals import Interval, bootstrap
from snippets.plotting import MUTED, PALETTE, new_figure
from state_simulators import keys
from state_simulators.artifacts import facts, figure
from state_simulators.cache import atomic_write
from state_simulators.model import LanguageModel, load

# Denser near T = 1, where the minimum lies; every grid point costs one pass over the logits.
GRID = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.2, 1.4, 1.7, 2.0)
STEP = 0.001  # resolution of the fitted T
CHUNK = 2  # windows per forward pass: the logits of one chunk are CHUNK × 256 × vocabulary


@dataclass(frozen=True)
class Scores:
    """Every prediction of the held-out windows, scored.

    `nll`: (len(temperatures), windows, positions) nats, −ln softmax(z / T)[next token];
    `entropy`: (windows, positions) nats, the entropy of the T = 1 distribution. Position i
    predicts token i + 1 of its window, so a window of L tokens has L − 1 positions.
    """

    temperatures: tuple[float, ...]
    nll: np.ndarray
    entropy: np.ndarray

    def at(self, temperature: float) -> np.ndarray:
        """The (windows, positions) losses at one temperature of the grid."""
        return self.nll[self.temperatures.index(temperature)]


# --8<-- [start:scores]
def score_windows(
    ids: torch.Tensor, temperatures: tuple[float, ...], lm: LanguageModel
) -> Scores:
    """Cross-entropy of every next token of `ids` (windows, length) at each temperature.

    One forward pass per chunk of windows; every temperature reuses its logits.
    """
    nll, entropy = [], []
    for chunk in ids.split(CHUNK):
        with torch.no_grad():
            logits = lm.model(chunk).logits[:, :-1].float()  # (chunk, length - 1, vocab)
        flat, targets = logits.flatten(0, 1), chunk[:, 1:].flatten()
        losses = [F.cross_entropy(flat / t, targets, reduction="none") for t in temperatures]
        nll.append(torch.stack(losses).view(len(temperatures), *chunk[:, 1:].shape))
        entropy.append(torch.distributions.Categorical(logits=logits).entropy())
    return Scores(
        tuple(temperatures), torch.cat(nll, dim=1).numpy(), torch.cat(entropy).numpy()
    )


# --8<-- [end:scores]


# --8<-- [start:fit]
def best_temperature(curves: np.ndarray, grid: tuple[float, ...] = GRID) -> np.ndarray:
    """The T that minimises each loss curve: `curves` (..., len(grid)) -> (...).

    A cubic spline through the grid, read every STEP; so a T at the grid's edge means the
    minimum may lie outside it.
    """
    spline = CubicSpline(grid, curves, axis=-1)
    fine = np.arange(grid[0], grid[-1] + STEP / 2, STEP)
    return fine[np.argmin(spline(fine), axis=-1)]


def window_resampler(window_curves: np.ndarray, grid: tuple[float, ...] = GRID):
    """The statistic `intervals.bootstrap` resamples: given window numbers, the best T of
    their summed loss curves. `window_curves` is (windows, len(grid)) summed losses."""

    def statistic(windows: np.ndarray, axis: int = -1) -> np.ndarray:
        picked = window_curves[np.moveaxis(np.asarray(windows, dtype=int), axis, -1)]
        return best_temperature(picked.sum(axis=-2), grid)

    return statistic


def fit(scores: Scores) -> Interval:
    """The best temperature for all windows together, with a 95 % interval over windows."""
    window_curves = scores.nll.sum(axis=-1).T  # (windows, temperatures)
    windows = np.arange(len(window_curves))
    return bootstrap(windows, window_resampler(window_curves, scores.temperatures))


# --8<-- [end:fit]


def scores_path():
    """The cached scores of the held-out windows (they need the model's forward pass)."""
    return keys.step_path("best-temperature", "held-out-scores", [__name__], suffix=".npz")


@functools.cache
def held_out_scores() -> Scores:
    """The held-out windows scored at every grid temperature, computed once and cached."""
    path = scores_path()
    if not path.exists():
        lm = load()
        scores = score_windows(corpus.windows(lm.tokenizer, "held_out"), GRID, lm)
        buffer = io.BytesIO()
        np.savez(buffer, nll=scores.nll, entropy=scores.entropy, grid=np.array(GRID))
        atomic_write(path, buffer.getvalue())
    stored = np.load(path)
    return Scores(tuple(stored["grid"].tolist()), stored["nll"], stored["entropy"])


def mean_curve(scores: Scores) -> np.ndarray:
    """The loss in nats per token at each grid temperature, over every held-out token."""
    return scores.nll.mean(axis=(1, 2))


def window_best(scores: Scores) -> np.ndarray:
    """Each window's own best T (windows,): how much the texts' best temperatures vary."""
    return best_temperature(scores.nll.sum(axis=-1).T, scores.temperatures)


@figure("best-temperature.svg")
def best_temperature_figure():
    scores = held_out_scores()
    found = fit(scores)
    spline = CubicSpline(scores.temperatures, mean_curve(scores))
    fig, (whole, near) = new_figure(1, 2, height=3.2)
    for ax, (low, high) in ((whole, (GRID[0], GRID[-1])), (near, (0.85, 1.3))):
        ts = np.linspace(low, high, 300)
        ax.plot(ts, spline(ts), color=PALETTE[0], label="loss (spline through the grid)")
        grid = [t for t in scores.temperatures if low <= t <= high]
        ax.plot(grid, spline(grid), "o", color=PALETTE[0], markersize=3, label="computed")
        ax.axvspan(found.low, found.high, color=PALETTE[1], alpha=0.3, label="best T, 95 % CI")
        ax.axvline(found.estimate, color=PALETTE[1], linewidth=1)
        ax.axvline(1.0, color=MUTED, linestyle="--", linewidth=0.8, label="T = 1")
        ax.set_xlabel("temperature T applied to every prediction")
    whole.set_ylabel("cross-entropy (nats per token)")
    whole.set_title(f"held-out text, {scores.nll.shape[1]} windows", fontsize=10)
    near.set_title(f"near the minimum: best T = {found.estimate:.2f}", fontsize=10)
    near.legend(fontsize=8, loc="upper center")
    return fig


@facts("best_temperature")
def best_temperature_facts():
    """The numbers the "Does T = 1 fit real text best?" section quotes."""
    scores = held_out_scores()
    found = fit(scores)
    spline = CubicSpline(scores.temperatures, mean_curve(scores))
    windows, positions = scores.entropy.shape
    at_one, at_best = float(spline(1.0)), float(spline(found.estimate))
    own = window_best(scores)
    return {
        "windows": str(windows),
        "window_tokens": str(positions + 1),
        "predictions": f"{windows * positions:,}",
        "best_t": found.format(),
        "loss_1": f"{at_one:.3f}",
        "loss_best": f"{at_best:.3f}",
        "gain": f"{at_one - at_best:.3f}",
        "loss_half": f"{float(spline(0.5)):.2f}",
        "loss_2": f"{float(spline(2.0)):.2f}",
        "entropy_1": f"{scores.entropy.mean():.3f}",
        "windows_above_1": str(int((own > 1).sum())),
        "window_best_low": f"{own.min():.2f}",
        "window_best_high": f"{own.max():.2f}",
        "grid": f"{len(scores.temperatures)}",
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
