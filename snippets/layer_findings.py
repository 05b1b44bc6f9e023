"""The findings of Sun et al., "Transformer Layers as Painters", beside this model's numbers.

One function per finding reads the layer experiments (snippets/layers.py) and returns the
claim, what this model does, and a verdict. Every verdict comes from a rule stated in code —
`verdict(agrees=…, partly=…)` — applied to the numbers, never from a judgement made by hand.
"""

from dataclasses import dataclass

import numpy as np

from snippets.layers import (
    LOOPS,
    SEEDS,
    SIZES,
    VARIANTS,
    Results,
    change,
    cost,
    experiments,
    linear_cka,
    middle_layers,
    more_fragile,
    similarity,
    skip_costs,
    variant_nll,
)
from snippets.tables import markdown_table
from state_simulators.artifacts import facts
from state_simulators.model import load

MARKS = {"agrees": "● agrees", "partly": "◐ partly", "differs": "○ differs"}


# --8<-- [start:rule]
@dataclass(frozen=True)
class Finding:
    claim: str  # the finding as Sun et al. state it for Llama 2
    ours: str  # what this model does, with the numbers
    verdict: str  # "agrees", "partly" or "differs"


def verdict(agrees: bool, partly: bool = False) -> str:
    """The verdict of a stated rule: "agrees" if it holds, "partly" if its weaker form does,
    else "differs"."""
    return "agrees" if agrees else "partly" if partly else "differs"


def last_layer(r: Results) -> Finding:
    skip, mid, last = skip_costs(r), middle_layers(r.depth), r.depth - 1
    beaten = [i for i in mid if skip[i] < skip[last]]  # middle layers that cost less
    outliers = ", ".join(str(i) for i in mid if skip[i] >= skip[last])
    return Finding(
        "The last layer is special too.",
        f"Skipping layer {last} costs {skip[last]:.2f} nats, more than skipping "
        f"{len(beaten)} of the {len(mid)} middle layers"
        + (f" (not layer {outliers})." if outliers else "."),
        verdict(agrees=len(beaten) == len(mid), partly=len(beaten) >= len(mid) / 2),
    )


# --8<-- [end:rule]


def first_layer(r: Results) -> Finding:
    skip = skip_costs(r)
    worst = int(np.argmax(skip))
    runner = max((i for i in range(r.depth) if i != worst), key=skip.__getitem__)
    return Finding(
        "The first layer is special: skipping it is catastrophic.",
        f"Skipping layer 0 raises the loss by {skip[0]:.2f} nats, the most of any layer "
        f"(next: layer {runner}, +{skip[runner]:.2f})."
        if worst == 0
        else f"Skipping layer 0 costs {skip[0]:.2f} nats; layer {worst} costs more "
        f"({skip[worst]:.2f}).",
        verdict(agrees=worst == 0),
    )


def shared_space(r: Results) -> Finding:
    skip, mid = skip_costs(r), middle_layers(r.depth)
    gentle = [i for i in mid if skip[i] < 0.1 * r.baseline.nll]
    rough = ", ".join(str(i) for i in mid if i not in gentle)
    across = linear_cka(r.states)[mid[0], mid[-1] + 1]  # entering and leaving the middle
    raw = similarity(r.states)[mid[0], mid[-1] + 1]
    return Finding(
        "Middle layers share one representation space: skipping one does little harm.",
        f"Skipping one middle layer costs a median of {np.median([skip[i] for i in mid]):.2f} "
        f"nats; {len(gentle)} of {len(mid)} cost under 10 % of the loss"
        + (f", layers {rough} more" if rough else "")
        + f". But the states entering and leaving the middle are far apart: linear CKA "
        f"{across:.2f} (raw cosine {raw:.2f}).",
        verdict(
            agrees=len(gentle) >= 0.9 * len(mid) and across >= 0.5,
            partly=len(gentle) >= len(mid) / 2,
        ),
    )


def skip_few(r: Results) -> Finding:
    few, small, skip0 = r.variants["skip", SIZES[0]][0], SIZES[0], skip_costs(r)[0]
    return Finding(
        "Skipping a few middle layers degrades gracefully.",
        f"Skipping the middle {small} costs {cost(few, r):.2f} nats (layer 0 alone: "
        f"{skip0:.2f}) and keeps {sum(few.facts)} of {len(few.facts)} facts.",
        verdict(agrees=cost(few, r) < 0.2 * skip0 and few.fact_accuracy >= 0.75),
    )


def repeat_worst(r: Results) -> Finding:
    by_size, base = variant_nll(r), r.baseline.nll
    worst = all(
        by_size["repeat"][k] == max(v[k] for v in by_size.values()) for k in range(len(SIZES))
    )
    return Finding(
        "Middle layers are not interchangeable: repeating the centre layer is the worst "
        "variant.",
        f"Repeating layer {r.depth // 2} in place of {SIZES[0]} layers costs "
        f"{by_size['repeat'][0] - base:.2f} nats, of {SIZES[-1]} layers "
        f"{by_size['repeat'][-1] - base:.2f}; "
        + ("the worst variant at every size." if worst else "not always the worst."),
        verdict(agrees=worst),
    )


