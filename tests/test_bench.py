"""`make bench` (bench/): its pure parts, the programs it runs, and the page that holds its output.

The benchmark itself is not run here: it takes many minutes, and its numbers are the machine's.
"""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))  # bench/ is not installed; `python -m pytest` would find it anyway
from bench import bench, measure_builds, measure_model, measure_serve, measure_tests, parse, report, weights
from bench.machine import cpu_model
from bench.process import BenchError, Run, run_timed
from bench.programs import closures
from bench.rows import Row, against, fmt, judge, not_measured, summary, value_cell, verdict
from bench.workspace import PROBE, Built, Workspace, model_only_cache
from state_simulators import environment
from state_simulators.build import Made, Report
from state_simulators.cache import CACHE_ENV

# ---------------------------------------------------------------------------------------------
# Rows and verdicts


def test_summary_is_median_min_max():
    assert summary([3.0, 1.0, 2.0, 10.0]) == (2.5, 1.0, 10.0)
    assert summary([4.0]) == (4.0, 4.0, 4.0)
    with pytest.raises(ValueError):
        summary([])


@pytest.mark.parametrize(
    "value, op, limit, expected",
    [
        (1.9, "<=", 2, "met"),
        (2.0, "<=", 2, "met"),
        (2.1, "<=", 2, "missed"),
        (12, ">=", 10, "met"),
        (9.9, ">=", 10, "missed"),
    ],
)
def test_judge(value, op, limit, expected):
    assert judge(value, op, limit) == expected


def test_judge_refuses_an_unknown_comparison():
    with pytest.raises(ValueError, match="unknown comparison '<'"):
        judge(1, "<", 2)


def test_a_target_is_judged_on_the_median_not_the_best_run():
    row = against(Row("reload", [1.0, 2.5, 3.0], "s"), "<=", 2)
    assert (row.status, row.target, row.n) == ("missed", "≤ 2.00 s", 3)
    assert against(Row("reload", [1.0, 1.5, 3.0], "s"), "<=", 2).status == "met"
    assert against(Row("tests", [], "s"), "<=", 600).status == "not measured"
    skipped = not_measured(against(Row("tests", [], "s"), "<=", 180), "run with --skip-tests")
    assert (skipped.status, skipped.note, skipped.target) == (
        "not measured",
        "run with --skip-tests",
        "≤ 180 s",
    )


def test_values_are_shown_with_their_range_and_unit():
    assert value_cell(Row("x", [1.0, 2.0, 3.5], "s")) == "2.00 s (1.00 s – 3.50 s)"
    assert value_cell(Row("x", [1.5, 1.5], "s")) == "1.50 s"
    assert value_cell(Row("x", [1_234_567], "bytes")) == "1.23 MB"
    assert value_cell(Row("x", [12.34], "x")) == "12.3×"
    assert value_cell(Row("x", [2], "text", text="2 of 32")) == "2 of 32"
    assert value_cell(Row("x", [], "s")) == "—"
    assert fmt(185.2, "s") == "185 s" and fmt(42_000, "bytes") == "42 KB" and fmt(7, "n") == "7"
    assert [fmt(b, "bytes") for b in (0, 999, 266_000, 1_500_000, 1_705_370_000)] == [
        "0 B",
        "999 B",
        "266 KB",
        "1.5 MB",
        "1.71 GB",
    ]


def rows():
    return [
        against(Row("Cold build", [150.0], "s", rss_kb=[1_000_000]), "<=", 180),
        against(Row("Warm build", [9.0, 8.0, 10.0], "s"), "<=", 5),
        Row("Plain build", [2.0], "s"),
        not_measured(against(Row("Test suite", [], "s"), "<=", 180), "run with --skip-tests"),
    ]


def test_the_verdict_names_every_missed_target_in_words():
    words = verdict(rows())
    assert "misses 1 of its 2 targets" in words
    assert "Warm build (9.00 s (8.00 s – 10.0 s), target ≤ 5.00 s)" in words
    assert "Cold build" not in words
    assert "Not measured in this run: Test suite." in words
    assert verdict(rows()[:1]) == "This run meets all 1 of its targets."


