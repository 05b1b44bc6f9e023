"""In-context learning, measured: invented tasks, k worked examples, held-out queries.

One forward pass over a sequence of examples scores the model at every example at once: the
prediction for example k is computed from its prefix only, which holds exactly k examples.
"""

import functools
import io
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from snippets.batching import final_hidden_states
from snippets.decoder import parts
from snippets.intervals import Interval, bootstrap
from snippets.plotting import INK, MUTED, PALETTE, new_figure
from snippets.tables import markdown_table
from state_simulators import keys
from state_simulators.artifacts import facts, figure
from state_simulators.cache import atomic_write
from state_simulators.model import LanguageModel, load

K_MAX = 16  # the most examples a query sees
SHOWN_K = (0, 1, 2, 4)  # single columns in the table; the pooled column follows
SEQUENCES = 40  # independent random sequences per task (seeds 0…39): the unit of the intervals
LATE = range(8, K_MAX + 1)  # the examples pooled for "after 8 to 16 examples"

NOUNS = (
    "lamp river stone cloud chair glass tree paper window garden bottle shoe candle mirror "
    "table bridge flower basket hammer pillow rope coin door ladder"
).split()
ANIMALS = (
    "dog cat horse cow sheep goat pig rabbit mouse lion tiger bear wolf fox deer camel zebra "
    "monkey duck goose eagle owl frog snake"
).split()
FOODS = (
    "bread cheese apple banana rice soup pizza pasta salad butter honey cake cookie carrot "
    "potato tomato onion orange lemon grape pear peach egg steak"
).split()
GOOD = (
    "a wonderful film|a delightful meal|great service|a lovely day|an excellent book|a brilliant "
    "idea|a happy ending|a beautiful song|a perfect holiday|a fantastic game|a kind neighbour|a "
    "charming town|a superb concert|a pleasant trip|a friendly dog|a tasty dinner"
).split("|")
BAD = (
    "a terrible film|a disgusting meal|awful service|a miserable day|a boring book|a stupid "
    "idea|a sad ending|an ugly song|a ruined holiday|a dreadful game|a rude neighbour|a filthy "
    "town|a painful concert|a tiring trip|an angry dog|a bland dinner"
).split("|")
LETTERS = tuple("abcdefghijklmnopqrstuvwx")  # no y, z: no wrapping round the alphabet


def _word_groups(size: int) -> tuple[str, ...]:
    rng = random.Random(size)
    return tuple(sorted({" ".join(rng.sample(NOUNS, size)) for _ in range(300)}))


PAIRS, TRIPLES = _word_groups(2), _word_groups(3)


# --8<-- [start:tasks]
@dataclass(frozen=True)
class Task:
    name: str
    example: str  # one worked example, as the model sees it
    inputs: tuple[str, ...]
    answer: Callable[[str], str]
    guess: float  # the score of a guess of the right kind (one of the labels…)


LABEL = {**dict.fromkeys(ANIMALS, "foo"), **dict.fromkeys(FOODS, "bar")}
FLIPPED = {**dict.fromkeys(GOOD, "negative"), **dict.fromkeys(BAD, "positive")}


def swap(x: str) -> str:
    return " ".join(reversed(x.split()))


def middle(x: str) -> str:
    return x.split()[1]


def shift(by: int) -> Callable[[str], str]:
    return lambda letter: chr(ord(letter) + by)


TASKS = (
    Task("swap two words", "lamp river → river lamp", PAIRS, swap, 1 / 2),
    Task("middle of three words", "lamp river stone → river", TRIPLES, middle, 1 / 3),
    Task("next letter", "c → d", LETTERS, shift(1), 1 / 26),
    Task("skip a letter", "c → e", LETTERS, shift(2), 1 / 26),
    Task("invented labels", "horse → foo, bread → bar", tuple(LABEL), LABEL.get, 1 / 2),
    Task("flipped labels", "a lovely day → negative", tuple(FLIPPED), FLIPPED.get, 1 / 2),
)
# --8<-- [end:tasks]


# --8<-- [start:score]
def sequence_inputs(task: Task, seed: int) -> list[str]:
    return random.Random(seed).sample(task.inputs, K_MAX + 1)  # no input twice


