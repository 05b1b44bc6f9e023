"""In-context learning, measured: invented tasks, k worked examples, held-out queries.

One forward pass over a sequence of examples scores the model at every example at once: the
prediction for example k is computed from its prefix only, which holds exactly k examples.
"""

import functools
import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from snippets.batching import final_hidden_states
from snippets.decoder import parts
from snippets.plotting import INK, MUTED, PALETTE, new_figure
from snippets.tables import markdown_table
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

K_MAX = 16  # the most examples a query sees
SHOWN_K = (0, 1, 2, 4)  # single columns in the table; the pooled column follows
SEQUENCES = 12  # independent random sequences per task (seeded)
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
    lm = load()
    return {task.name: score_task(task, lm=lm) for task in TASKS}


def results() -> dict[str, np.ndarray]:
    """Accuracy against k for every task (mean over the seeded sequences)."""
    return {name: correct.mean(axis=0) for name, (correct, _) in runs().items()}


def label_format() -> np.ndarray:
    """How often the invented-labels task is answered with foo or bar at all, against k."""
    task = next(t for t in TASKS if t.name == "invented labels")
    labels = answer_tokens(task, load())
    return np.isin(runs()[task.name][1], list(labels)).mean(axis=0)


def first_token_right(task: Task) -> np.ndarray:
    """How often the answer at least starts right (for swap: the right word first), against k."""
    lm = load()
    expected = [
        [ids[answer[0] + 1] for answer in answers]
        for ids, answers in (example_sequence(task, s, lm) for s in range(SEQUENCES))
    ]
    return (runs()[task.name][1] == np.array(expected)).mean(axis=0)


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


def late_accuracy(curve: np.ndarray) -> float:
    return float(curve[list(LATE)].mean())


@figure("in-context-learning.svg")
def in_context_figure():
    found = results()
    fig, axes = new_figure(2, 3, height=5.0, sharex=True, sharey=True)
    for ax, task, colour in zip(axes.flat, TASKS, PALETTE):
        ax.axhline(task.guess, color=MUTED, linestyle=":", linewidth=1.2, label="guessing")
        ax.plot(
            range(K_MAX + 1),
            found[task.name],
            "o-",
            color=colour,
            markersize=3,
            label="accuracy",
        )
        if task.name == "invented labels":
            ax.plot(
                range(K_MAX + 1),
                label_format(),
                "--",
                color=INK,
                linewidth=1,
                label="answers foo or bar at all",
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
        ax.set_ylabel("accuracy")
    return fig


@facts("icl")
def icl_facts():
    found = results()
    late_column = f"k = {LATE[0]}–{LATE[-1]}, pooled"
    header = ["task", "guessing", *(f"k = {k}" for k in SHOWN_K), late_column]
    rows = [
        [
            task.name,
            f"{task.guess:.0%}",
            *(f"{found[task.name][k]:.0%}" for k in SHOWN_K),
            f"**{late_accuracy(found[task.name]):.0%}**",
        ]
        for task in TASKS
    ]
    late = {task.name: late_accuracy(found[task.name]) for task in TASKS}
    labels = label_format()
    middle_words = chosen_word(TASKS[1])[:, list(LATE)]
    return {
        "late_from": str(LATE[0]),
        "late_to": str(LATE[-1]),
        "labels_format_k4": f"{labels[4]:.0%}",
        "table": markdown_table(header, rows),
        "sequences": str(SEQUENCES),
        "k_max": str(K_MAX),
        "tasks": str(len(TASKS)),
        "queries": str(SEQUENCES * (K_MAX + 1)),
        "pooled": str(SEQUENCES * len(LATE)),
        "swap_late": f"{late['swap two words']:.0%}",
        "swap_first_late": f"{late_accuracy(first_token_right(TASKS[0])):.0%}",
        "middle_late": f"{late['middle of three words']:.0%}",
        "middle_any_word": f"{(middle_words >= 0).mean():.0%}",
        "middle_last_word": f"{(middle_words == 2).mean():.0%}",
        "next_late": f"{late['next letter']:.0%}",
        "skip_late": f"{late['skip a letter']:.0%}",
        "labels_late": f"{late['invented labels']:.0%}",
        "labels_format_k0": f"{labels[0]:.0%}",
        "labels_format_late": f"{late_accuracy(labels):.0%}",
        "flipped_late": f"{late['flipped labels']:.0%}",
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