def test_the_verdict_says_why_when_the_number_alone_does_not():
    suite = against(Row("Test suite", [100.0], "s"), "<=", 180)
    suite.status, suite.why = "missed", "2 failed; coverage 99.52 % (the gate asks 100 %)"
    words = verdict([suite])
    assert words == (
        "**This run misses 1 of its 1 targets:** Test suite (100 s, target ≤ 180 s: "
        "2 failed; coverage 99.52 % (the gate asks 100 %))."
    )


# ---------------------------------------------------------------------------------------------
# The table, the page and the results file


def test_the_markdown_table_has_a_line_per_measure_and_says_missed():
    table = report.results_table(rows())
    lines = table.splitlines()
    assert len(lines) == 2 + 4
    assert lines[0] == "| Measure | Median (min – max) | Target | Result |"
    assert set(lines[1]) == set("|-")
    cold, warm, plain, tests = lines[2:]
    assert "| 150 s |" in cold and "peak 1.02 GB" in cold and "| met |" in cold
    assert "9.00 s (8.00 s – 10.0 s)" in warm and "**missed**" in warm and "≤ 5.00 s" in warm
    assert "met" not in plain and "missed" not in plain
    assert "not measured" in tests and "--skip-tests" in tests
    assert all(line.count("|") == lines[0].count("|") for line in lines)


def test_n_memory_and_notes_stand_beneath_the_measure_and_only_when_there_are_some():
    assert report.measure_cell(Row("Cold", [1.0, 2.0], "s", n=2, rss_kb=[1024, 2048], note="a\nb")) == (
        "Cold<br><small>n = 2; peak 2.1 MB; a b</small>"
    )
    assert report.measure_cell(Row("Bare", [], "s")) == "Bare"


def test_a_pipe_in_a_cell_does_not_break_the_table():
    table = report.results_table([Row("a | b", [1.0], "s", note="x\ny")])
    assert table.splitlines()[2].startswith("| a \\| b<br><small>n = 1; x y</small> | 1.00 s |")


def test_the_results_block_has_no_heading_deeper_than_one_below_the_pages_results():
    block = report.block(rows(), details({"figures/a.svg": 1.0}), {**INFO, "uncommitted": False}, OPTIONS)
    levels = {len(m) for m in re.findall(r"^(#+) ", block, flags=re.MULTILINE)}
    assert levels == {3}


def test_the_block_between_the_markers_is_replaced_and_nothing_else(tmp_path):
    page = f"# Title\n\nProse.\n\n{report.START}\nold table\n{report.END}\n\nMore prose.\n"
    new = report.replace_block(page, "new table\n")
    assert new == f"# Title\n\nProse.\n\n{report.START}\nnew table\n{report.END}\n\nMore prose.\n"
    assert report.replace_block(new, "new table") == new
    for broken in ("no markers", f"{report.END}\n{report.START}", f"{report.START} only"):
        with pytest.raises(ValueError, match="markers"):
            report.replace_block(broken, "x")
    path = tmp_path / "performance.md"
    path.write_text(page)
    report.write_page(path, "written")
    assert path.read_text() == page.replace("old table", "written")


def test_artifact_paths_are_not_left_for_the_build_to_resolve():
    text = report.unreferenced(
        "made: figures/layer-skip.svg, data/explorer.json, facts/kv_cache; snippets/x.py"
    )
    assert text == "made: layer-skip.svg, explorer.json, kv_cache (facts); snippets/x.py"


def test_the_options_are_written_as_typed():
    options = {"repeat": 3, "cold_repeat": 1, "test_repeat": 2, "skip_tests": False, "fresh_clone": True}
    assert report.options_text(options) == "--repeat 3 --cold-repeat 1 --test-repeat 2 --fresh-clone"
    assert report.options_text({**options, "skip_tests": True, "fresh_clone": False}).endswith("--skip-tests")


