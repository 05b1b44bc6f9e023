"""The page's tables, figures and words; and the claims the page makes, on the page's own runs."""

import base64
import dataclasses
import html
import io
import re

import pytest
from matplotlib.figure import Figure
from PIL import Image

from snippets.ascii import diffusion as page
from snippets.ascii.canvas import (
    HELD_OUT_PICTURES,
    SEEDS,
    TEMPERATURES,
    TEST_PICTURE,
    TRAINING_PICTURES,
    Recipe,
    Run,
    Score,
    baseline_runs,
    held_out_sequence,
)
from snippets.plotting import to_svg

RECIPE = Recipe()


def fake(model, temperature, seed, accuracy, right=True, noise=0.0, copy=0.5, canvas=("ab",)):
    score = Score(
        columns=2,
        rows=1,
        right_size=right,
        noise_left=noise,
        accuracy=accuracy,
        near=accuracy,
        copy=copy,
        repeats=0.25,
    )
    return Run(model, temperature, seed, "ab", canvas, score, "end of canvas")


def fake_runs():
    runs = [fake("lm", t, s, 0.1 * s, right=False, noise=0.5) for t in (1.0, None) for s in (0, 1)]
    runs += [fake("tiny", t, s, 0.6) for t in (1.0, None) for s in (0, 1)]
    runs += [fake(rule, None, s, a) for rule, a in zip(page.RULES, (0.1, 0.3, 0.5)) for s in (0, 1)]
    runs += [fake("the true step", None, s, 1.0) for s in (0, 1)]
    return runs


def test_summary_averages_over_seeds():
    rows = {(r["model"], r["decoding"]): r for r in page.summary(fake_runs())}
    assert rows[("lm", "T = 1")]["accuracy"] == pytest.approx(0.05)
    assert rows[("lm", "greedy")]["right size"] == 0 and rows[("tiny", "greedy")]["runs"] == 2
    assert page.mean_of(fake_runs(), "lm", "noise_left") == 0.5
    assert page.mean_of(fake_runs(), "lm", "accuracy", "greedy") == pytest.approx(0.05)


def body(table: str) -> list[list[str]]:
    """The cells of a Markdown table's rows, header and alignment row left out."""
    return [line.strip("| ").split(" | ") for line in table.splitlines()[2:]]


def test_tables_show_all_runs_text_left_numbers_right_and_escape_cells():
    runs = fake_runs() + [fake("a|b", None, 0, 0.0)]
    assert len(body(page.runs_table(runs))) == len(runs)
    summary = page.summary_table(runs)
    assert summary.splitlines()[1] == "|:---|:---|---:|---:|---:|---:|---:|---:|---:|"
    assert len(body(summary)) == len(page.summary(runs))
    assert body(summary)[-1][:4] == ["a\\|b", "greedy", "1", "1 of 1"]  # the | is escaped
    assert "10.0 %" in summary
    recipe = page.recipe_table(RECIPE)
    assert len(body(recipe)) == len(RECIPE.sizes) and recipe.splitlines()[1] == "|:---|---:|---:|---:|"
    assert body(recipe)[RECIPE.context][0].endswith("(the model writes this one)")


def test_words_give_the_numbers_behind_the_reading():
    lines = page.describe(fake_runs(), "lm")
    assert lines[0] == "Right size: 0 of 4 runs."
    assert lines[1:3] == [
        "Exact cells: 5.0 % on average.",
        "(Copy the last step: 10.0 %; stretch it: 30.0 %.)",
    ]
    assert lines[4] == "T = 1          50.0 %   25.0 %   50.0 %  0 of 2"
    assert lines[-1].startswith("true step") and len(lines) == 7
    verdict = page.verdict(fake_runs(), "lm", "tiny")
    assert verdict[1] == "T = 1          60.0 %       5.0 %  3 of 3"
    assert verdict[3:6] == [
        "rule           10.0 %  copy the last step",
        "rule           30.0 %  stretch the last step",
        "rule           50.0 %  stretch and denoise",
    ]
    assert verdict[-1] == "Tiny model: right size in 4 of 4 runs, noise 0.0 % on average."
    weak = [r for r in fake_runs() if r.model != "tiny"] + [fake("tiny", None, 0, 0.4)]
    assert page.verdict(weak, "lm", "tiny")[1].endswith("2 of 3 (not stretch and denoise)")
    assert body(page.runs_table([fake("m", None, 0, 1.0)]))[0][3] == "2 × 1 ✓"
    assert body(page.runs_table([fake("m", None, 0, 1.0, right=False)]))[0][3] == "2 × 1"


