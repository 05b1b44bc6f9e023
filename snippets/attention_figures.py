"""The attention page's figures, numbers and viewer data, drawn from the experiments in
snippets/attention.py (kept apart so that editing a figure never re-runs an experiment)."""

import functools

import numpy as np

from snippets import attention as at
from snippets.intervals import Interval, bootstrap
from snippets.plotting import INK, MUTED, PALETTE, new_figure
from snippets.tables import markdown_table
from state_simulators.artifacts import data, facts, figure
from state_simulators.model import load

# --8<-- [start:thresholds]
PREVIOUS_HEAD = 0.5  # a previous-token head puts at least half its weight on the token before
INDUCTION_HEAD = 0.3  # an induction head, at least 0.3 on the token after the earlier copy
# --8<-- [end:thresholds]
TOP = 4  # heads listed per score
VIEWS = {  # the viewer's texts: label -> title
    "story": "A late correction (a story from the State simulators page)",
    "icl": "In-context examples (swap two words)",
    "code": "A few lines of code",
    "repeated": "Random tokens, shown twice (the induction test)",
}


def layer_intervals(per_text: np.ndarray) -> list[Interval]:
    """(texts, layers, heads) -> per layer, the mean over heads with its interval over texts."""
    means = per_text.mean(axis=2)
    return [bootstrap(means[:, layer]) for layer in range(means.shape[1])]


def head_groups(heads: int) -> list[int]:
    """Each query head's key/value head, on the page's model."""
    return [at.kv_group(h, load().model.config) for h in range(heads)]


def head_interval(per_text: np.ndarray, layer: int, head: int) -> Interval:
    return bootstrap(per_text[:, layer, head])


def band(ax, intervals: list[Interval], colour: str, label: str, **style) -> None:
    """A line over layers with its 95 % band."""
    layers = range(len(intervals))
    ax.fill_between(
        layers,
        [i.low for i in intervals],
        [i.high for i in intervals],
        color=colour,
        alpha=0.2,
    )
    ax.plot(layers, [i.estimate for i in intervals], color=colour, label=label, **style)


@figure("attention-sink.svg")
def sink_figure():
    found = at.head_scores()
    fig, ax = new_figure(height=3.4)
    band(ax, layer_intervals(found["sink"]), PALETTE[0], "first position", marker="o", ms=3)
    band(ax, layer_intervals(found["second"]), PALETTE[1], "second position (control)")
    sink = int(found["sink_layer"])
    ax.axvline(sink, color=MUTED, linestyle=":", linewidth=1.2)
    ax.annotate(
        f"layer {sink} writes the\nfirst position's huge state",
        (sink + 0.4, 0.88),
        fontsize=8,
        color=INK,
        va="top",
    )
    ax.set_ylim(0, 1)
    ax.set_xlabel("layer")
    ax.set_ylabel("mean weight (95 % band)")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def draw_scores(ax, scores: np.ndarray, groups: list[int], title: str):
    """One layer × head map of a score, 0–1, heads that share a key/value head side by side."""
    ax.grid(False)
    image = ax.imshow(scores, aspect="auto", origin="lower", cmap="Blues", vmin=0, vmax=1)
    for h in range(1, len(groups)):
        if groups[h] != groups[h - 1]:
            ax.axvline(h - 0.5, color=INK, linewidth=0.8)
    ax.set_xticks(range(len(groups)), [f"{h}" for h in range(len(groups))], fontsize=8)
    ax.set_xlabel("query head")
    ax.set_title(title, fontsize=10)
    return image


@figure("attention-heads.svg")
def head_scores_figure():
    found = at.head_scores()
    groups = head_groups(found["previous"].shape[2])
    fig, (left, right) = new_figure(1, 2, height=4.4, sharey=True)
    draw_scores(left, found["previous"].mean(axis=0), groups, "previous token (human text)")
    image = draw_scores(
        right, found["induction"].mean(axis=0), groups, "induction (random, twice)"
    )
    fig.suptitle("lines between heads: a new shared key/value head", fontsize=9, color=MUTED)
    left.set_ylabel("layer")
    fig.colorbar(image, ax=[left, right], label="mean attention weight", shrink=0.8)
    return fig


