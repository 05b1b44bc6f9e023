"""A linear probe of the story state: at the last token of a story, is the value the story
(read as a whole) makes valid decodable from the residual stream, layer by layer?

The stories and conditions are `snippets.stories`; the residual stream comes from the same
batched pass that gives the state-simulators page its probabilities
(`snippets.state_simulators.readings`). A probe per layer (scikit-learn's
LogisticRegression over the values) is trained on some pairs of values and tested on the
others; it is scored on whether it ranks the valid value above the other value of the story.
"""

import functools
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from snippets import stories
from snippets.intervals import Interval, bootstrap
from snippets.plotting import MUTED, PALETTE, new_figure
from snippets.state_simulators import Readings, readings, recency_agrees
from state_simulators import keys
from state_simulators.artifacts import facts, figure

SEED = 0
AGAINST = [j for j, c in enumerate(stories.CONDITIONS) if not recency_agrees(c)]
AGREE = [j for j, c in enumerate(stories.CONDITIONS) if recency_agrees(c)]
# where the valid value is the second one stated: a probe that read "the first value" fails here
SECOND = [j for j, c in enumerate(stories.CONDITIONS) if c.valid == "Y"]


# --8<-- [start:probe]
def labels(items: list[stories.Item]) -> tuple[np.ndarray, np.ndarray]:
    """The valid value and the other value of every (item, condition): two (items, conditions)
    arrays of strings."""
    valid = [[i.value(c.valid) for c in stories.CONDITIONS] for i in items]
    other = [
        [i.value("Y" if c.valid == "X" else "X") for c in stories.CONDITIONS] for i in items
    ]
    return np.array(valid), np.array(other)


def probe_scores(
    features: np.ndarray, valid: np.ndarray, other: np.ndarray, folds: np.ndarray, seed=None
) -> np.ndarray:
    """Cross-validated: for each row of `features` (rows, hidden), does a probe trained on
    the other folds score the row's valid value above its other value? `seed` shuffles the
    training labels (the baseline a probe reaches with no information). Returns (rows,) bool.
    """
    right = np.zeros(len(features), dtype=bool)
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        targets = valid[train]
        if seed is not None:
            targets = np.random.default_rng(seed + int(fold)).permutation(targets)
        probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.01, max_iter=1000))
        probe.fit(features[train], targets)
        scores = probe.decision_function(features[test])
        column = {c: k for k, c in enumerate(probe.classes_)}
        rows = np.arange(test.sum())
        right[test] = (
            scores[rows, [column[v] for v in valid[test]]]
            > scores[rows, [column[v] for v in other[test]]]
        )
    return right


# --8<-- [end:probe]


@dataclass(frozen=True)
class ProbeResult:
    states: list[int]  # the states probed: 0 = embeddings, l = after layer l
    right: (
        np.ndarray
    )  # (states, items, conditions) bool: the probe ranks the valid value first
    shuffled: np.ndarray  # the same, trained on shuffled labels
    model: np.ndarray  # (items, conditions) bool: the model's own output does


def run_probe(items: list[stories.Item], found: Readings) -> ProbeResult:
    """A probe per state (embeddings, then after every layer); folds hold out one pair of
    values of every kind at a time, both orders and every condition together."""
    valid, other = labels(items)
    n_conditions = len(stories.CONDITIONS)
    folds = np.repeat([item.pair for item in items], n_conditions)
    flat_valid, flat_other = valid.ravel(), other.ravel()
    depth = len(found.states) - 1
    states = list(range(depth + 1))
    right, shuffled = [], []
    for features in found.states[states]:
        rows = features.reshape(-1, features.shape[-1])
        right.append(probe_scores(rows, flat_valid, flat_other, folds))
        shuffled.append(probe_scores(rows, flat_valid, flat_other, folds, seed=SEED))
    shape = (len(states), len(items), n_conditions)
    model = np.where(
        [[c.valid == "X" for c in stories.CONDITIONS]],
        found.p_first > found.p_second,
        found.p_second > found.p_first,
    )
    return ProbeResult(states, np.reshape(right, shape), np.reshape(shuffled, shape), model)


