"""The ASCII-diffusion page: every run side by side, as tables and figures.

The runs themselves come from cached functions (`pretrained.pretrained_runs`,
`tiny_model.tiny_runs`, `canvas.baseline_runs`); this module only summarises and draws them,
so the notebook page rebuilds in seconds once those caches exist. Tables are Markdown (the
notebook shows them with `IPython.display.Markdown`).
"""

import base64
import html
import inspect
import io
import statistics

from matplotlib.figure import Figure
from PIL import Image

from snippets.ascii.canvas import HELD_OUT_PICTURES, SEEDS, TEMPERATURES, Recipe, Run, Sequence
from snippets.intervals import bootstrap
from snippets.plotting import MUTED, PALETTE, new_figure, to_svg
from snippets.tables import markdown_table

METRICS = {  # field of Score → how the tables and figures name it
    "accuracy": "exact",
    "near": "±1 shade",
    "noise_left": "noise",
    "copy": "copy",
    "repeats": "repeats",
}
# Notebook outputs normally wrap long lines; canvases, code and table rows must not wrap (a
# wide table scrolls). And, like the site's other figures, these are dark ink on transparent,
# inverted in dark mode. A notebook page has no stylesheet of its own, so the rules travel in
# the page's first output.
STYLE = """<style>
.jupyter-wrapper .jp-RenderedText pre, .jupyter-wrapper .jp-RenderedMarkdown pre {
  white-space: pre; overflow-x: auto; word-break: normal; overflow-wrap: normal;
  font-size: var(--jp-code-font-size); }
.jupyter-wrapper .jp-RenderedMarkdown table:not([class]) :is(th, td) {
  white-space: nowrap; padding: 0.4em 0.8em; }
[data-md-color-scheme="slate"] img.ascii-figure { filter: invert(0.9) hue-rotate(180deg); }
.jupyter-wrapper .jp-InputArea-editor, .jupyter-wrapper .CodeMirror {
  border: 0; background: none; padding: 0; }
.ascii-canvases { display: block; width: auto; margin: 1em 0; }
.jupyter-wrapper .ascii-canvases :is(p, pre, figcaption) { text-align: left; }
.ascii-canvases > div { display: flex; flex-wrap: wrap; gap: 0.5em 1em; align-items: flex-start;
  margin-bottom: 0.5em; }
.ascii-canvases p { margin: 0; font-size: 0.65rem; text-align: left; }
.ascii-canvases pre { margin: 0; padding: 0.2em 0.3em; font-size: 0.55rem; line-height: 1.1;
  background: var(--md-code-bg-color, #f5f5f5); color: var(--md-code-fg-color, inherit); }
.ascii-small pre { font-size: 0.4rem; }
.ascii-canvases figcaption { font-size: 0.65rem; max-width: none; text-align: left; }
</style>"""
RULES = ("copy the last step", "stretch the last step", "stretch and denoise")  # for figures


