"""The ASCII-diffusion page: every run side by side, as tables and figures.

The runs themselves come from cached functions (`ascii_pretrained.pretrained_runs`,
`ascii_tiny_model.tiny_runs`, `ascii_canvas.baseline_runs`); this module only summarises and
draws them, so the notebook page rebuilds in seconds once those caches exist.
"""

import base64
import html
import inspect
import io
import statistics

from matplotlib.figure import Figure

from snippets.ascii_canvas import SEEDS, TEMPERATURES, Recipe, Run, Sequence
from snippets.plotting import INK, MUTED, PALETTE, new_figure, to_svg

MONO = "DejaVu Sans Mono"  # ships with matplotlib: every machine draws the same glyphs
METRICS = {  # field of Score → how the tables and figures name it
    "accuracy": "exact cells",
    "near": "cells within one shade",
    "noise_left": "noise left",
    "copy": "copy of the last step",
    "repeats": "repeated text",
}
RULES = ("copy the last step", "stretch the last step", "stretch and denoise")  # for figures


# --8<-- [start:summary]
def summary(runs: list[Run]) -> list[dict]:
    """One row per model and decoding: the mean of every score over the seeds."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault((run.model, run.decoding), []).append(run)
    rows = []
    for (model, decoding), group in groups.items():
        scores = [run.score for run in group]
        rows.append({"model": model, "decoding": decoding, "runs": len(group),
                     "right size": sum(s.right_size for s in scores),
                     **{name: statistics.fmean(getattr(s, name) for s in scores)
                        for name in METRICS}})
    return rows
# --8<-- [end:summary]


def mean_of(runs: list[Run], model: str, metric: str, decoding: str | None = None) -> float:
    """The mean of one score over a model's runs (over one decoding's runs, if given)."""
    values = [getattr(r.score, metric) for r in runs
              if r.model == model and decoding in (None, r.decoding)]
    return statistics.fmean(values)


def percent(x: float) -> str:
    return f"{100 * x:.1f} %"


def _table(header: list[str], rows: list[list[str]], numeric_from: int) -> str:
    """An HTML table in the notebook's own table style (which follows the site's palette)."""
    def cells(tag, values):
        return "".join(f'<{tag} style="text-align:{"right" if i >= numeric_from else "left"}">'
                       f"{html.escape(str(v))}</{tag}>" for i, v in enumerate(values))

    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return (f'<div style="overflow-x:auto"><table class="dataframe"><thead><tr>'
            f'{cells("th", header)}</tr></thead><tbody>{body}</tbody></table></div>')


def runs_table(runs: list[Run]) -> str:
    """Every run of one model, one row each, in the order they were made: nothing left out."""
    header = ["decoding", "seed", "ended", "size written", "right size", *METRICS.values()]
    rows = [[r.decoding, r.seed, r.ended, f"{r.score.columns} × {r.score.rows}",
             "yes" if r.score.right_size else "no",
             *(percent(getattr(r.score, name)) for name in METRICS)] for r in runs]
    return _table(header, rows, numeric_from=3)


def summary_table(runs: list[Run]) -> str:
    header = ["model", "decoding", "runs", "right size", *METRICS.values()]
    rows = [[row["model"], row["decoding"], row["runs"], f'{row["right size"]} of {row["runs"]}',
             *(percent(row[name]) for name in METRICS)] for row in summary(runs)]
    return _table(header, rows, numeric_from=2)


# --8<-- [start:figures]
def draw_canvas(ax, canvas, title: str, size: float = 7.0, clip=(40, 20)) -> None:
    """A canvas as monospace text in a frame, clipped to `clip` (columns, rows) so that a
    runaway line or an endless column of lines cannot swamp the figure."""
    columns, rows = clip
    lines = [line[:columns] + ("…" if len(line) > columns else "") for line in canvas[:rows]]
    if len(canvas) > rows:
        lines.append(f"… {len(canvas) - rows} more lines")
    # parse_math off: a canvas may hold "$", which would otherwise start a formula
    ax.text(0.0, 1.0, "\n".join(lines) or "(nothing)", family=MONO, fontsize=size, va="top",
            ha="left", transform=ax.transAxes, color=INK, linespacing=1.0, parse_math=False)
    ax.set_title(title, fontsize=8, loc="left")
    ax.set_axis_off()


def canvases_figure(panels: list[tuple[str, list[str]]], height: float = 2.4) -> Figure:
    """Canvases side by side, each under its title."""
    fig, axes = new_figure(1, len(panels), height=height)
    for ax, (title, canvas) in zip(axes, panels):
        draw_canvas(ax, canvas, title)
    return fig


def sequence_figure(sequence: Sequence) -> Figure:
    """One sequence: every step as shown to a model (top) and without its noise (bottom)."""
    recipe = sequence.recipe
    fig, axes = new_figure(2, len(recipe.sizes), height=3.8)
    for i, (noisy, clean) in enumerate(zip(sequence.noisy, sequence.clean)):
        (columns, rows), share = recipe.sizes[i], recipe.noise[i]
        draw_canvas(axes[0, i], noisy, f"step {i + 1}: {columns}×{rows}, {share:.0%} noise")
        draw_canvas(axes[1, i], clean, f"step {i + 1} without noise")
    return fig


def runs_figure(runs: list[Run], sequences: dict[int, Sequence], seed: int) -> Figure:
    """For one seed: the last step shown, the true next step, and what each decoding wrote."""
    k = sequences[seed].recipe.context
    chosen = [r for r in runs if r.seed == seed]
    panels = [(f"step {k} (shown)", list(sequences[seed].noisy[k - 1])),
              (f"true step {k + 1}", list(sequences[seed].clean[k]))]
    panels += [(f"{r.decoding}", list(r.canvas)) for r in chosen]
    return canvases_figure(panels)


def all_runs_figure(runs: list[Run], columns: int = 5) -> Figure:
    """Every canvas a model wrote, small: one row per decoding, one column per seed."""
    decodings = list(dict.fromkeys(r.decoding for r in runs))
    fig, axes = new_figure(len(decodings), columns, height=1.6 * len(decodings))
    for r, ax in zip(runs, axes.flat):
        draw_canvas(ax, r.canvas, f"{r.decoding}, seed {r.seed}", size=4.2, clip=(32, 16))
    return fig


def scores_figure(runs: list[Run], models: list[str]) -> Figure:
    """Each score by decoding: one dot per run, a bar for the mean, one colour per model; the
    rule-based baselines as horizontal lines."""
    decodings = decodings_of(runs, models[0])
    fig, axes = new_figure(1, len(METRICS), height=3.4)
    width = 0.8 / len(models)
    for ax, (name, label) in zip(axes, METRICS.items()):
        for m, model in enumerate(models):
            for d, decoding in enumerate(decodings):
                values = [getattr(r.score, name) for r in runs
                          if r.model == model and r.decoding == decoding]
                x = d + (m - (len(models) - 1) / 2) * width
                ax.bar(x, statistics.fmean(values), width * 0.9, color=PALETTE[m], alpha=0.35)
                ax.scatter([x] * len(values), values, s=8, color=PALETTE[m], zorder=3,
                           label=model if d == 0 else None)
        for b, rule in enumerate(RULES):
            ax.axhline(mean_of(runs, rule, name), color=MUTED, lw=1, ls=("--", ":", "-.")[b],
                       label=rule)
        ax.set_xticks(range(len(decodings)), decodings, rotation=45, fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.set_title(label, fontsize=9)
    axes[0].set_ylabel("share (mean bar, one dot per seed)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=8)
    return fig


def loss_figure(losses: list[float]) -> Figure:
    """The tiny model's training loss at every step."""
    fig, ax = new_figure(height=2.6)
    ax.plot(range(1, len(losses) + 1), losses, color=PALETTE[0], lw=1)
    ax.set_xlabel("optimiser step (4 sequences each)")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_ylim(0, max(losses) * 1.05)
    return fig
