"""Many seeded continuations of a few prompts, generated in one batch, and how repetitive they are.

One call to `transformers`' `generate` continues every (prompt, sampler setting, replicate) row
at once. A small logits processor gives each row its own setting (greedy, a
temperature, a truncation: a `snippets.sampling.Samplers`) with transformers' own logits warpers,
and records the probability the untouched model gave every token it drew.
"""

import functools
from dataclasses import dataclass

import torch
import transformers
from torch import Tensor

from snippets.next_token import plain_sampling
from snippets.sampling import GREEDY, Samplers
from state_simulators.model import LanguageModel, load

SEED = 2024
NEW_TOKENS = 96


@dataclass(frozen=True)
class Continuation:
    prompt: str
    setting: Samplers
    replicate: int
    token_ids: tuple[int, ...]
    text: str
    log_probs: tuple[float, ...]  # natural log of the T = 1 probability of each drawn token

    @property
    def mean_log_prob(self) -> float:
        return sum(self.log_probs) / len(self.log_probs)


# --8<-- [start:processor]
class PerRowSampling(transformers.LogitsProcessor):
    """Warp every row of the batch with its own setting (transformers' own
    warpers), and remember the probability the untouched model gave each token
    that was drawn.

    generate hands us the raw logits of step t, and at step t + 1 the token
    it drew at step t: so that token's log-probability is read one step late.
    """

    def __init__(self, settings: list[Samplers]):
        self.warpers = [s.processors() for s in settings]
        self.log_probs: list[Tensor] = []
        self._previous: Tensor | None = None

    def drawn(self, token_ids: Tensor) -> None:
        picked = self._previous.gather(1, token_ids[:, None])[:, 0]
        self.log_probs.append(picked)

    def __call__(self, input_ids: Tensor, scores: Tensor) -> Tensor:
        if self._previous is not None:
            self.drawn(input_ids[:, -1])
        self._previous = torch.log_softmax(scores, dim=-1)
        rows = zip(input_ids, scores, self.warpers)
        return torch.cat([warp(ids[None], row[None]) for ids, row, warp in rows])


# --8<-- [end:processor]


# --8<-- [start:batch]
def continue_batch(
    rows: list[tuple[str | tuple[int, ...], Samplers]],
    new_tokens: int = NEW_TOKENS,
    seed: int = SEED,
    lm: LanguageModel | None = None,
    *,
    fixed_length: bool = False,
):
    """Continue every (prompt, setting) row in one seeded generate call. A prompt
    is text, or token ids (a chat template's); `fixed_length` bans the end-of-text
    token, so every row gets exactly `new_tokens` tokens.

    Returns, per row, the new token ids and their log-probabilities at T = 1
    (with a fixed length: of the model with end-of-text removed)."""
    lm = lm or load()
    batch = left_padded([prompt for prompt, _ in rows], lm.tokenizer)
    processor = PerRowSampling([setting for _, setting in rows])
    transformers.set_seed(seed)
    with torch.no_grad():
        out = lm.model.generate(
            **batch,
            **plain_sampling(1.0, lm.tokenizer),  # the processor does the warping
            logits_processor=[processor],
            max_new_tokens=new_tokens,
            min_new_tokens=new_tokens if fixed_length else 0,  # 0: may stop early
        )
    new = out[:, batch.input_ids.shape[1] :]
    processor.drawn(new[:, -1])
    log_probs = torch.stack(processor.log_probs, dim=1)
    return [(ids.tolist(), lp.tolist()) for ids, lp in zip(new, log_probs)]


# --8<-- [end:batch]


def left_padded(prompts: list[str | tuple[int, ...]], tokenizer) -> dict[str, Tensor]:
    """`input_ids` and `attention_mask` for a batch of text or token-id prompts, padded on
    the left (where generated tokens do not follow the padding)."""
    ids = [tokenizer(p).input_ids if isinstance(p, str) else list(p) for p in prompts]
    return tokenizer.pad({"input_ids": ids}, return_tensors="pt", padding_side="left")


def run(
    plan: list[tuple[str, Samplers]], replicates: int, lm: LanguageModel | None = None
) -> list[Continuation]:
    """Each (prompt, setting) of the plan `replicates` times (greedy once), all in one batch.

    A continuation stops at the end-of-text token, if the model draws one.
    """
    lm = lm or load()
    rows = [
        (prompt, setting, r)
        for prompt, setting in plan
        for r in range(1 if setting.greedy else replicates)
    ]
    results = continue_batch([(prompt, setting) for prompt, setting, _ in rows], lm=lm)
    done = []
    for (prompt, setting, r), (ids, lps) in zip(rows, results):
        end = (
            ids.index(lm.tokenizer.eos_token_id)
            if lm.tokenizer.eos_token_id in ids
            else len(ids)
        )
        done.append(
            Continuation(
                prompt,
                setting,
                r,
                tuple(ids[:end]),
                lm.tokenizer.decode(ids[:end]),
                tuple(lps[:end]),
            )
        )
    return done