def summary(runs: list[Run]) -> list[dict]:
    """One row per model and decoding: the mean of every score over the seeds."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        groups.setdefault((run.model, run.decoding), []).append(run)
    rows = []
    for (model, decoding), group in groups.items():
        scores = [run.score for run in group]
        rows.append(
            {
                "model": model,
                "decoding": decoding,
                "runs": len(group),
                "right size": sum(s.right_size for s in scores),
                **{
                    name: statistics.fmean(getattr(s, name) for s in scores)
                    for name in METRICS
                },
            }
        )
    return rows


def mean_of(runs: list[Run], model: str, metric: str, decoding: str | None = None) -> float:
    """The mean of one score over a model's runs (over one decoding's runs, if given)."""
    values = [
        getattr(r.score, metric)
        for r in runs
        if r.model == model and decoding in (None, r.decoding)
    ]
    return statistics.fmean(values)


def percent(x: float) -> str:
    return f"{100 * x:.1f} %"


def aligned(columns: int, numeric_from: int) -> list[str]:
    """Column alignments: text on the left, numbers (from column `numeric_from`) on the right."""
    return ["left" if i < numeric_from else "right" for i in range(columns)]


def runs_table(runs: list[Run]) -> str:
    """Every run of one model, one row each, in the order they were made: nothing left out."""
    header = ["decoding", "seed", "ended", "size written", *METRICS.values()]
    rows = [
        [
            r.decoding,
            r.seed,
            r.ended,
            f"{r.score.columns} × {r.score.rows}" + (" ✓" if r.score.right_size else ""),
            *(percent(getattr(r.score, name)) for name in METRICS),
        ]
        for r in runs
    ]
    return markdown_table(header, rows, aligned(len(header), 3))


def summary_table(runs: list[Run]) -> str:
    header = ["model", "decoding", "runs", "right size", *METRICS.values()]
    rows = [
        [
            row["model"],
            row["decoding"],
            row["runs"],
            f"{row['right size']} of {row['runs']}",
            *(percent(row[name]) for name in METRICS),
        ]
        for row in summary(runs)
    ]
    return markdown_table(header, rows, aligned(len(header), 2))


def printable(line: str) -> str:
    """The line with anything but printable ASCII (a model may write any token) as '·'."""
    return "".join(c if " " <= c <= "~" else "·" for c in line)


def clipped(canvas, clip=(36, 16)) -> list[str]:
    """A canvas's lines clipped to `clip` (columns, rows), '…' marking a cut and anything
    outside printable ASCII as '·', so that a runaway line or an endless column of lines
    cannot swamp the page."""
    columns, rows = clip
    lines = [
        printable(line[:columns]) + ("…" if len(line) > columns else "")
        for line in canvas[:rows]
    ]
    if len(canvas) > rows:
        lines.append(f"… {len(canvas) - rows} more rows")
    return lines or ["(nothing)"]


Panel = tuple[str, list[str]]  # a canvas's title, and its lines


def canvases_html(rows: list[list[Panel]], caption: str, small: bool = False) -> str:
    """Canvases side by side as text a reader can select and a screen reader can read: a
    <figure> of rows of titled <pre> panels (a row wraps on a narrow screen), with a caption.
    The layout rules for class ascii-canvases are in STYLE."""
    cells = "".join(
        "<div>"
        + "".join(
            f"<div><p>{html.escape(title)}</p><pre>{html.escape(chr(10).join(lines))}</pre></div>"
            for title, lines in row
        )
        + "</div>"
        for row in rows
    )
    size = " ascii-small" if small else ""
    return (
        f'<figure class="ascii-canvases{size}">{cells}'
        f"<figcaption>{html.escape(caption)}</figcaption></figure>"
    )


def sequence_panels(sequence: Sequence) -> list[list[Panel]]:
    """One sequence: a row of every step as shown to a model, titled with its share of
    noise, and a row of every step without its noise."""
    noise = sequence.recipe.noise
    return [
        [(f"step {i + 1}, {noise[i]:.0%}", clipped(c)) for i, c in enumerate(sequence.noisy)],
        [(f"step {i + 1}, no noise", clipped(c)) for i, c in enumerate(sequence.clean)],
    ]


def runs_panels(
    runs: list[Run], sequences: dict[int, Sequence], seed: int
) -> list[list[Panel]]:
    """For one seed: a row with the last step shown and the true next step, and a row with
    what each decoding wrote."""
    k = sequences[seed].recipe.context
    columns, rows = sequences[seed].recipe.sizes[k]
    clip = (columns + 4, rows + 1)
    given = [
        (f"step {k}, as shown", clipped(sequences[seed].noisy[k - 1], clip)),
        (f"step {k + 1}, the truth", clipped(sequences[seed].clean[k], clip)),
    ]
    return [
        given,
        [(f"written, {r.decoding}", clipped(r.canvas, clip)) for r in runs if r.seed == seed],
    ]


def all_runs_panels(runs: list[Run]) -> list[list[Panel]]:
    """Every canvas a model wrote: one row per decoding, in the order they were made."""
    rows: dict[str, list[Panel]] = {}
    for r in runs:
        rows.setdefault(r.decoding, []).append(
            (f"{r.decoding}, seed {r.seed}", clipped(r.canvas, (30, 16)))
        )
    return list(rows.values())


def scores_figure(runs: list[Run], models: list[str]) -> Figure:
    """Each score by decoding: one dot per run, a bar for the mean, one colour per model; the
    rule-based baselines as horizontal lines."""
    decodings = decodings_of(runs, models[0])
    fig, axes = new_figure(2, 3, height=5.6)
    width = 0.8 / len(models)
    for ax, (name, label) in zip(axes.flat, METRICS.items()):
        for m, model in enumerate(models):
            for d, decoding in enumerate(decodings):
                values = [
                    getattr(r.score, name)
                    for r in runs
                    if r.model == model and r.decoding == decoding
                ]
                x = d + (m - (len(models) - 1) / 2) * width
                ax.bar(x, statistics.fmean(values), width * 0.9, color=PALETTE[m], alpha=0.35)
                ax.scatter(
                    [x] * len(values),
                    values,
                    s=8,
                    color=PALETTE[m],
                    zorder=3,
                    label=model if d == 0 else None,
                )
        for b, rule in enumerate(RULES):
            ax.axhline(
                mean_of(runs, rule, name),
                color=MUTED,
                lw=1,
                ls=("--", ":", "-.")[b],
                label=rule,
            )
        ax.set_xticks(range(len(decodings)), decodings, fontsize=8)
        ax.set_ylim(0, 1.02)
        ax.set_title(label, fontsize=9)
    for ax in axes[:, 0]:
        ax.set_ylabel("share")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    legend = axes.flat[-1]
    legend.set_axis_off()
    legend.legend(handles, labels, loc="center", fontsize=8)
    return fig


def loss_figure(losses: list[float]) -> Figure:
    """The tiny model's training loss at every step."""
    fig, ax = new_figure(height=2.6)
    ax.plot(range(1, len(losses) + 1), losses, color=PALETTE[0], lw=1)
    ax.set_xlabel("optimiser step (4 sequences each)")
    ax.set_ylabel("nats per character")
    ax.set_ylim(0, max(losses) * 1.05)
    return fig


