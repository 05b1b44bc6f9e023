"""`python -m snippets` lists the page modules; each runs with `--help` and with its defaults."""

import json
import runpy
import sys

import pytest
from rich.console import Console

from snippets import sampling
from snippets.ascii.canvas import Recipe
from state_simulators import artifacts, cli, includes, runner, sources

ASCII_CANVAS = "snippets.ascii.canvas"
DECLARING = sorted({a.module.removeprefix("snippets.") for a in artifacts.discover().values()})


def recorded() -> Console:
    return Console(record=True, width=120)


def test_every_module_that_declares_artifacts_is_runnable_and_helpers_are_not():
    names = set(runner.runnable_modules())
    assert set(DECLARING) <= names
    assert not names & {"plotting", "tables", "decoder"}
    assert all(path.is_relative_to(sources.SNIPPETS) for path in runner.runnable_modules().values())


def test_the_listing_rows_name_each_module_its_summary_and_its_pages():
    rows = {name: (summary, pages) for name, summary, pages in runner.module_rows()}
    assert set(rows) == set(runner.runnable_modules())
    for name, (summary, pages) in rows.items():
        assert summary == sources.summary(runner.runnable_modules()[name]) and summary, name
        assert pages.split(", ") == includes.pages_showing(f"snippets.{name}"), name


def test_python_dash_m_snippets_lists_every_runnable_module(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    for name in runner.runnable_modules():
        assert name in out, name


@pytest.mark.filterwarnings("ignore:'snippets.* found in sys.modules:RuntimeWarning")  # runpy
@pytest.mark.parametrize("name", sorted(runner.runnable_modules()))
def test_help_describes_the_module_and_its_page(name, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [f"snippets/{name}.py", "--help"])
    with pytest.raises(SystemExit) as stop:
        runpy.run_module(f"snippets.{name}", run_name="__main__")
    out = capsys.readouterr().out
    assert stop.value.code == 0
    assert f"usage: python -m snippets.{name}" in out
    assert sources.summary(runner.runnable_modules()[name])[:40] in " ".join(out.split())
    shown = out.split("shown on: ")[1].split()[0].rstrip(",")
    assert (includes.DOCS / shown).is_file(), f"{name} names no real page: {shown}"


def test_the_facts_rows_are_the_numbers_the_page_quotes(lm):
    home = artifacts.discover()["facts/home"]
    rows, _ = runner.facts_rows(home)
    assert dict(rows) == json.loads(artifacts.produce(home)[0])
    assert runner.facts_rows(home)[1]  # the second time, from the cache


def test_default_run_prints_the_facts_and_names_the_figures(lm):
    console = recorded()
    assert runner.run("snippets.next_token", [], console) == 0
    out = console.export_text()
    home = json.loads(artifacts.produce(artifacts.discover()["facts/home"])[0])
    assert home["top_token"] in out and home["top_p"] in out
    assert "figures/next-token.svg" in out and "--figures DIR" in out


def test_figures_option_writes_the_same_bytes_as_the_build(lm, tmp_path):
    console = recorded()
    assert runner.run("snippets.explorer", ["--figures", str(tmp_path)], console) == 0
    for artifact in runner.declared("snippets.explorer"):
        if artifact.kind != "facts":
            assert (tmp_path / artifact.path).read_bytes() == artifacts.produce(artifact)[0]
    assert f"wrote {tmp_path}" in console.export_text()
    assert runner.write_files("snippets.explorer", tmp_path / "again") == [
        tmp_path / "again" / a.path for a in runner.declared("snippets.explorer") if a.kind != "facts"
    ]


def test_a_module_demo_computes_its_rows_from_its_own_options(lm):
    parser = runner.build_parser("snippets.sampling")
    sampling.add_arguments(parser)
    rows = {
        row[0]: row for row in sampling.demo_rows(parser.parse_args(["--temperature", "0.7", "--top-k", "7"]))
    }
    assert rows["top-k 7"][1] == 7 and rows["temperature only"][1] == lm.model.config.vocab_size
    assert rows["top-k 7"][2] < rows["temperature only"][2]  # a cut leaves less uncertainty
    console = recorded()
    assert (
        runner.run(
            "snippets.sampling", ["--temperature", "0.7", "--top-k", "7", "--prompt", "[bold]x"], console
        )
        == 0
    )
    assert "'[bold]x'" in console.export_text()  # the reader's text, not Rich markup


@pytest.mark.parametrize(
    "module, argv, message",
    [
        ("snippets.sampling", ["--seed", "-1"], "must be between 0 and"),
        ("snippets.sampling", ["--top-k", "0"], "must be at least 1"),
        ("snippets.continuations", ["--tokens", "0"], "must be at least 1"),
        ("snippets.ascii.canvas", ["--seed", "x"], "must be a whole number"),
    ],
)
def test_every_numeric_option_is_checked_in_one_line(module, argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        runner.run(module, argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and message in err and err.count("\n") == 1


def test_bad_input_is_one_line_and_status_1(lm, capsys):
    assert runner.run("snippets.sampling", ["--temperature", "0"], recorded()) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "temperature" in err and err.count("\n") == 1


def test_usage_error_exits_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as stop:
        runner.run("snippets.temperature", ["--no-such-option"])
    assert stop.value.code == 2 and capsys.readouterr().err.count("\n") == 1


def test_pages_showing_finds_includes_and_notebook_imports():
    assert includes.pages_showing("snippets.layers") == ["layers-as-painters.md"]
    assert "ascii-diffusion.py" in includes.pages_showing(ASCII_CANVAS)
    assert includes.pages_showing("snippets.no_such_module") == []


def test_continuations_demo_greedy_once_sampled_per_replicate(lm):
    greedy = recorded()
    assert runner.run("snippets.continuations", ["--tokens", "3"], greedy) == 0
    assert greedy.export_text().count("greedy, row") == 1
    sampled = recorded()
    args = ["--tokens", "12", "--temperature", "1.0", "--replicates", "2", "--prompt", "Hello"]
    assert runner.run("snippets.continuations", args, sampled) == 0
    text = sampled.export_text()
    assert text.count("T = 1, row") == 2 and "of its 4-grams repeat" in text


def test_ascii_canvas_demo_prints_every_step_of_a_sequence():
    console = recorded()
    assert runner.run(ASCII_CANVAS, ["--seed", "1"], console) == 0
    text = console.export_text()
    recipe = Recipe()
    assert text.count("step ") == len(recipe.sizes)
    columns, rows = recipe.sizes[-1]
    assert f"step {len(recipe.sizes)}: {columns} × {rows}, 0% noise" in text


def test_a_prompt_that_is_not_utf8_is_one_line_in_a_page_module(capsys, lm):
    assert runner.run("snippets.sampling", ["--prompt", "abc\udcff"], recorded()) == 1
    err = capsys.readouterr().err
    assert err == "error: the prompt is not valid UTF-8 (byte 0xff at position 3): pass UTF-8 text\n"