# --8<-- [start:measures]
def repeated_ngram_share(token_ids: list[int], n: int = 4) -> float:
    """Share of one text's n-grams that already occurred earlier in it."""
    return len(repeated_starts(token_ids, n)) / (len(token_ids) - n + 1)


def repeated_starts(token_ids: list[int], n: int = 4) -> list[int]:
    """Where the n-grams that repeat an earlier one begin."""
    seen, starts = set(), []
    for i in range(len(token_ids) - n + 1):
        gram = tuple(token_ids[i : i + n])
        if gram in seen:
            starts.append(i)
        seen.add(gram)
    return starts


def distinct_ngrams(texts: list[list[int]], n: int = 2) -> float:
    """Distinct-n: different n-grams / all n-grams, pooled over the texts."""
    grams = [tuple(text[i : i + n]) for text in texts for i in range(len(text) - n + 1)]
    return len(set(grams)) / len(grams)


# --8<-- [end:measures]


def repeated_positions(token_ids: list[int], n: int = 4) -> list[int]:
    """Every token position covered by a repeated n-gram."""
    return sorted({i + j for i in repeated_starts(token_ids, n) for j in range(n)})


# --8<-- [start:feedback]
def probability_by_repeat(
    token_ids: list[int], probabilities: list[float], n: int = 4
) -> dict[int, float]:
    """Mean probability of the token that completes an n-gram, by how many
    times that n-gram had already appeared in the text."""
    seen: dict[tuple, int] = {}
    by_count: dict[int, list[float]] = {}
    for i in range(len(token_ids) - n + 1):
        gram = tuple(token_ids[i : i + n])
        count = seen.get(gram, 0)
        by_count.setdefault(count, []).append(probabilities[i + n - 1])
        seen[gram] = count + 1
    return {count: sum(ps) / len(ps) for count, ps in sorted(by_count.items())}


# --8<-- [end:feedback]


# The experiment that the distributions, temperature and samplers pages share.
STORY = "Once upon a time there was a dear little girl"
LANGUAGE = "I think the best way to learn a new language is"
HISTORY = "The history of the city of"
PROMPTS = (STORY, LANGUAGE, HISTORY)
NAMES = {STORY: "Red-Cap", LANGUAGE: "language", HISTORY: "history"}  # as tables name them
TEMPERATURES = (0.25, 0.5, 1.0, 1.5)
HOT = 1.5
TRUNCATIONS = (Samplers(HOT, top_p=0.9), Samplers(HOT, min_p=0.1))
REPLICATES = 3


@functools.cache
def experiment() -> tuple[Continuation, ...]:
    """Every prompt greedily and at each temperature, plus the story prompt hot with a cut:
    one batch, computed once per process."""
    ladder = (GREEDY, *(Samplers(t) for t in TEMPERATURES))
    plan = [(prompt, s) for prompt in PROMPTS for s in ladder]
    plan += [(STORY, s) for s in TRUNCATIONS]
    return tuple(run(plan, REPLICATES))


def add_arguments(parser) -> None:
    from state_simulators.arguments import positive_int

    parser.add_argument("--prompt", default=STORY)
    parser.add_argument(
        "--temperature", type=float, default=None, help="default: greedy, one continuation"
    )
    parser.add_argument("--replicates", type=positive_int, default=3)
    parser.add_argument("--tokens", type=positive_int, default=40)


def demo(args, console) -> None:
    """`python -m snippets.continuations`: a few continuations of one prompt, and their loops."""
    lm = load()
    setting = GREEDY if args.temperature is None else Samplers(args.temperature)
    rows = [(args.prompt, setting)] * (1 if args.temperature is None else args.replicates)
    for number, (ids, _) in enumerate(continue_batch(rows, args.tokens, SEED, lm)):
        share = repeated_ngram_share(ids) if len(ids) >= 4 else 0.0
        console.rule(f"{setting.label}, row {number}: {share:.0%} of its 4-grams repeat")
        console.print(args.prompt + lm.tokenizer.decode(ids), highlight=False, markup=False)


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