INFO = {
    "date": "2026-12-01 10:00 UTC",
    "commit": "abc1234",
    "uncommitted": True,
    "cpus": 2,
    "cpu_model": "Test CPU",
    "python": "3.11.7",
    "versions": {"torch": "2.0", "mkdocs": "1.6.1"},
}
OPTIONS = {"repeat": 3, "cold_repeat": 1, "test_repeat": 1, "skip_tests": True}


def details(seconds):
    return {
        "page_weights": [
            {"page": "index.html", "html": 45_600, "assets": 315_000, "files": 6, "total": 360_600}
        ],
        "search_index_bytes": 208_000,
        "cold_artifact_seconds": seconds,
    }


def test_the_block_states_when_where_and_what_was_measured():
    seconds = {f"figures/f{i}.svg": 40.0 - i for i in range(10)} | {"facts/kv_cache": 0.5}
    text = report.block(rows(), details(seconds), INFO, OPTIONS)
    first = text.splitlines()[0]
    assert first.startswith("Measured by `make bench` on 2026-12-01 10:00 UTC, at commit `abc1234` with")
    assert "on 2 CPUs (Test CPU); Python 3.11.7, torch 2.0, mkdocs 1.6.1." in first
    assert first.endswith("Options: `--repeat 3 --cold-repeat 1 --test-repeat 1 --skip-tests`.")
    assert "| index.html | 45.6 KB | 315 KB | 6 | 361 KB |" in text and "(208 KB)" in text
    slowest = text[text.index("### Slowest") :].splitlines()
    assert "| f0.svg | figure | 40.0 |" in slowest and "| f7.svg | figure | 33.0 |" in slowest
    assert not any("f8.svg" in line or "kv_cache" in line for line in slowest)  # the 8 slowest
    assert "### Slowest" not in report.block(rows(), details({}), {**INFO, "uncommitted": False}, OPTIONS)
    assert not re.search(r"\b(?:figures|data|facts)/", text)


def test_the_results_file_keeps_every_row(tmp_path):
    path = tmp_path / "results.json"
    report.write_results(path, rows(), details({}), INFO, OPTIONS)
    saved = json.loads(path.read_text())
    assert saved["machine"] == INFO and saved["options"] == OPTIONS and saved["search_index_bytes"] == 208_000
    assert report.read_rows(path) == rows()


def test_the_terminal_table_colours_the_results(capsys):
    report.print_table(rows(), INFO)
    out = capsys.readouterr().out
    assert "State Simulators on 2 CPUs (Test CPU)" in out
    assert all(measure in out for measure in ("Cold build", "Warm build", "Plain build", "Test suite"))
    assert "This run misses 1 of its 2 targets" in out and "**" not in out


# ---------------------------------------------------------------------------------------------
# Page weight


def test_page_weight_counts_each_loaded_local_file_once(tmp_path):
    site = tmp_path / "site"
    for path, size in {
        "assets/style.css": 1000,
        "assets/app.js": 3000,
        "assets/favicon.png": 100,
        "figures/plot.svg": 20_000,
        "figures/wide.svg": 500,
        "data/table.json": 7000,
        "unused.js": 50_000,
        "notebook.py": 9000,
    }.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(b"x" * size)
    (site / "index.html").write_text(
        '<link rel="stylesheet" href="assets/style.css"><link rel="icon" href="assets/favicon.png">'
        '<link rel="canonical" href="https://example.org/"><link rel="preload"><script src="assets/app.js">'
        '</script><img src="figures/plot.svg"><img src="figures/plot.svg#again"><img src="missing.svg">'
        '<img src="https://example.org/remote.png"><img src="data:image/png;base64,AAAA">'
        '<a href="notebook.py">download</a><img src="#top"/>'
    )
    (site / "explorer").mkdir()
    (site / "explorer" / "index.html").write_text(
        '<link rel="stylesheet" href="../assets/style.css"><script src="/assets/app.js"></script>'
        '<div data-src="../data/table.json"></div><img src="../../outside.png">'
        '<img srcset="../figures/wide.svg 2x, ../figures/plot.svg 1x,">'
    )
    (tmp_path / "outside.png").write_bytes(b"x" * 999)
    found = {w["page"]: w for w in weights.page_weights(site)}
    assert sorted(found) == ["explorer/index.html", "index.html"]
    home, explorer = found["index.html"], found["explorer/index.html"]
    assert (home["assets"], home["files"]) == (1000 + 3000 + 100 + 20_000, 4)
    assert home["total"] == home["html"] + home["assets"] == (site / "index.html").stat().st_size + 24_100
    assert (explorer["assets"], explorer["files"]) == (1000 + 3000 + 7000 + 500 + 20_000, 5)
    assert weights.weight_row(list(found.values())).note.startswith("explorer/index.html, 5 files")
    assert weights.search_index_bytes(site) == 0
    (site / "search").mkdir()
    (site / "search" / "search_index.json").write_text("{}")
    assert weights.search_index_bytes(site) == 2


