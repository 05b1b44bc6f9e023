"""Self-reinforcement of repetition, measured under control: put a sentence k times in the context
and read how likely the model finds one more copy of it.

After Xu et al. (2022), "Learning to Break the Loop: Analyzing and Mitigating Repetitions for
Neural Text Generation", NeurIPS 2022: their measure is the mean probability the model gives the
tokens of the next copy (TP), and their control is sentences of random tokens. Here: natural
sentences against random-word sentences of the same length in tokens, k = 0 … COPIES, with the
sentence as the unit of every interval.
"""

import functools
import re

import numpy as np
import torch

from snippets.intervals import bootstrap
from snippets.plotting import PALETTE, new_figure
from state_simulators.artifacts import facts, figure
from state_simulators.model import LanguageModel, load

COPIES = 10  # the longest context holds this many copies before the one that is scored
LEAD = "Notes:"  # a short neutral start, so that the first copy's first token has a context
SEED = 0
SENTENCES = (
    "The old bridge over the river was closed for repairs last spring.",
    "She poured the tea and asked whether anyone had seen her glasses.",
    "Most of the village gathered in the square when the bells rang.",
    "A sudden wind scattered the papers across the kitchen floor.",
    "He planted tomatoes along the fence because they needed the sun.",
    "The train to the coast was late again, so we walked to the harbour.",
    "Water boils at a lower temperature at the top of a high mountain.",
    "The committee will publish its report at the end of the month.",
    "My brother keeps a small notebook of every bird he has seen.",
    "After the storm, the fishermen mended their nets on the beach.",
    "Press the red button twice to reset the alarm on the back door.",
    "Children in the next street were building a snowman with a red scarf.",
)
WORD_TOKEN = re.compile(r" [a-z]{3,}")  # a vocabulary token that is a whole lower-case word


# --8<-- [start:copies]
def copy_probabilities(
    copy: list[int], lead: list[int], copies: int = COPIES, lm: LanguageModel | None = None
) -> np.ndarray:
    """The probability of every token of copy k + 1 of a sentence, given the
    lead and k earlier copies, for k = 0 … copies: shape (copies + 1,
    tokens of one copy). One forward pass over lead + (copies + 1) copies
    gives them all, since each position sees only what precedes it."""
    lm = lm or load()
    ids = torch.tensor(lead + copy * (copies + 1))
    with torch.no_grad():
        logits = lm.model(ids[None]).logits[0, len(lead) - 1 : -1]
    log_p = torch.log_softmax(logits.double(), dim=-1).gather(1, ids[len(lead) :, None])
    return log_p.exp().reshape(copies + 1, len(copy)).numpy()


# --8<-- [end:copies]


def sentence_ids(sentence: str, tokenizer) -> list[int]:
    """One copy as the tokenizer writes it inside running text: with its leading space."""
    return tokenizer(" " + sentence).input_ids


@functools.cache
def word_tokens(tokenizer) -> tuple[int, ...]:
    """The vocabulary's tokens that are a space and a whole lower-case word, and that the
    tokenizer writes as themselves: the material of the random-word control."""
    texts = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
    return tuple(
        i
        for i, text in enumerate(texts)
        if WORD_TOKEN.fullmatch(text) and tokenizer(text).input_ids == [i]
    )


def random_sentence(tokens: int, tokenizer, rng: np.random.Generator) -> list[int]:
    """A random-word sentence of `tokens` tokens: tokens - 1 random word tokens and a full stop."""
    words = rng.choice(word_tokens(tokenizer), size=tokens - 1).tolist()
    return words + tokenizer(".").input_ids


def sentence_sets(lm: LanguageModel | None = None) -> dict[str, list[list[int]]]:
    """The natural sentences and, for each, a random-word sentence of the same length in tokens
    (seeded), as token ids of one copy."""
    lm = lm or load()
    natural = [sentence_ids(s, lm.tokenizer) for s in SENTENCES]
    rng = np.random.default_rng(SEED)
    control = [random_sentence(len(ids), lm.tokenizer, rng) for ids in natural]
    return {"natural": natural, "random words": control}


