"""The paper's findings beside the model's (docs/layers-as-painters.md, "The paper beside this
model"). Each rule is checked on made-up results where its verdict is known, then (claims) on
the embedded model's real results."""

import re
from pathlib import Path

import pytest
import torch

from snippets import layer_findings as F
from snippets import layers as L

PAGE = Path(__file__).resolve().parents[1] / "docs" / "layers-as-painters.md"
BASE = 4.0  # the made-up intact model's loss, nats per token
DEPTH = L.MIN_DEPTH + 1
MID = list(L.middle_layers(DEPTH))
SKIP = [3.0, 2.0, *[0.1] * (DEPTH - 3), 1.0]  # what skipping each layer costs
VARIANT = {  # what each surgery costs on the smallest block; it doubles with each size
    "skip": 0.5,
    "repeat": 1.5,
    "reverse": 0.3,
    "shuffle": 0.2,
    "parallel": 0.25,
    "looped parallel": 0.15,
}


def scores(cost: float, facts: int = 4, sums: int = 4, fact_drop=None, sum_drop=None) -> L.Scores:
    """Scores on 4 facts and 4 sums, `facts` and `sums` of them right; the right answers'
    log p falls by `fact_drop` and `sum_drop` nats (by default cost / 2 and 2 * cost)."""
    right = lambda n: tuple(i < n for i in range(4))  # noqa: E731
    logp = lambda drop: tuple(-drop - 0.01 * i for i in range(4))  # noqa: E731
    fact_drop = cost / 2 if fact_drop is None else fact_drop
    sum_drop = 2 * cost if sum_drop is None else sum_drop
    return L.Scores(BASE + cost, (BASE + cost,), right(facts), right(sums), logp(fact_drop), logp(sum_drop))


SAME = torch.randn(2, 6, 8, generator=torch.Generator().manual_seed(0))  # one state, every layer
DRIFTING = tuple(torch.randn(DEPTH + 1, 2, 6, 8, generator=torch.Generator().manual_seed(1)))  # unrelated


def made_up(skip=SKIP, variant=VARIANT, parallel_sums: int = 1, states=None) -> L.Results:
    """Results in which every finding of the paper holds as stated."""
    variants = {
        (v, n): tuple(
            scores(c * 2**k, sums=parallel_sums if "parallel" in v else 0)
            if parallel_sums < 4 or "parallel" not in v
            else scores(c * 2**k, sum_drop=c * 2**k / 2)  # sums no worse than facts
            for _ in (L.SEEDS if v == "shuffle" else (0,))
        )
        for v, c in variant.items()
        for k, n in enumerate(L.SIZES)
    }
    singles = tuple(scores(c, sums=0 if i in MID[:5] else 4) for i, c in enumerate(skip))
    states = states or (SAME,) * (DEPTH + 1)
    return L.Results(DEPTH, scores(0), singles, variants, 5, scores(0), scores(0), states, 0, 0.0)


def with_skip(**changes: float) -> list[float]:
    """SKIP with some layers' costs changed: with_skip(l3=5.0)."""
    skip = list(SKIP)
    for name, cost in changes.items():
        skip[int(name[1:])] = cost
    return skip


def test_a_verdict_is_agrees_partly_or_differs():
    assert F.verdict(True) == F.verdict(True, partly=True) == "agrees"
    assert F.verdict(False, partly=True) == "partly"
    assert F.verdict(False) == "differs"


def test_where_every_rule_holds_every_finding_agrees():
    found = F.findings(made_up())
    assert [f.verdict for f in found] == ["agrees"] * len(F.FINDINGS)
    assert found[0].ours.startswith("Skipping layer 0 raises the loss by 3.00 nats")
    assert "(next: layer 1, +2.00)" in found[0].ours