def test_the_heaviest_page_is_judged_against_the_limit():
    light = {"page": "a.html", "total": 1_000_000, "files": 3}
    heavy = {"page": "b.html", "total": 1_600_000, "files": 5}
    row = weights.weight_row([light, heavy])
    assert (row.values, row.status) == ([1_600_000], "missed") and row.note.startswith("b.html")
    assert weights.weight_row([light]).status == "met"


# ---------------------------------------------------------------------------------------------
# Reading what processes leave behind


def build_report(tmp_path, made, imported=()) -> Report:
    """A report as a build writes it, read back as the benchmark reads it."""
    path = tmp_path / "report.json"
    Report(made=[Made(p, c, s, ["index.md"]) for p, c, s in made], imported=list(imported)).write(path)
    return Report.read(path)


def test_the_build_report_says_what_was_computed_and_what_was_served(tmp_path):
    read = build_report(
        tmp_path,
        [
            ("figures/a.svg", False, 1.5),
            ("data/b.json", True, 0.01),
            ("facts/c", False, 12.0),
            ("facts/d", False, 1.5),
        ],
    )
    assert parse.computed(read) == {"facts/c": 12.0, "facts/d": 1.5, "figures/a.svg": 1.5}
    assert list(parse.computed(read)) == ["facts/c", "facts/d", "figures/a.svg"]  # slowest first
    assert parse.served(read) == {"figures/a.svg", "data/b.json", "facts/c", "facts/d"}
    assert parse.computed(build_report(tmp_path, [])) == {}


def probe_record(folder: Path, pid: int, imported: list[str] | None) -> None:
    (folder / f"{pid}.start").touch()
    if imported is not None:
        (folder / f"{pid}.json").write_text(json.dumps({"argv": ["x"], "imported": imported}))


def test_the_probe_records_answer_yes_no_or_unknown(tmp_path):
    probe_record(tmp_path, 1, [])
    assert parse.probe_imports(tmp_path) == []
    probe_record(tmp_path, 2, None)  # started, never reported: it died
    assert parse.probe_imports(tmp_path) is None
    probe_record(tmp_path, 3, ["transformers", "torch"])
    assert parse.probe_imports(tmp_path) == ["torch", "transformers"]


def test_the_probe_records_what_each_python_process_imported(tmp_path):
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "torch.py").write_text("")  # stands in for torch: the probe looks at names only
    records = tmp_path / "records"
    records.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROBE), str(fake)]),
        "BENCH_PROBE_DIR": str(records),
    }
    for code in ("import json", "import torch"):
        subprocess.run([sys.executable, "-c", code], env=env, check=True)
    reports = [json.loads(p.read_text()) for p in records.glob("*.json")]
    assert sorted(r["imported"] for r in reports) == [[], ["torch"]]
    assert len(list(records.glob("*.start"))) == 2
    assert parse.probe_imports(records) == ["torch"]
    env.pop("BENCH_PROBE_DIR")
    subprocess.run([sys.executable, "-c", "import torch"], env=env, check=True)
    assert len(list(records.iterdir())) == 4  # without the variable it records nothing