@functools.cache
def measured() -> dict[str, list[np.ndarray]]:
    """Kind -> one array per sentence of the probabilities of every copy's tokens, each of
    shape (COPIES + 1, tokens of one copy); sentences differ in length."""
    lm = load()
    lead = lm.tokenizer(LEAD).input_ids
    return {
        kind: [copy_probabilities(ids, lead, COPIES, lm) for ids in sentences]
        for kind, sentences in sentence_sets(lm).items()
    }


def token_probability(per_sentence: list[np.ndarray]) -> np.ndarray:
    """TP (Xu et al.): the mean probability of a copy's tokens; shape (sentences, COPIES + 1)."""
    return np.array([p.mean(axis=1) for p in per_sentence])


def first_token(per_sentence: list[np.ndarray]) -> np.ndarray:
    """The probability of the next copy's first token, the decision to start one more copy;
    shape (sentences, COPIES + 1)."""
    return np.array([p[:, 0] for p in per_sentence])


def whole_copy(per_sentence: list[np.ndarray]) -> np.ndarray:
    """The probability of the whole next copy; shape (sentences, COPIES + 1)."""
    return np.array([p.prod(axis=1) for p in per_sentence])


PANELS = {
    "mean probability of the next copy's tokens (TP)": token_probability,
    "probability of the next copy's first token": first_token,
}


@figure("self-reinforcement.svg")
def self_reinforcement_figure():
    fig, axes = new_figure(1, 2, height=3.6, sharey=True)
    k = np.arange(COPIES + 1)
    for ax, (label, measure) in zip(axes, PANELS.items()):
        for (kind, per_sentence), colour in zip(measured().items(), PALETTE):
            intervals = [bootstrap(column) for column in measure(per_sentence).T]
            ax.errorbar(
                k,
                [i.estimate for i in intervals],
                yerr=np.array([i.errors for i in intervals]).T,
                color=colour,
                marker="o",
                markersize=3,
                capsize=2,
                label=f"{kind} ({len(per_sentence)})",
            )
        ax.set_xticks(k[::2])
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("copies already in the context (k)")
        ax.set_title(label, fontsize=9)
    axes[0].set_ylabel("probability")
    axes[1].legend(loc="lower right", title="sentences; 95 % intervals", fontsize=8)
    return fig


def kind_facts(key: str, per_sentence: list[np.ndarray]) -> dict[str, str]:
    """TP at k = 0, 1 and COPIES; its rise after the first copy, per sentence; the first
    token of the next copy at k = 1 and COPIES; the whole last copy."""
    tp, whole = token_probability(per_sentence), whole_copy(per_sentence)
    first = first_token(per_sentence)
    return {
        f"{key}_first_1": bootstrap(first[:, 1]).format(3),
        f"{key}_first_last": bootstrap(first[:, -1]).format(),
        f"{key}_tp_0": bootstrap(tp[:, 0]).format(3),
        f"{key}_tp_1": bootstrap(tp[:, 1]).format(),
        f"{key}_tp_last": bootstrap(tp[:, -1]).format(),
        f"{key}_rise": bootstrap(tp[:, -1] - tp[:, 1]).format(),
        f"{key}_rising": str(int((tp[:, -1] > tp[:, 1]).sum())),
        f"{key}_whole_last": bootstrap(whole[:, -1]).format(),
    }


@facts("repetition")
def repetition_facts():
    """The self-reinforcement numbers docs/distributions.md quotes (the sentence is the unit)."""
    tokenizer = load().tokenizer
    sets = measured()
    control = sentence_sets()["random words"][0]
    lengths = [p.shape[1] for p in sets["natural"]]
    return (
        {
            "copies": str(COPIES),
            "sentences": str(len(SENTENCES)),
            "lead": LEAD,
            "example": SENTENCES[0],
            "random_example": tokenizer.decode(control).strip(),
            "tokens": f"{min(lengths)}–{max(lengths)}",
        }
        | kind_facts("natural", sets["natural"])
        | kind_facts("random", sets["random words"])
    )


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