@functools.cache
def probe() -> ProbeResult:
    """`run_probe` on every story, cached on disk: the figure, the facts and the tests share
    one set of fits."""
    path = keys.step_path("probe", "results", [__name__], suffix=".npz")
    saved = keys.cached_arrays(path, lambda: vars(run_probe(stories.items(), readings())))
    return ProbeResult(**{**saved, "states": saved["states"].tolist()})


def accuracy(right: np.ndarray, conditions: list[int]) -> Interval:
    """Accuracy over the given conditions, item as the unit: (items, conditions) -> interval."""
    return bootstrap(right[:, conditions].mean(axis=1))


@figure("logit-lens-probe.svg")
def probe_figure():
    found = probe()
    fig, ax = new_figure(height=3.8)
    layers = found.states
    for right, conditions, colour, label in (
        (found.right, AGREE, PALETTE[0], "probe, recency agrees with the valid value"),
        (found.right, AGAINST, PALETTE[3], "probe, recency picks the other value"),
        (found.right, SECOND, PALETTE[2], "probe, the valid value is the second stated"),
        (found.shuffled, AGREE + AGAINST, MUTED, "probe on shuffled labels"),
    ):
        intervals = [accuracy(r, conditions) for r in right]
        ax.plot(layers, [i.estimate for i in intervals], color=colour, label=label)
        ax.fill_between(
            layers,
            [i.low for i in intervals],
            [i.high for i in intervals],
            color=colour,
            alpha=0.2,
        )
    for conditions, colour in (
        (AGREE, PALETTE[0]),
        (AGAINST, PALETTE[3]),
        (SECOND, PALETTE[2]),
    ):
        ax.axhline(accuracy(found.model, conditions).estimate, color=colour, linestyle=":")
    ax.set_ylim(0, 1)
    ax.set_xlabel("state (0 = embeddings, l = after layer l)")
    ax.set_ylabel("valid value ranked first")
    ax.set_title(
        f"Linear probe at the last token ({found.right.shape[1]} stories; dotted: the model's output)",
        fontsize=9,
    )
    ax.legend(loc="lower left", fontsize=7.5)
    return fig


@facts("probe")
def probe_facts():
    found = probe()
    last = len(found.states) - 1
    best = max(range(last + 1), key=lambda s: accuracy(found.right[s], AGAINST).estimate)
    return {
        "items": str(found.right.shape[1]),
        "rows": str(found.right.shape[1] * found.right.shape[2]),
        "against_best_layer": str(found.states[best]),
        "against_best": accuracy(found.right[best], AGAINST).format(
            digits=0, scale=100, unit=" %"
        ),
        "against_last": accuracy(found.right[last], AGAINST).format(
            digits=0, scale=100, unit=" %"
        ),
        "second_best": accuracy(found.right[best], SECOND).format(
            digits=0, scale=100, unit=" %"
        ),
        "second_last": accuracy(found.right[last], SECOND).format(
            digits=0, scale=100, unit=" %"
        ),
        "model_second": accuracy(found.model, SECOND).format(digits=0, scale=100, unit=" %"),
        "agree_last": accuracy(found.right[last], AGREE).format(
            digits=0, scale=100, unit=" %"
        ),
        "against_embed": accuracy(found.right[0], AGAINST).format(
            digits=0, scale=100, unit=" %"
        ),
        "shuffled_last": accuracy(found.shuffled[last], AGREE + AGAINST).format(
            digits=0, scale=100, unit=" %"
        ),
        "model_against": accuracy(found.model, AGAINST).format(digits=0, scale=100, unit=" %"),
        "model_agree": accuracy(found.model, AGREE).format(digits=0, scale=100, unit=" %"),
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