def test_log_and_summary_parsers():
    executed = "INFO - Converting notebook (execute=True): /p/docs/ascii-diffusion.py\n"
    assert parse.notebooks_executed(executed + "INFO - Cache hit: /p/docs/other.py\n") == 1
    assert parse.notebooks_executed("INFO - Converting notebook (execute=False): x.py\n") == 0
    time_v = (
        "\tUser time (seconds): 12.50\n\tSystem time (seconds): 1.25\n"
        "\tMaximum resident set size (kbytes): 404000\n"
    )
    assert parse.parse_time_v(time_v) == {"max_rss_kb": 404000, "user_s": 12.5, "system_s": 1.25}
    assert parse.parse_time_v("") == {}
    output = (
        "== 3 failed in 1.0s ==\nmore\n===== 120 passed, 3 skipped, 2 errors in 301.52s (0:05:01) =====\n"
    )
    assert parse.parse_pytest(output) == {"passed": 120, "skipped": 3, "error": 2}
    assert parse.parse_pytest("no summary") == {}


CLEAN = "===== 480 passed, 1 skipped in 170.20s (0:02:50) =====\nRequired test coverage of 100% reached.\n"


@pytest.mark.parametrize(
    "output, returncode, problems",
    [
        (CLEAN, 0, []),
        ("== 2 failed, 470 passed, 1 error in 9.0s ==\n", 1, ["2 failed", "1 error"]),
        (
            "FAIL Required test coverage of 100.0% not reached. Total coverage: 99.52%\n"
            "== 471 passed in 9.0s ==",
            1,
            ["coverage 99.52 % (the gate asks 100.0 %)"],
        ),
        (
            CLEAN + "!!!! browser tests were skipped: no Chromium at /usr/bin/chromium !!!!\n",
            0,
            ["browser tests skipped"],
        ),
        ("Killed\n", 137, ["exit 137"]),
    ],
)
def test_a_suite_run_says_in_words_what_went_wrong(output, returncode, problems):
    assert parse.suite_problems(output, returncode) == problems


def test_the_test_command_is_the_makefiles():
    assert parse.makefile_variable("A := x\nCOVERAGE := --cov=a --cov-fail-under=100\n", "COVERAGE") == [
        "--cov=a",
        "--cov-fail-under=100",
    ]
    assert parse.makefile_variable("COVERAGE = 'a b'\n", "COVERAGE") == ["a b"]
    with pytest.raises(ValueError, match="the Makefile sets no COVERAGE"):
        parse.makefile_variable("NOCOVERAGE := x\n", "COVERAGE")
    command = measure_tests.pytest_command()
    assert command[:3] == [sys.executable, "-m", "pytest"]
    makefile = (ROOT / "Makefile").read_text()
    assert "$(BIN)/python -m pytest $(COVERAGE)" in makefile  # what `make test` runs
    assert " ".join(command[3:]) in makefile and any(o.startswith("--cov-fail-under=") for o in command)


def test_page_urls():
    assert [parse.page_url(p) for p in ("index.md", "kv-cache.md", "sub/index.md")] == [
        "",
        "kv-cache/",
        "sub/",
    ]


# ---------------------------------------------------------------------------------------------
# The measures' rows, from what their processes reported


def built(tmp_path, seconds, made=(), output="", imported=(), rss=None) -> Built:
    run = Run(seconds, 0, output, rss, tmp_path / "x.log")
    return Built(run, tmp_path, None if imported is None else list(imported), build_report(tmp_path, made))


def test_the_cold_build_row_counts_what_it_computed(tmp_path):
    made = [("figures/a.svg", False, 30.0), ("facts/b", False, 1.0), ("data/c.json", True, 0.0)]
    log = "Converting notebook (execute=True): x.py\n"
    row = measure_builds.cold_row([built(tmp_path, 170.0, made, log, rss=2_000_000)])
    assert (row.values, row.status, row.rss_kb) == ([170.0], "met", [2_000_000])
    assert row.note == "2 artifacts computed, 1 notebook executed; 1 came from a cache: data/c.json"
    slow = measure_builds.cold_row([built(tmp_path, 200.0, made[:1])])
    assert (slow.status, slow.note) == ("missed", "1 artifacts computed, 0 notebook executed")


