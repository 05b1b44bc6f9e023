"""One helper for every interval on the site: a 95 % bootstrap interval over the unit of resampling.

The unit is what varies independently between repetitions of an experiment: the item (a story,
a sum), the prompt, the held-out window of text — never the token, whose values within one
text are correlated. Average within a unit first, then pass one value per unit.

Uses `scipy.stats.bootstrap` (percentile method, fixed seed so figures are byte-identical).
Efron & Tibshirani (1993), *An Introduction to the Bootstrap*, ch. 13.
"""

from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000
SEED = 0


@dataclass(frozen=True)
class Interval:
    """A statistic over `n` units and its 95 % bootstrap interval [low, high]."""

    estimate: float
    low: float
    high: float
    n: int

    def format(self, digits: int = 2, scale: float = 1.0, unit: str = "") -> str:
        """E.g. "0.42 (95 % CI 0.35–0.49)"; `scale=100, unit=" %"` writes percentages."""
        e, lo, hi = (f"{v * scale:.{digits}f}" for v in (self.estimate, self.low, self.high))
        return f"{e}{unit} (95 % CI {lo}–{hi}{unit})"

    @property
    def errors(self) -> tuple[float, float]:
        """(below, above) distances from the estimate: matplotlib's `yerr` for one point."""
        return self.estimate - self.low, self.high - self.estimate


# --8<-- [start:bootstrap]
def bootstrap(
    values: Sequence[float], statistic: Callable = np.mean, *, seed: int = SEED
) -> Interval:
    """The statistic of `values` (one per unit) with its 95 % percentile bootstrap interval.

    `statistic` takes an array and an `axis` keyword (np.mean, np.median). Raises ValueError
    for fewer than 2 values or a NaN. With identical values the interval has zero width.
    """
    data = np.asarray(values, dtype=float)
    if data.ndim != 1 or len(data) < 2 or np.isnan(data).any():
        raise ValueError(
            f"an interval needs 2 or more numbers, one per unit; got {data.shape}"
        )
    estimate = float(statistic(data, axis=0))
    if np.all(data == data[0]):  # scipy warns on a degenerate sample; the answer is exact
        return Interval(estimate, estimate, estimate, len(data))
    result = stats.bootstrap(
        (data,),
        statistic,
        confidence_level=CONFIDENCE,
        n_resamples=RESAMPLES,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    low, high = result.confidence_interval
    return Interval(estimate, float(low), float(high), len(data))


# --8<-- [end:bootstrap]


def unit_means(values: Iterable[float], units: Iterable[Hashable]) -> list[float]:
    """The mean of `values` within each unit, in order of first appearance: what `bootstrap`
    takes when an experiment has several measurements (seeds, tokens) per unit."""
    groups: dict[Hashable, list[float]] = defaultdict(list)
    for value, unit in zip(values, units, strict=True):
        groups[unit].append(value)
    return [float(np.mean(g)) for g in groups.values()]