def test_the_headline_gives_right_sizes_and_exact_cells_beside_stretching():
    lines = page.headline(fake_runs(), ["lm", "tiny"])
    assert lines == [
        "lm: right size in 0 of 4 runs; exact cells 5.0 % (stretching the last step: 30.0 %).",
        "tiny: right size in 4 of 4 runs; exact cells 60.0 % (stretching the last step: 30.0 %).",
    ]
    assert page.token_boundaries(["==", "@", " "]) == "==│@│ "


def on(picture, runs):
    return [dataclasses.replace(r, picture=picture) for r in runs]


def test_results_per_picture_keep_held_out_and_training_pictures_apart():
    held, trained = HELD_OUT_PICTURES[1], TRAINING_PICTURES[0]
    runs = on(trained, fake_runs()) + on(held, fake_runs())
    runs += [fake("tiny", None, s, 0.2) for s in (0, 1)] + on(held, [fake("tiny", None, 2, 0.9)])
    table = body(page.picture_table([r for r in runs if r.picture != TEST_PICTURE], "tiny"))
    assert [row[:2] for row in table] == [[held, "held out"], [trained, "trained on"]]
    assert table[0][2:] == ["60.0 %", "70.0 %", "50.0 %", "5 of 5"]  # T = 1, greedy, denoiser
    assert table[1][2:] == ["60.0 %", "60.0 %", "50.0 %", "4 of 4"]
    greedy_only = [r for r in runs if r.picture == trained and r.decoding != "T = 1"]
    table = page.picture_table(greedy_only + on(held, fake_runs()), "tiny")
    assert "| greedy | T = 1 |" in table.splitlines()[0]  # in the order first run
    assert body(table)[1][2:4] == ["60.0 %", "—"]  # not run at T = 1 on this picture
    assert page.role(TEST_PICTURE) == "held out"
    lines = page.generalisation(runs, "tiny", "T = 1")
    assert lines[0].startswith("  held out, T = 1: 10.0 points (95 % CI 10.0–10.0 points)")
    assert lines[0].endswith("over 2 contexts") and lines[1].startswith("trained on, T = 1: 10.0")


def test_canvases_are_clipped_so_that_runaway_text_cannot_swamp_the_page():
    lines = page.clipped(["x" * 50] + ["y\r\u30ce"] * 30, clip=(40, 20))
    assert lines[0] == "x" * 40 + "…" and lines[-1] == "… 11 more rows" and len(lines) == 21
    assert lines[1] == "y··"  # a carriage return and a katakana letter, drawn as dots
    assert page.clipped([]) == ["(nothing)"]


def test_canvases_are_text_in_pre_panels_row_by_row():
    sequence = held_out_sequence(RECIPE, 0)
    rows = page.sequence_panels(sequence)
    assert [len(row) for row in rows] == [len(RECIPE.sizes)] * 2
    assert rows[0][0][0] == f"step 1, {RECIPE.noise[0]:.0%}" and rows[1][-1][0].endswith("no noise")
    assert rows[1][-1][1] == list(sequence.clean[-1])  # the whole last canvas, unclipped
    figure = page.canvases_html(rows, 'a <"caption">', small=True)
    assert figure.startswith('<figure class="ascii-canvases ascii-small"><div><div><p>step 1, ')
    assert figure.count("<pre>") == 2 * len(RECIPE.sizes) and figure.count("</figure>") == 1
    assert html.escape(sequence.clean[-1][0]) in figure  # a canvas row, as text
    assert "<figcaption>a &lt;&quot;caption&quot;&gt;</figcaption>" in figure
    assert 'class="ascii-canvases"' in page.canvases_html(rows, "x")
    assert ".ascii-canvases pre" in page.STYLE