def test_the_warm_build_row_names_anything_it_recomputed(tmp_path):
    cached = [("figures/a.svg", True, 0.01)]
    assert measure_builds.warm_row([built(tmp_path, 2.0, cached)] * 2).note == "nothing recomputed"
    remade = measure_builds.warm_row([built(tmp_path, 6.0, [("facts/b", False, 0.5)], "execute=True)")])
    assert (remade.status, remade.note) == ("missed", "recomputed 1: facts/b")
    notebook = measure_builds.warm_row([built(tmp_path, 2.0, cached, "Converting notebook (execute=True)")])
    assert notebook.note == "recomputed 1: the notebook"


def test_the_ratio_is_of_the_medians(tmp_path):
    warm = [built(tmp_path, s) for s in (2.0, 3.0, 30.0)]
    plain = [built(tmp_path, s) for s in (1.0, 1.5, 2.0)]
    row = measure_builds.ratio_row(warm, plain)
    assert (row.values, row.n, row.status) == ([2.0], 3, "missed")
    assert measure_builds.ratio_row(plain, warm).status == "met"


def test_the_imports_row_is_yes_no_or_unknown(tmp_path):
    no = measure_builds.imports_row([built(tmp_path, 1.0, imported=[])] * 2)
    assert (no.text, no.status, no.n) == ("no", "met", 2)
    yes = measure_builds.imports_row(
        [built(tmp_path, 1.0, imported=["torch"]), built(tmp_path, 1.0, imported=None)]
    )
    assert (yes.text, yes.status, yes.note) == ("yes, in 1 of 2 builds", "missed", "torch")
    unknown = measure_builds.imports_row([built(tmp_path, 1.0, imported=None)])
    assert (unknown.status, unknown.note) == ("not measured", "a process exited unreported")


CLOSURES = {
    "figures/a.svg": ["snippets/a.py", "snippets/common.py"],
    "figures/b.svg": ["snippets/b.py", "snippets/common.py"],
    "facts/b": ["snippets/b.py", "snippets/common.py"],
    "figures/unused.svg": ["snippets/c.py", "snippets/common.py"],
}
USED = {"figures/a.svg", "figures/b.svg", "facts/b"}


def test_the_snippet_edited_is_the_one_with_fewest_dependants():
    assert measure_serve.dependants(CLOSURES, "snippets/b.py") == {"figures/b.svg", "facts/b"}
    assert measure_serve.pick_snippet(CLOSURES, USED) == "snippets/a.py"  # c.py's only artifact is unused
    with pytest.raises(StopIteration):
        measure_serve.pick_snippet(CLOSURES, set())


def test_a_snippet_edit_must_recompute_exactly_its_dependants():
    expected = {"figures/b.svg", "facts/b"}
    exact = measure_serve.recomputed_row("snippets/b.py", [sorted(expected)] * 2, expected, USED)
    assert (exact.status, exact.text, exact.why) == ("met", "2 of 3", "")
    assert exact.note == "dependants: facts/b, figures/b.svg"
    wrong = measure_serve.recomputed_row(
        "snippets/b.py", [["facts/b", "figures/a.svg"], ["facts/b"]], expected, USED
    )
    assert (wrong.status, wrong.text) == ("missed", "1/2 of 3")
    assert wrong.why == "also: figures/a.svg. not recomputed: figures/b.svg."
    orphan = measure_serve.recomputed_row("snippets/c.py", [[]], set(), USED)
    assert (orphan.status, orphan.why) == ("missed", "no artifact depends on it")