# --8<-- [end:figures]


# --8<-- [start:words]
def decodings_of(runs: list[Run], model: str) -> list[str]:
    return list(dict.fromkeys(r.decoding for r in runs if r.model == model))


def describe(runs: list[Run], model: str) -> list[str]:
    """The numbers behind the page's reading of the pretrained model's runs."""
    mine = [r for r in runs if r.model == model]
    right = sum(r.score.right_size for r in mine)
    lines = [f"Canvases of the right size: {right} of {len(mine)} runs.",
             f"Exact cells, mean of all runs: {percent(mean_of(runs, model, 'accuracy'))}; "
             f"a copy of the last step gets {percent(mean_of(runs, RULES[0], 'accuracy'))}, "
             f"the stretched last step {percent(mean_of(runs, RULES[1], 'accuracy'))}."]
    for decoding in decodings_of(runs, model):
        gave_up = sum(r.ended.startswith("gave up") for r in mine if r.decoding == decoding)
        lines.append(
            f"{decoding}: noise left {percent(mean_of(runs, model, 'noise_left', decoding))}, "
            f"repeated text {percent(mean_of(runs, model, 'repeats', decoding))}, "
            f"copy of the last step {percent(mean_of(runs, model, 'copy', decoding))}; "
            f"{gave_up} of {len(SEEDS)} runs gave up.")
    lines.append(f"For scale, the true step: repeated text "
                 f"{percent(mean_of(runs, 'the true step', 'repeats'))}, copy of the last step "
                 f"{percent(mean_of(runs, 'the true step', 'copy'))}.")
    return lines