def test_runs_are_shown_for_one_seed_and_all_in_rows_per_decoding():
    runs = fake_runs()
    sequences = {s: held_out_sequence(RECIPE, s) for s in (0, 1)}
    given, written = page.runs_panels(runs[:4], sequences, 0)
    k = RECIPE.context
    assert [title for title, _ in given] == [f"step {k}, as shown", f"step {k + 1}, the truth"]
    assert [title for title, _ in written] == ["written, T = 1", "written, greedy"]
    assert written[0][1] == ["ab"]
    rows = page.all_runs_panels(runs[:4])
    assert [[title for title, _ in row] for row in rows] == [
        ["T = 1, seed 0", "T = 1, seed 1"],
        ["greedy, seed 0", "greedy, seed 1"],
    ]


def test_figures_draw_and_are_deterministic():
    runs = fake_runs()
    figures = [page.scores_figure(runs, ["lm", "tiny"]), page.loss_figure([3.0, 2.0, 1.5])]
    assert all(isinstance(f, Figure) for f in figures)
    assert to_svg(page.loss_figure([3.0, 2.0])) == to_svg(page.loss_figure([3.0, 2.0]))


def test_figure_html_embeds_an_image_with_alt_text_and_a_dark_mode_rule():
    fig = page.loss_figure([2.0, 1.0])
    svg = page.figure_html(fig, 'a "loss" curve', png=False)
    assert 'alt="a &quot;loss&quot; curve"' in svg and 'class="ascii-figure"' in svg
    assert 'data-md-color-scheme="slate"] img.ascii-figure' in page.STYLE
    data = re.search(r'src="data:image/svg\+xml;base64,([^"]+)"', svg).group(1)
    assert base64.b64decode(data).startswith(b"<?xml")
    png = page.figure_html(fig, "curve", png=True)
    data = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', png).group(1))
    assert data.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(data))
    assert image.mode == "P" and len(image.getcolors()) <= 64  # a palette of at most 64 colours
    assert page.figure_html(fig, "curve", png=True) == png  # no timestamp in the PNG


def test_figure_html_picks_the_lighter_of_pixels_and_vectors():
    runs = fake_runs()
    for fig in (page.loss_figure([2.0, 1.0]), page.scores_figure(runs, ["lm", "tiny"])):
        svg, png = page.figure_html(fig, "x", png=False), page.figure_html(fig, "x", png=True)
        assert page.figure_html(fig, "x") == min(svg, png, key=len)


def test_source_shows_the_code_that_runs_folded():
    block = page.source(page.percent, page.clipped)
    assert block.startswith('<details class="abstract">\n<summary>The code: <code>percent</code>, ')
    assert "<code>clipped</code></summary>\n\n```python\ndef percent(" in block
    assert block.endswith("\n```\n\n</details>")
    assert "5 seeds (0, 1, 2, 3, 4)" in page.seeds_and_decodings()


# --- the page's claims, on the page's own runs (cached by the site build) ------------------


@pytest.fixture(scope="module")
def everywhere():
    """The tiny model and the rules on every picture, held out and trained on."""
    from snippets.ascii.tiny_model import PICTURES, tiny_runs

    return tiny_runs(RECIPE) + baseline_runs(RECIPE, SEEDS, PICTURES)


@pytest.fixture(scope="module")
def chat():
    from snippets.ascii.pretrained import chat_runs

    return chat_runs(RECIPE)


@pytest.fixture(scope="module")
def runs(everywhere):
    """Everything on the picture every model is compared on, as on the page."""
    from snippets.ascii.pretrained import pretrained_runs

    here = [r for r in everywhere if r.picture == TEST_PICTURE and not r.rule]
    return pretrained_runs(RECIPE) + here + baseline_runs(RECIPE, SEEDS)


@pytest.fixture(scope="module")
def names(runs):
    from snippets.ascii.tiny_model import NAME

    return runs[0].model, NAME


def test_every_run_is_in_the_table(runs, names):
    for model in names:
        made = [(r.temperature, r.seed) for r in runs if r.model == model]
        assert made == [(t, s) for t in TEMPERATURES for s in SEEDS]
        assert len(body(page.runs_table([r for r in runs if r.model == model]))) == len(made)


@pytest.mark.claim
def test_the_chat_template_does_not_rescue_the_pretrained_model(runs, chat):
    # "never writes a canvas of the right size … fewer cells right than stretching"
    assert chat and {r.decoding for r in chat} == {"T = 1"} and len(chat) == len(SEEDS)
    stretch = page.mean_of(runs, "stretch the last step", "accuracy")
    assert not any(r.score.right_size for r in chat)
    assert page.mean_of(chat, chat[0].model, "accuracy") < stretch