def example_sequence(task: Task, seed: int, lm: LanguageModel):
    """K_MAX + 1 examples `input → answer`, one per line, as token ids.

    Also returns, per example, the positions whose next token is in its answer.
    """
    ids, answer_positions = [], []
    for x in sequence_inputs(task, seed):
        ids += lm.tokenizer(f"{x} →").input_ids
        answer = lm.tokenizer(f" {task.answer(x)}").input_ids
        start = len(ids) - 1  # this position predicts the answer's first token
        answer_positions.append(list(range(start, start + len(answer))))
        ids += answer + lm.tokenizer("\n").input_ids
    return ids, answer_positions


def score_task(
    task: Task, sequences: int = SEQUENCES, lm: LanguageModel | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """correct[s, k]: would greedy decoding write the answer after k examples?

    Also returns first[s, k], the token the model puts first in its answer.
    """
    lm = lm or load()
    built = [example_sequence(task, seed, lm) for seed in range(sequences)]
    rows, columns = zip(
        *[
            (row, p)
            for row, (_, answers) in enumerate(built)
            for answer in answers
            for p in answer
        ]
    )
    hidden = final_hidden_states([ids for ids, _ in built], lm)
    with torch.no_grad():  # unembed only the positions that are read
        logits = parts(lm.model).unembedding(hidden[rows, columns])
    predicted = iter(logits.argmax(-1).tolist())
    correct = np.zeros((sequences, K_MAX + 1), dtype=bool)
    first = np.zeros((sequences, K_MAX + 1), dtype=int)
    for row, (ids, answers) in enumerate(built):
        for k, answer in enumerate(answers):
            tokens = [next(predicted) for _ in answer]
            correct[row, k] = tokens == [ids[p + 1] for p in answer]
            first[row, k] = tokens[0]
    return correct, first


# --8<-- [end:score]


def answer_tokens(task: Task, lm: LanguageModel) -> set[int]:
    """The first tokens of every possible answer: for a labelling task, its labels."""
    return {lm.tokenizer(f" {task.answer(x)}").input_ids[0] for x in task.inputs}


@functools.cache
def runs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(correct, first) for every task, for the configured model: cached, as the figure, the
    facts and the tests all read them."""
    path = keys.step_path("in-context", "runs", [__name__], suffix=".npz")
    if not path.exists():
        lm, buffer = load(), io.BytesIO()
        found = {task.name: score_task(task, lm=lm) for task in TASKS}
        np.savez(
            buffer, **{f"{n}/{i}": a for n, pair in found.items() for i, a in enumerate(pair)}
        )
        atomic_write(path, buffer.getvalue())
    with np.load(path) as stored:
        return {
            task.name: (stored[f"{task.name}/0"], stored[f"{task.name}/1"]) for task in TASKS
        }


def results() -> dict[str, np.ndarray]:
    """correct[s, k] for every task: one row per seeded sequence, one column per k."""
    return {name: correct for name, (correct, _) in runs().items()}


def label_format() -> np.ndarray:
    """answered[s, k]: is the invented-labels answer foo or bar at all (right or wrong)?"""
    task = next(t for t in TASKS if t.name == "invented labels")
    labels = answer_tokens(task, load())
    return np.isin(runs()[task.name][1], list(labels))


def first_token_right(task: Task) -> np.ndarray:
    """started[s, k]: does the answer at least start right (for swap: the right word first)?"""
    lm = load()
    first = runs()[task.name][1]
    expected = [
        [ids[answer[0] + 1] for answer in answers]
        for ids, answers in (example_sequence(task, s, lm) for s in range(len(first)))
    ]
    return first == np.array(expected)


def chosen_word(task: Task) -> np.ndarray:
    """Which word of the input the answer starts with (0, 1, 2…; -1: none of them)."""
    lm = load()
    first = runs()[task.name][1]
    chosen = np.full(first.shape, -1)
    for seed in range(first.shape[0]):
        for k, x in enumerate(sequence_inputs(task, seed)):
            words = [lm.tokenizer(f" {w}").input_ids[0] for w in x.split()]
            if first[seed, k] in words:
                chosen[seed, k] = words.index(first[seed, k])
    return chosen


# --8<-- [start:intervals]
def late_rate(outcomes: np.ndarray) -> Interval:
    """The rate of a yes/no outcome (sequences, k) over the pooled k, with its 95 % interval:
    each sequence is one unit (its own rate over those k), never each query."""
    return bootstrap(outcomes[:, list(LATE)].mean(axis=1))


def rate_by_k(outcomes: np.ndarray) -> list[Interval]:
    """The rate at every k, each with its 95 % interval over the sequences."""
    return [bootstrap(column) for column in outcomes.T.astype(float)]


# --8<-- [end:intervals]


def percent(interval: Interval) -> str:
    return interval.format(digits=0, scale=100, unit=" %")


def draw_rate(ax, outcomes: np.ndarray, colour: str, **style) -> None:
    """A rate against k, with its 95 % band over sequences."""
    found = rate_by_k(outcomes)
    k = range(K_MAX + 1)
    ax.fill_between(
        k, [i.low for i in found], [i.high for i in found], color=colour, alpha=0.2
    )
    ax.plot(k, [i.estimate for i in found], color=colour, **style)


@figure("in-context-learning.svg")
def in_context_figure():
    found = results()
    fig, axes = new_figure(2, 3, height=5.0, sharex=True, sharey=True)
    for ax, task in zip(axes.flat, TASKS):  # one colour for accuracy: the legend's, everywhere
        ax.axhline(task.guess, color=MUTED, linestyle=":", linewidth=1.2, label="guessing")
        draw_rate(ax, found[task.name], PALETTE[0], marker="o", markersize=3, label="accuracy")
        if task.name == "invented labels":
            draw_rate(
                ax,
                label_format(),
                INK,
                linestyle="--",
                linewidth=1,
                label="answers foo or bar",
            )
            fig.legend(
                *ax.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=8
            )
        ax.set_title(f"{task.name}\n{task.example.split(',')[0]}", fontsize=9)
        ax.set_ylim(-0.04, 1.04)
        ax.set_xticks([0, 4, 8, 12, 16])
    for ax in axes[1]:
        ax.set_xlabel("examples in context, k")
    for ax in axes[:, 0]:
        ax.set_ylabel("accuracy (95 % band)")
    return fig


def icl_table(found: dict[str, np.ndarray]) -> str:
    late_column = f"k = {LATE[0]}–{LATE[-1]}, pooled (95 % CI)"
    header = ["task", "guessing", *(f"k = {k}" for k in SHOWN_K), late_column]
    rows = []
    for task in TASKS:
        correct = found[task.name]
        late = late_rate(correct)
        rows.append(
            [
                task.name,
                f"{task.guess:.0%}",
                *(f"{correct[:, k].mean():.0%}" for k in SHOWN_K),
                f"**{late.estimate:.0%}** ({late.low:.0%}–{late.high:.0%})",
            ]
        )
    return markdown_table(header, rows)


@facts("icl")
def icl_facts():
    found = results()
    late = {task.name: percent(late_rate(found[task.name])) for task in TASKS}
    labels = label_format()
    middle_words = chosen_word(TASKS[1])
    return {
        "late_from": str(LATE[0]),
        "late_to": str(LATE[-1]),
        "table": icl_table(found),
        "sequences": str(SEQUENCES),
        "k_max": str(K_MAX),
        "tasks": str(len(TASKS)),
        "queries": str(SEQUENCES * (K_MAX + 1)),
        "swap_late": late["swap two words"],
        "swap_first_late": percent(late_rate(first_token_right(TASKS[0]))),
        "middle_late": late["middle of three words"],
        "middle_any_word": percent(late_rate(middle_words >= 0)),
        "middle_last_word": percent(late_rate(middle_words == 2)),
        "next_late": late["next letter"],
        "skip_late": late["skip a letter"],
        "labels_late": late["invented labels"],
        "labels_format_k0": f"{labels[:, 0].mean():.0%}",
        "labels_format_k4": percent(bootstrap(labels[:, 4].astype(float))),
        "labels_format_late": percent(late_rate(labels)),
        "flipped_late": late["flipped labels"],
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