@figure("attention-correction.svg")
def correction_figure():
    found = at.correction_reads()
    fig, axes = new_figure(1, 2, height=3.4, sharey=True)
    for ax, condition in zip(axes, at.CONDITIONS):
        reads = found[condition]  # (stories, 2, layers)
        for which, colour, label in (
            (0, PALETTE[0], "first-stated value"),
            (1, PALETTE[3], "second value"),
        ):
            per_layer = [bootstrap(reads[:, which, layer]) for layer in range(reads.shape[2])]
            band(ax, per_layer, colour, label)
        ax.set_title(condition, fontsize=10)
        ax.set_xlabel("layer")
    axes[0].set_ylabel("weight from the last position\n(mean over heads, 95 % band)")
    axes[0].legend(loc="upper left", fontsize=8)
    return fig


@functools.cache
def viewer(label: str) -> dict:
    lm = load()
    return at.viewer_data(VIEWS[label], at.view_ids(label, lm), lm)


@data("attention-story.json")
def story_view():
    return viewer("story")


@data("attention-icl.json")
def icl_view():
    return viewer("icl")


@data("attention-code.json")
def code_view():
    return viewer("code")


@data("attention-repeated.json")
def repeated_view():
    return viewer("repeated")


@data("attention-index.json")
def viewer_index():
    """What the viewer lists before it loads a text: titles, files, lengths."""
    config = load().model.config
    return {
        "scale": at.SCALE,
        "views": [
            {
                "label": label,
                "title": title,
                "src": f"attention-{label}.json",
                "tokens": len(at.view_ids(label, load())),
            }
            for label, title in VIEWS.items()
        ],
        "layers": config.num_hidden_layers,
    }


def top_heads(scores: np.ndarray, count: int = TOP) -> list[tuple[int, int]]:
    """The (layer, head) pairs with the highest mean score, best first."""
    mean = scores.mean(axis=0)
    order = np.argsort(-mean, axis=None, kind="stable")[:count]
    return [tuple(int(i) for i in np.unravel_index(o, mean.shape)) for o in order]


def heads_table(found: dict) -> str:
    """The strongest previous-token and induction heads, with intervals and the control."""
    groups = head_groups(found["previous"].shape[2])
    rows = []
    for name, key in (("previous token", "previous"), ("induction", "induction")):
        for layer, head in top_heads(found[key]):
            control = (
                head_interval(found["induction_control"], layer, head).format(3)
                if key == "induction"
                else "—"
            )
            rows.append(
                [
                    name,
                    layer,
                    head,
                    groups[head],
                    head_interval(found[key], layer, head).format(2),
                    control,
                ]
            )
    return markdown_table(
        [
            "score",
            "layer",
            "head",
            "key/value head",
            "score (95 % CI)",
            "same offset, no repeat (95 % CI)",
        ],
        rows,
    )


def head_name(layer: int, head: int) -> str:
    return f"layer {layer}, head {head}"


def uniform_previous(length: int) -> float:
    """The previous-token score of a head that spreads its weight evenly: mean of 1/(q + 1)."""
    return float(np.mean([1 / (q + 1) for q in range(1, length)]))


def spoken(numbers: list[int]) -> str:
    """[0, 1, 10] -> "0, 1 and 10"; [] -> "none"."""
    words = [str(n) for n in numbers] or ["none"]
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else words[0]


def before_writer(curve: list[Interval], writer: int) -> str:
    """Which layers before the one that writes the first position's huge state already give
    the first position at least 0.3 of the weight, as a sentence."""
    before = [layer for layer in range(writer) if curve[layer].estimate >= 0.3]
    if not before:
        return "No layer before it gives the first position much weight"
    return (
        f"Layers {spoken(before)} already give the first position at least 0.3 of the "
        "weight *before* its state is made huge, so the huge state is not what makes it a "
        "sink there"
    )


def sink_facts(found: dict) -> dict[str, str]:
    curve = layer_intervals(found["sink"])
    low = [layer for layer, i in enumerate(curve) if i.estimate < 0.2]
    high = max(range(len(curve)), key=lambda layer: curve[layer].estimate)
    overall = bootstrap(found["sink"].mean(axis=(1, 2)))
    return {
        "sink_layer": str(int(found["sink_layer"])),
        "sink_overall": overall.format(2),
        "sink_low_layers": spoken(low),
        "sink_best_layer": str(high),
        "sink_at_writer": curve[int(found["sink_layer"])].format(2),
        "sink_before_writer": before_writer(curve, int(found["sink_layer"])),
        "sink_best": curve[high].format(2),
        "second_max": f"{max(i.estimate for i in layer_intervals(found['second'])):.2f}",
    }