@pytest.mark.claim
def test_the_tiny_model_beats_copying_the_last_step_on_the_held_out_picture(runs, names):
    _, tiny = names
    copy = page.mean_of(runs, "copy the last step", "accuracy")
    for decoding in page.decodings_of(runs, tiny):
        assert page.mean_of(runs, tiny, "accuracy", decoding) > copy
    assert all(r.score.right_size for r in runs if r.model == tiny)
    assert page.mean_of(runs, tiny, "noise_left") < 0.01


@pytest.mark.claim
def test_the_pretrained_model_fails_as_the_page_says(runs, names):
    model, _ = names
    mine = [r for r in runs if r.model == model]
    stretch = page.mean_of(runs, "stretch the last step", "accuracy")
    assert not any(r.score.right_size for r in mine)  # "in no run … the right size"
    for decoding in page.decodings_of(runs, model):  # "far fewer than simply stretching"
        assert page.mean_of(runs, model, "accuracy", decoding) < stretch / 2
    assert page.mean_of(runs, model, "noise_left", "T = 1") > 0.5  # "mostly noise"
    greedy = [r for r in mine if r.decoding == "greedy"]  # "a loop … until it gives up"
    assert page.mean_of(runs, model, "repeats", "greedy") > max(
        0.5, 3 * page.mean_of(runs, "the true step", "repeats")
    )
    assert all(r.ended.startswith("gave up") for r in greedy)
    assert max(r.score.copy for r in mine) < 0.5  # "no run comes close to a verbatim copy"


@pytest.mark.claim
def test_the_tiny_model_does_what_the_page_says(runs, names):
    _, tiny = names
    rules = {rule: page.mean_of(runs, rule, "accuracy") for rule in page.RULES}

    def accuracy(decoding):
        return page.mean_of(runs, tiny, "accuracy", decoding)

    for decoding in ("greedy", "T = 0.4"):  # "more cells exactly right than any of the rules"
        assert all(accuracy(decoding) > value for value in rules.values())
    # "at T = 1.0 it loses its edge over the hand-written denoiser" (but not over the others)
    assert rules["stretch the last step"] < accuracy("T = 1") < rules["stretch and denoise"]
    assert accuracy("greedy") > accuracy("T = 1") and accuracy("T = 0.4") > accuracy("T = 1")
    # "… canvases repeat themselves more than the true picture does"
    assert page.mean_of(runs, tiny, "repeats", "greedy") > max(
        page.mean_of(runs, "the true step", "repeats"), page.mean_of(runs, tiny, "repeats", "T = 1")
    )


def gap(lines: list[str]) -> float:
    """The estimate, in points, from a line of `page.generalisation`."""
    return float(lines.split(": ")[1].split(" points")[0])


def test_the_tiny_model_is_run_on_every_picture_at_the_decodings_the_page_says(everywhere):
    from snippets.ascii.tiny_model import NAME, PICTURES

    mine = [r for r in everywhere if r.model == NAME]
    assert {r.picture for r in mine} == set(PICTURES)
    others = {r.decoding for r in mine if r.picture != TEST_PICTURE}
    assert others == {"T = 1", "greedy"}
    assert len(body(page.picture_table(everywhere, NAME))) == len(PICTURES)


@pytest.mark.claim
def test_the_tiny_model_on_held_out_and_training_pictures_does_what_the_page_says(everywhere):
    from snippets.ascii.tiny_model import NAME, PICTURES

    mine = [r for r in everywhere if r.model == NAME]
    assert sum(r.score.right_size for r in mine) >= 0.95 * len(mine)  # "in nearly every run"
    for picture in PICTURES:  # "greedily … more cells exactly right than the denoiser on each"
        here = [r for r in everywhere if r.picture == picture]
        assert page.mean_of(here, NAME, "accuracy", "greedy") > page.mean_of(here, page.DENOISER, "accuracy")
    held, trained = page.generalisation(everywhere, NAME, "greedy")
    assert float(held.split("CI ")[1].split("–")[0]) > 0  # the margin on held-out pictures is real
    assert 0 < gap(trained) - gap(held) < gap(held)  # "a generalisation gap, smaller than the margin"
    held, _ = page.generalisation(everywhere, NAME, "T = 1")
    assert -5 < gap(held) < 0  # "at T = 1 it falls slightly below the denoiser" on held-out