def decodings_of(runs: list[Run], model: str) -> list[str]:
    return list(dict.fromkeys(r.decoding for r in runs if r.model == model))


def describe(runs: list[Run], model: str) -> list[str]:
    """The numbers behind the page's reading of the pretrained model's runs."""
    mine = [r for r in runs if r.model == model]
    right = sum(r.score.right_size for r in mine)
    lines = [
        f"Right size: {right} of {len(mine)} runs.",
        f"Exact cells: {percent(mean_of(runs, model, 'accuracy'))} on average.",
        f"(Copy the last step: {percent(mean_of(runs, RULES[0], 'accuracy'))}; "
        f"stretch it: {percent(mean_of(runs, RULES[1], 'accuracy'))}.)",
        f"{'':12}{'noise':>9}{'repeats':>9}{'copy':>9}  gave up",
    ]
    for decoding in decodings_of(runs, model):
        gave_up = sum(r.ended.startswith("gave up") for r in mine if r.decoding == decoding)
        runs_here = sum(r.decoding == decoding for r in mine)
        lines.append(
            f"{decoding:12}"
            + "".join(
                f"{percent(mean_of(runs, model, name, decoding)):>9}"
                for name in ("noise_left", "repeats", "copy")
            )
            + f"  {gave_up} of {runs_here}"
        )
    lines.append(
        f"{'true step':12}"
        + "".join(
            f"{percent(mean_of(runs, 'the true step', name)):>9}"
            for name in ("noise_left", "repeats", "copy")
        )
    )
    return lines


def verdict(runs: list[Run], model: str, tiny: str) -> list[str]:
    """Exact cells (the strictest score), decoding by decoding: the tiny model against the
    pretrained model and the three rules."""
    rules = {rule: mean_of(runs, rule, "accuracy") for rule in RULES}
    lines = [f"{'exact cells':12}{'tiny':>9}{'pretrained':>12}  rules beaten"]
    for decoding in decodings_of(runs, tiny):
        ours = mean_of(runs, tiny, "accuracy", decoding)
        missed = [rule for rule, value in rules.items() if ours <= value]
        lines.append(
            f"{decoding:12}{percent(ours):>9}"
            f"{percent(mean_of(runs, model, 'accuracy', decoding)):>12}  "
            f"{len(rules) - len(missed)} of {len(rules)}"
            + (f" (not {', '.join(missed)})" if missed else "")
        )
    lines += [f"{'rule':12}{percent(value):>9}  {rule}" for rule, value in rules.items()]
    right = sum(r.score.right_size for r in runs if r.model == tiny)
    total = sum(r.model == tiny for r in runs)
    lines.append(
        f"Tiny model: right size in {right} of {total} runs, "
        f"noise {percent(mean_of(runs, tiny, 'noise_left'))} on average."
    )
    return lines


def headline(runs: list[Run], models: list[str]) -> list[str]:
    """The pretrained model's result in one line per way of prompting it: right sizes, and
    exact cells beside the rule of stretching the last step."""
    stretch = percent(mean_of(runs, RULES[1], "accuracy"))
    lines = []
    for model in models:
        mine = [r for r in runs if r.model == model]
        right = sum(r.score.right_size for r in mine)
        lines.append(
            f"{model}: right size in {right} of {len(mine)} runs; exact cells "
            f"{percent(mean_of(runs, model, 'accuracy'))} (stretching the last step: {stretch})."
        )
    return lines