def full_groups(is_head: np.ndarray, groups: list[int]) -> str:
    """The key/value heads all of whose query heads pass a test, e.g. "layer 17's key/value
    head 1 (query heads 3, 4 and 5)"; "none" if there are none. is_head: (layers, heads);
    groups: each query head's key/value head."""
    groups = np.array(groups)
    found = []
    for layer in range(is_head.shape[0]):
        for group in sorted(set(groups.tolist())):
            members = np.nonzero(groups == group)[0]
            if len(members) > 1 and is_head[layer, members].all():
                found.append(
                    f"layer {layer}'s key/value head {group} "
                    f"(query heads {spoken(members.tolist())})"
                )
    return "; ".join(found) or "none"


def composition(best_previous: tuple[int, int], is_induction: np.ndarray) -> str:
    """Whether the strongest previous-token head sits below every induction head."""
    layers = np.nonzero(is_induction)[0]
    if len(layers) and best_previous[0] < layers.min():
        return f"sits below every induction head: the first is in layer {layers.min()}"
    return "does not sit below every induction head"


def head_facts(found: dict) -> dict[str, str]:
    previous, induction = found["previous"].mean(axis=0), found["induction"].mean(axis=0)
    control = found["induction_control"].mean(axis=0)
    is_induction = induction >= INDUCTION_HEAD
    best_previous, best_induction = (
        top_heads(found["previous"], 1)[0],
        top_heads(found["induction"], 1)[0],
    )
    return {
        "previous_heads": str(int((previous >= PREVIOUS_HEAD).sum())),
        "previous_best": head_name(*best_previous),
        "previous_best_score": head_interval(found["previous"], *best_previous).format(2),
        "previous_uniform": f"{uniform_previous(at.WINDOW):.2f}",
        "induction_heads": str(int(is_induction.sum())),
        "induction_layers": spoken(
            sorted({int(layer) for layer in np.nonzero(is_induction)[0]})
        ),
        "induction_best": head_name(*best_induction),
        "induction_best_layer": str(best_induction[0]),
        "induction_best_head": str(best_induction[1]),
        "induction_full_groups": full_groups(is_induction, head_groups(is_induction.shape[1])),
        "composition": composition(best_previous, is_induction),
        "induction_best_score": head_interval(found["induction"], *best_induction).format(2),
        "induction_control_max": f"{float(control[is_induction].max(initial=0)):.3f}",
        "heads_table": heads_table(found),
    }


def correction_facts() -> dict[str, str]:
    """Total weight (summed over layers) from the last position on each value, per condition;
    and how much more the second value gets than the first, corrected minus mentioned."""
    found = at.correction_reads()
    out = {}
    gap = {}
    for key, condition in zip(("corrected", "mentioned"), at.CONDITIONS):
        total = found[condition].sum(axis=2)  # (stories, 2): summed over layers
        out[f"{key}_first"] = bootstrap(total[:, 0]).format(2)
        out[f"{key}_second"] = bootstrap(total[:, 1]).format(2)
        gap[key] = total[:, 1] - total[:, 0]
    out["gap_difference"] = bootstrap(gap["corrected"] - gap["mentioned"]).format(2)
    out["stories"] = str(len(gap["corrected"]))
    second = found[at.CONDITIONS[0]][:, 1].mean(axis=0)  # per layer, over stories
    out["peak_layer"] = str(int(np.argmax(second)))
    return out


@facts("attention")
def attention_facts():
    found = at.head_scores()
    config = load().model.config
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    return {
        "layers": str(config.num_hidden_layers),
        "heads": str(heads),
        "kv_heads": str(kv_heads),
        "group": str(heads // kv_heads),
        "windows": str(found["sink"].shape[0]),
        "window": str(at.WINDOW),
        "sequences": str(found["induction"].shape[0]),
        "random_tokens": str(at.RANDOM_TOKENS),
        "step": f"1/{at.SCALE}",
        "previous_threshold": f"{PREVIOUS_HEAD:g}",
        "induction_threshold": f"{INDUCTION_HEAD:g}",
        **sink_facts(found),
        **head_facts(found),
        **correction_facts(),
    }


if __name__ == "__main__":
    from state_simulators import runner

    raise SystemExit(runner.run(__spec__.name))