def test_the_model_load_rows_judge_the_speed_up():
    runs = {
        "gguf": [
            {"import": 3.0, "load": 15.0, "rss_kb": 1_200_000},
            {"import": 3.2, "load": 14.0, "rss_kb": None},
        ],
        "cached": [
            {"import": 2.9, "load": 0.5, "rss_kb": 400_000},
            {"import": 3.1, "load": 0.3, "rss_kb": 410_000},
        ],
    }
    imports, gguf, cached, speedup = measure_model.load_rows(runs)
    assert imports.values == [3.0, 3.2, 2.9, 3.1] and imports.n == 4
    assert (gguf.values, gguf.rss_kb, cached.rss_kb) == ([15.0, 14.0], [1_200_000], [400_000, 410_000])
    assert (speedup.values, speedup.status, speedup.target) == ([14.5 / 0.4], "met", "≥ 10.0×")
    runs["cached"] = [{"import": 3.0, "load": 2.0, "rss_kb": None}]
    assert measure_model.load_rows(runs)[-1].status == "missed"


def outcome(seconds, counts, problems=()):
    return {
        "seconds": seconds,
        "rss_kb": 2_000_000,
        "returncode": 0,
        "counts": counts,
        "problems": list(problems),
    }


def test_a_suite_row_is_missed_when_slow_or_when_anything_went_wrong():
    fast = measure_tests.suite_row("Suite", [outcome(150.0, {"passed": 480, "skipped": 1})], 180)
    assert (fast.status, fast.note, fast.why, fast.rss_kb) == (
        "met",
        "480 passed, 1 skipped",
        "",
        [2_000_000],
    )
    slow = measure_tests.suite_row("Suite", [outcome(150.0, {}), outcome(250.0, {"passed": 480})], 180)
    assert (slow.status, slow.values, slow.why) == ("missed", [150.0, 250.0], "")
    broken = measure_tests.suite_row(
        "Suite", [outcome(90.0, {"failed": 2}, ["2 failed", "browser tests skipped"])], 180
    )
    assert (broken.status, broken.why) == ("missed", "2 failed; browser tests skipped")


# ---------------------------------------------------------------------------------------------
# Processes, caches and programs


def test_a_run_is_timed_and_logged_and_a_runaway_killed(tmp_path):
    run = run_timed(
        [sys.executable, "-c", "print('hello')"],
        cwd=tmp_path,
        env=dict(os.environ),
        log=tmp_path / "a.log",
        timeout=60,
    )
    assert (run.returncode, run.output, (tmp_path / "a.log").read_text()) == (0, "hello\n", "hello\n")
    assert 0 < run.seconds < 60
    with pytest.raises(BenchError, match=r"ran past 1 s \(killed\)"):
        run_timed(
            [sys.executable, "-c", "import time; time.sleep(30)"],
            cwd=tmp_path,
            env={},
            log=tmp_path / "b.log",
            timeout=1,
        )


def test_a_cold_cache_shares_the_model_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "real"))
    folder = model_only_cache(tmp_path / "cold")
    assert sorted(p.name for p in folder.iterdir()) == ["downloads", "model"]
    assert all((folder / name).resolve() == tmp_path / "real" / name for name in ("downloads", "model"))
    assert set(environment.SHARED_CACHES) > {"downloads", "model"}  # the others are left out on purpose


def test_the_workspace_runs_programs_on_its_snapshot_with_its_own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_PROBE_DIR", "/inherited")
    ws = Workspace(tmp_path, tmp_path)
    assert all((ws.project / name).exists() for name in environment.PROJECT)
    env = ws.env(tmp_path / "cache", EXTRA="1")
    assert env[CACHE_ENV] == str(tmp_path / "cache") and env["HF_HUB_OFFLINE"] == "1" and env["EXTRA"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep) == [str(PROBE), str(ws.project)]
    assert "BENCH_PROBE_DIR" not in env  # only a build's own records folder
    (ws.project / "snippets" / "bench_only.py").write_text(
        "from snippets.next_token import *\nfrom state_simulators.artifacts import data\n\n\n"
        '@data("bench-only.json")\ndef f():\n    return b"{}"\n'
    )
    found = ws.closures()  # read from the snapshot, not from the working tree
    assert found["data/bench-only.json"][0] == "snippets/bench_only.py"
    assert "snippets/next_token.py" in found["data/bench-only.json"]
    assert "data/bench-only.json" not in closures.closures()
    (ws.project / "state_simulators" / "artifacts.py").write_text("raise SystemExit('broken')")
    with pytest.raises(BenchError, match="reading the artifacts' closures failed"):
        ws.closures()