def verdict(runs: list[Run], model: str, tiny: str) -> list[str]:
    """How the tiny model compares, decoding by decoding, with the rules and the pretrained
    model, in exact cells (the strictest score)."""
    lines = []
    for decoding in decodings_of(runs, tiny):
        ours = mean_of(runs, tiny, "accuracy", decoding)
        beaten = [rule for rule in RULES if ours > mean_of(runs, rule, "accuracy")]
        lines.append(f"{decoding}: tiny model {percent(ours)} exact cells, pretrained model "
                     f"{percent(mean_of(runs, model, 'accuracy', decoding))}; better than "
                     f"{len(beaten)} of the {len(RULES)} rules"
                     + (f" ({', '.join(beaten)})." if beaten else "."))
    right = sum(r.score.right_size for r in runs if r.model == tiny)
    total = sum(r.model == tiny for r in runs)
    lines.append(f"Tiny model: right size in {right} of {total} runs, noise left "
                 f"{percent(mean_of(runs, tiny, 'noise_left'))} on average.")
    return lines
# --8<-- [end:words]


def figure_html(fig: Figure, alt: str, png: bool = False) -> str:
    """A figure as an <img> with alt text, embedded in the page (SVG, or PNG for the large
    ones). Like the site's other figures it is dark ink on transparent, inverted in dark
    mode; the rule travels with the figure, since a notebook page has no stylesheet of its
    own."""
    if png:
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png", dpi=150, metadata={"Software": None})
        data, kind = buffer.getvalue(), "image/png"
    else:
        data, kind = to_svg(fig), "image/svg+xml"
    source = f"data:{kind};base64,{base64.b64encode(data).decode()}"
    style = ('<style>[data-md-color-scheme="slate"] img.ascii-figure '
             "{filter: invert(0.9) hue-rotate(180deg);}</style>")
    return (f'{style}<img class="ascii-figure" style="max-width:100%" '
            f'alt="{html.escape(alt)}" src="{source}">')


def recipe_table(recipe: Recipe) -> str:
    rows = [[f"step {i + 1}", f"{c} × {r}", f"{c * r}", f"{share:.0%}"]
            for i, ((c, r), share) in enumerate(zip(recipe.sizes, recipe.noise))]
    rows[recipe.context][0] += " (the model writes this one)"
    return _table(["step", "columns × rows", "cells", "noise"], rows, numeric_from=1)


def seeds_and_decodings() -> str:
    decodings = ", ".join("greedy" if t is None else f"T = {t:g}" for t in TEMPERATURES)
    return f"{len(SEEDS)} seeds ({', '.join(map(str, SEEDS))}) × decodings {decodings}"


def source(*functions) -> str:
    """The source of functions as one Markdown code block: the page shows the code it runs."""
    return "```python\n" + "\n\n\n".join(inspect.getsource(f).rstrip() for f in functions) + "\n```"