def token_boundaries(pieces: list[str]) -> str:
    """Tokens side by side, a '│' between two (neither a picture nor a noise character)."""
    return "│".join(pieces)


def role(picture: str) -> str:
    return "held out" if picture in HELD_OUT_PICTURES else "trained on"


DENOISER = "stretch and denoise"  # the best rule: what the tiny model has to beat


def picture_table(runs: list[Run], model: str) -> str:
    """Exact cells per picture, held-out pictures first: the model at each decoding (mean
    over the seeds; "—" where it was not run) beside the hand-written denoiser, and how many
    canvases had the right size."""
    pictures = sorted(
        dict.fromkeys(r.picture for r in runs), key=lambda p: role(p) != "held out"
    )
    decodings = decodings_of(runs, model)
    rows = []
    for picture in pictures:
        here = [r for r in runs if r.picture == picture]
        mine = [r for r in here if r.model == model]
        rows.append(
            [picture, role(picture)]
            + [
                percent(mean_of(here, model, "accuracy", d))
                if any(r.decoding == d for r in mine)
                else "—"  # not run at this decoding
                for d in decodings
            ]
            + [percent(mean_of(here, DENOISER, "accuracy"))]
            + [f"{sum(r.score.right_size for r in mine)} of {len(mine)}"]
        )
    header = ["picture", "", *decodings, DENOISER, "right size"]
    return markdown_table(header, rows, aligned(len(header), 2))


def generalisation(runs: list[Run], model: str, decoding: str) -> list[str]:
    """The model's exact cells minus the denoiser's, per context (picture × seed), on the
    held-out and on the training pictures: mean and 95 % interval over the contexts."""
    lines = []
    for which in ("held out", "trained on"):
        gaps = [
            r.score.accuracy - denoised.score.accuracy
            for r in runs
            if r.model == model and r.decoding == decoding and role(r.picture) == which
            for denoised in runs
            if denoised.model == DENOISER
            and (denoised.picture, denoised.seed) == (r.picture, r.seed)
        ]
        gap = bootstrap(gaps).format(1, 100, " points")
        lines.append(f"{which:>10}, {decoding}: {gap} over {len(gaps)} contexts")
    return lines


def figure_html(fig: Figure, alt: str, png: bool | None = None) -> str:
    """A figure as an <img> with alt text, embedded in the page: SVG or PNG (of 64 colours),
    whichever is smaller unless `png` says.
    The dark-mode rule for class ascii-figure is in STYLE."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, metadata={"Software": None})
    # 64 colours are plenty for ink, a few plot colours and their anti-aliasing: a third the bytes
    quantized = Image.open(io.BytesIO(buffer.getvalue())).quantize(64)
    buffer = io.BytesIO()
    quantized.save(buffer, format="png", optimize=True)
    pixels, vector = buffer.getvalue(), to_svg(fig)
    if png is None:
        png = len(pixels) < len(vector)
    data, kind = (pixels, "image/png") if png else (vector, "image/svg+xml")
    source = f"data:{kind};base64,{base64.b64encode(data).decode()}"
    return f'<img class="ascii-figure" style="max-width:100%" alt="{html.escape(alt)}" src="{source}">'


def recipe_table(recipe: Recipe) -> str:
    rows = [
        [f"step {i + 1}", f"{c} × {r}", f"{c * r}", f"{share:.0%}"]
        for i, ((c, r), share) in enumerate(zip(recipe.sizes, recipe.noise))
    ]
    rows[recipe.context][0] += " (the model writes this one)"
    return markdown_table(["step", "columns × rows", "cells", "noise"], rows, aligned(4, 1))


def seeds_and_decodings() -> str:
    decodings = ", ".join("greedy" if t is None else f"T = {t:g}" for t in TEMPERATURES)
    return f"{len(SEEDS)} seeds ({', '.join(map(str, SEEDS))}) × decodings {decodings}"


def source(*functions) -> str:
    """The source of functions as one Markdown code block, folded (a <details> whose summary
    names them): the page shows the code it runs without standing between claim and result."""
    code = "\n\n\n".join(inspect.getsource(function).rstrip() for function in functions)
    names = ", ".join(f"<code>{function.__qualname__}</code>" for function in functions)
    summary = f'<details class="abstract">\n<summary>The code: {names}</summary>'
    return f"{summary}\n\n```python\n{code}\n```\n\n</details>"