def test_measures_left_out_say_how_to_take_them(tmp_path):
    args = bench.parse_args(["--quick"])
    tests, outcomes = measure_tests.measure_tests(None, args)
    assert (tests.status, tests.note, tests.target, outcomes) == (
        "not measured",
        "run with --skip-tests",
        "≤ 180 s",
        [],
    )
    clone, outcomes = measure_tests.measure_fresh_clone(None, args)
    assert (clone.status, clone.note, clone.target, outcomes) == (
        "not measured",
        "run with --fresh-clone",
        "≤ 480 s",
        [],
    )


def test_the_closures_program_reads_which_files_each_artifact_hashes():
    found = closures.closures()
    assert found and all(path.split("/")[0] in ("figures", "data", "facts") for path in found)
    for files in found.values():
        assert files == sorted(files) and all(
            f.startswith("snippets/") and (ROOT / f).is_file() for f in files
        )
    assert "snippets/next_token.py" in found["facts/model"]


def test_the_cpu_is_named(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
    )
    assert cpu_model(cpuinfo) == "AMD EPYC 7B13"
    assert cpu_model(tmp_path / "none")  # platform's answer, or "unknown CPU"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--repeat", "0"], "repeats must be at least 1"),
        (["--page", "no-such-page.md"], "--page no-such-page.md: no such page in docs/"),
        (["--snippet", "bench/bench.py"], "--snippet bench/bench.py: give a file under snippets/"),
    ],
)
def test_bad_options_stop_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        bench.parse_args(argv)
    assert stopped.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert last.startswith("python -m bench.bench: error: ") and message in last


def test_quick_means_one_repeat_and_no_test_suite():
    args = bench.parse_args(["--quick", "--snippet", "snippets/explorer.py"])
    assert (args.repeat, args.skip_tests, args.fresh_clone, args.cold_repeat) == (1, True, False, 1)


# ---------------------------------------------------------------------------------------------
# The page


def test_the_performance_page_holds_a_generated_table_naming_every_measure():
    text = (ROOT / "docs" / "performance.md").read_text()
    start, end = text.index(report.START), text.index(report.END)
    generated = text[start:end]
    assert re.search(r"Measured by `make bench` on \d{4}-\d\d-\d\d", generated)
    assert re.search(r"on \d+ CPUs", generated) and "at commit" in generated
    lines = [line for line in generated.splitlines() if line.startswith("| ")]
    measures = [line.split(" | ")[0].removeprefix("| ") for line in lines]
    for measure in (
        "Cold build",
        "Warm build: full caches",
        "Plain MkDocs build",
        "Warm build ÷ plain build",
        "Warm build imports torch",
        "Edit-to-reload: docs/",
        "Edit-to-reload: snippets/",
        "Artifacts recomputed after editing snippets/",
        "Model load from the GGUF file",
        "Model load from the converted cache",
        "GGUF load ÷ cached load",
        "Test suite",
        "Heaviest page with its assets",
    ):
        assert any(m.startswith(measure) for m in measures), f"docs/performance.md lacks a row for {measure}"
    judged = [line for line in lines if "| met |" in line or "**missed**" in line]
    assert len(judged) >= 8
    if any("**missed**" in line for line in lines):
        assert "**This run misses" in generated
    else:
        assert "This run meets all" in generated
    assert "{{" not in text and "```python" not in text
    assert not re.search(r"\b(?:figures|data)/[\w.-]+\.(?:svg|json)\b", generated), (
        "the build would resolve it"
    )