@pytest.mark.parametrize(
    "finding, results, expected, text",
    [
        (F.first_layer, made_up(with_skip(l3=5.0)), "differs", "layer 3 costs more (5.00)"),
        (F.last_layer, made_up(with_skip(l4=1.5)), "partly", "(not layer 4)."),
        (F.last_layer, made_up(with_skip(**{f"l{i}": 2 for i in MID[:5]})), "differs", "3 of the 8"),
        (F.shared_space, made_up(with_skip(l4=1.0, l5=1.0)), "partly", "layers 4, 5 more."),
        (F.shared_space, made_up(with_skip(**{f"l{i}": 1 for i in MID[:5]})), "differs", "3 of 8"),
        (F.skip_few, made_up(variant={**VARIANT, "skip": 0.7}), "differs", "costs 0.70 nats"),
        (F.repeat_worst, made_up(variant={**VARIANT, "skip": 2.0}), "differs", "not always"),
        (F.order, made_up(variant={**VARIANT, "reverse": 0}), "differs", "reversed at 0 of 4"),
        (F.parallel, made_up(parallel_sums=4), "partly", "-0.12 for sums"),
        (F.parallel, made_up(variant={**VARIANT, "parallel": 0.6}), "differs", "cost 0.60"),
        (F.looping, made_up(variant={**VARIANT, "looped parallel": 0.25}), "differs", "at 0 of"),
        (F.mildest, made_up(variant={**VARIANT, "shuffle": 0.26}), "partly", "at 0 of 4 sizes"),
        (F.mildest, made_up(variant={**VARIANT, "reverse": 0.1}), "differs", "them at 0."),
        (F.maths, made_up(parallel_sums=4), "agrees", "nats for 4 sums"),
        (F.shared_space, made_up(states=DRIFTING), "partly", "CKA"),
    ],
)
def test_each_rule_sets_the_verdict_its_numbers_call_for(finding, results, expected, text):
    found = finding(results)
    assert found.verdict == expected
    assert text in found.ours, found.ours


def test_looping_that_helps_at_some_sizes_holds_in_part():
    results = made_up()
    for n in L.SIZES[1:]:  # as costly as the single pass from the second size on
        results.variants["looped parallel", n] = results.variants["parallel", n]
    assert F.looping(results).verdict == "partly"
    assert "at 1 of 4 sizes" in F.looping(results).ours


def test_maths_differs_when_sums_survive_better_than_facts():
    results = made_up()
    singles = tuple(scores(c, fact_drop=3 * c, sum_drop=c / 10) for c in SKIP)
    worse = scores(1, fact_drop=3, sum_drop=0.1)  # facts lose more
    variants = {k: (worse,) * len(v) for k, v in results.variants.items()}
    results = L.Results(**{**vars(results), "skip_one": singles, "variants": variants})
    assert F.maths(results).verdict == "differs"


def test_the_table_has_a_row_per_finding_with_its_mark():
    found = F.findings(made_up())
    table = F.findings_table(found, "Tiny|LM")
    lines = table.splitlines()
    assert lines[0] == "| Sun et al. (Llama 2, benchmarks) | Tiny\\|LM, this page's data | Verdict |"
    assert len(lines) == 2 + len(found)
    assert all(line.endswith("| ● agrees |") for line in lines[2:])
    assert F.MARKS["partly"] in F.findings_table([F.Finding("a", "b", "partly")], "m")


# On the embedded model.


@pytest.fixture(scope="module")
def results():
    return L.experiments()


@pytest.mark.claim
def test_the_verdicts(results):
    assert [f.verdict for f in F.findings(results)] == [
        "agrees",  # first layer
        "partly",  # last layer: the special middle layer costs more
        "partly",  # shared space: a few middle layers cost more than 10 %
        "differs",  # a few skipped: only 36 of 61 facts stay right
        "agrees",  # repeat is worst
        "agrees",  # order matters somewhat
        "agrees",  # parallel, except maths
        "agrees",  # looping helps
        "partly",  # shuffle and looped parallel mildest: looped always, shuffle not always
        "agrees",  # maths most fragile
    ]


def test_the_numbers_the_page_quotes(results):
    facts = F.findings_facts()
    assert facts["table"].count("\n") == 1 + len(F.FINDINGS) == 1 + int(facts["count"])
    assert int(facts["agrees"]) + int(facts["partly"]) <= int(facts["count"])
    used = set(re.findall(r"\{\{\s*layer-findings\.(\w+)\s*\}\}", PAGE.read_text()))
    assert used == set(facts)