def order(r: Results) -> Finding:
    by_size, base, skip0 = variant_nll(r), r.baseline.nll, skip_costs(r)[0]
    calmer = [n for k, n in enumerate(SIZES) if by_size["shuffle"][k] < by_size["reverse"][k]]
    reverse, shuffle = by_size["reverse"][0] - base, by_size["shuffle"][0] - base
    return Finding(
        "Order matters somewhat: reversed or shuffled middle layers degrade gracefully.",
        f"Reversing the middle {SIZES[0]} costs {reverse:.2f} nats, shuffling them "
        f"{shuffle:.2f} (mean of {len(SEEDS)} orders); shuffled beats reversed at "
        f"{len(calmer)} of {len(SIZES)} sizes.",
        verdict(agrees=0 < reverse < 0.2 * skip0 and shuffle < 0.2 * skip0),
    )


def parallel(r: Results) -> Finding:
    small = SIZES[0]
    par, few = r.variants["parallel", small][0], r.variants["skip", small][0]
    works = cost(par, r) < cost(few, r) and par.fact_accuracy >= few.fact_accuracy
    facts, sums = change([par], r, "facts"), change([par], r, "sums")
    return Finding(
        "Middle layers can run in parallel, except for maths.",
        f"The middle {small} run side by side cost {cost(par, r):.2f} nats (skipping them: "
        f"{cost(few, r):.2f}) and keep {sum(par.facts)} of {len(par.facts)} facts; the right "
        f"answer's log p moves by {facts.estimate:+.2f} nats for facts, "
        f"{sums.estimate:+.2f} for sums.",
        verdict(agrees=works and more_fragile([par], r) == "sums", partly=works),
    )


def looping(r: Results) -> Finding:
    by_size = variant_nll(r)
    helped = [
        n
        for k, n in enumerate(SIZES)
        if by_size["looped parallel"][k] < by_size["parallel"][k]
    ]
    return Finding(
        "Looping the parallel block helps.",
        f"Running the parallel block {LOOPS} times lowers the loss at {len(helped)} of "
        f"{len(SIZES)} sizes ({by_size['parallel'][0]:.2f} → "
        f"{by_size['looped parallel'][0]:.2f} nats for {SIZES[0]} layers).",
        verdict(agrees=len(helped) == len(SIZES), partly=bool(helped)),
    )


def mildest(r: Results) -> Finding:
    by_size, pair = variant_nll(r), {"shuffle", "looped parallel"}
    ranks = [sorted(by_size, key=lambda v: by_size[v][k]) for k in range(len(SIZES))]
    both = [n for n, rank in zip(SIZES, ranks) if set(rank[:2]) == pair]
    one = [n for n, rank in zip(SIZES, ranks) if rank[0] in pair]
    return Finding(
        "Shuffling and looped parallel do the least damage; repeating does the most.",
        f"The two mildest variants are shuffle and looped parallel at {len(both)} of "
        f"{len(SIZES)} sizes; the mildest is one of them at {len(one)}.",
        verdict(agrees=len(both) == len(SIZES), partly=len(one) == len(SIZES)),
    )


def maths(r: Results) -> Finding:
    small = SIZES[0]
    gentle = [r.skip_one[i] for i in middle_layers(r.depth)]
    gentle += [s for v in VARIANTS for s in r.variants[v, small]]
    facts, sums = change(gentle, r, "facts"), change(gentle, r, "sums")
    return Finding(
        "Maths is the most fragile: it depends most on order, and parallel layers fail it.",
        f"Over the {len(gentle)} mildest surgeries (one middle layer skipped, or {small} "
        f"altered) the right answer's log p moves by {sums.format()} nats for "
        f"{sums.n} sums, {facts.format()} for {facts.n} facts.",
        verdict(
            agrees=more_fragile(gentle, r) == "sums", partly=sums.estimate < facts.estimate
        ),
    )


FINDINGS = (
    first_layer,
    last_layer,
    shared_space,
    skip_few,
    repeat_worst,
    order,
    parallel,
    looping,
    mildest,
    maths,
)


def findings(r: Results) -> list[Finding]:
    """The paper's findings, in the order the page's table lists them."""
    return [finding(r) for finding in FINDINGS]


def findings_table(rows: list[Finding], model: str) -> str:
    """The Markdown table of the page: claim, this model's numbers, verdict."""
    header = ["Sun et al. (Llama 2, benchmarks)", f"{model}, this page's data", "Verdict"]
    return markdown_table(header, [[f.claim, f.ours, MARKS[f.verdict]] for f in rows])


@facts("layer-findings", depends=("snippets/data/layer_eval.json",))
def findings_facts() -> dict[str, str]:
    """The table, and how many findings hold here as stated and in part."""
    rows = findings(experiments())
    verdicts = [f.verdict for f in rows]
    return {
        "table": findings_table(rows, load().name),
        "count": str(len(rows)),
        "agrees": str(verdicts.count("agrees")),
        "partly": str(verdicts.count("partly")),
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
