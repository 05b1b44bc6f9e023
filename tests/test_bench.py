"""`make bench` (bench/bench.py): its pure parts, and the page that holds its output.

The benchmark itself is not run here: it takes minutes, and its numbers are the machine's.
"""

import re
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT))  # bench/ is not installed; `python -m pytest` would find it anyway
from bench import bench
from bench.bench import Row


def test_summary_is_median_min_max():
    assert bench.summary([3.0, 1.0, 2.0, 10.0]) == (2.5, 1.0, 10.0)
    assert bench.summary([4.0]) == (4.0, 4.0, 4.0)
    with pytest.raises(ValueError):
        bench.summary([])


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
    assert bench.judge(value, op, limit) == expected


def test_judge_refuses_an_unknown_comparison():
    with pytest.raises(ValueError):
        bench.judge(1, "<", 2)


def test_a_target_is_judged_on_the_median_not_the_best_run():
    row = bench.against(Row("reload", [1.0, 2.5, 3.0], "s"), "<=", 2)
    assert (row.status, row.target, row.n) == ("missed", "≤ 2.00 s", 3)
    assert bench.against(Row("reload", [1.0, 1.5, 3.0], "s"), "<=", 2).status == "met"
    assert bench.against(Row("tests", [], "s"), "<=", 600).status == "not measured"


def test_values_are_shown_with_their_range_and_unit():
    assert bench.value_cell(Row("x", [1.0, 2.0, 3.5], "s")) == "2.00 s (1.00 s – 3.50 s)"
    assert bench.value_cell(Row("x", [1.5, 1.5], "s")) == "1.50 s"
    assert bench.value_cell(Row("x", [1_234_567], "bytes")) == "1.23 MB"
    assert bench.value_cell(Row("x", [12.34], "x")) == "12.3×"
    assert bench.value_cell(Row("x", [2], "text", text="2 of 32")) == "2 of 32"
    assert bench.value_cell(Row("x", [], "s")) == "—"
    assert bench.fmt(185.2, "s") == "185 s" and bench.fmt(42_000, "bytes") == "42 KB"
    assert [bench.fmt(b, "bytes") for b in (0, 999, 266_000, 1_500_000, 1_705_370_000)] == [
        "0 B",
        "999 B",
        "266 KB",
        "1.5 MB",
        "1.71 GB",
    ]


def rows():
    return [
        bench.against(Row("Cold build", [150.0], "s", rss_kb=[1_000_000]), "<=", 180),
        bench.against(Row("Warm build", [9.0, 8.0, 10.0], "s"), "<=", 5),
        Row("Plain build", [2.0], "s"),
        bench.against(Row("Test suite", [], "s", note="run with --skip-tests"), "<=", 600),
    ]


def test_the_markdown_table_has_a_line_per_measure_and_says_missed():
    table = bench.results_table(rows())
    lines = table.splitlines()
    assert len(lines) == 2 + 4
    assert lines[0].startswith("| Measure | n | Median")
    assert set(lines[1].replace(" ", "")) == set("|-")
    cold, warm, plain, tests = lines[2:]
    assert "| 150 s |" in cold and "1.02 GB" in cold and "| met |" in cold
    assert "9.00 s (8.00 s – 10.0 s)" in warm and "**missed**" in warm and "≤ 5.00 s" in warm
    assert "met" not in plain and "missed" not in plain
    assert "not measured" in tests and "--skip-tests" in tests
    assert all(line.count("|") == lines[0].count("|") for line in lines)


def test_a_pipe_in_a_cell_does_not_break_the_table():
    table = bench.markdown_table(["a", "b"], [["x | y", "z"]])
    assert table.splitlines()[2] == "| x \\| y | z |"


def test_the_verdict_names_every_missed_target_in_words():
    words = bench.verdict(rows())
    assert "misses 1 of its 2 targets" in words
    assert "Warm build (9.00 s (8.00 s – 10.0 s), target ≤ 5.00 s)" in words
    assert "Cold build" not in words
    assert "Not measured in this run: Test suite." in words
    all_met = bench.verdict(rows()[:1])
    assert all_met == "This run meets all 1 of its targets."


def test_the_block_between_the_markers_is_replaced_and_nothing_else():
    page = f"# Title\n\nProse.\n\n{bench.START}\nold table\n{bench.END}\n\nMore prose.\n"
    new = bench.replace_block(page, "new table\n")
    assert new == f"# Title\n\nProse.\n\n{bench.START}\nnew table\n{bench.END}\n\nMore prose.\n"
    assert bench.replace_block(new, "new table") == new
    for broken in ("no markers", f"{bench.END}\n{bench.START}", f"{bench.START} only"):
        with pytest.raises(ValueError):
            bench.replace_block(broken, "x")


def test_artifact_paths_are_not_left_for_the_build_to_resolve():
    text = bench.unreferenced(
        "made: figures/layer-skip.svg, data/explorer.json, facts/kv_cache; snippets/x.py"
    )
    assert text == "made: layer-skip.svg, explorer.json, kv_cache (facts); snippets/x.py"


def test_page_weight_counts_each_loaded_local_file_once(tmp_path):
    site = tmp_path / "site"
    for path, size in {
        "assets/style.css": 1000,
        "assets/app.js": 3000,
        "assets/favicon.png": 100,
        "figures/plot.svg": 20_000,
        "data/table.json": 7000,
        "unused.js": 50_000,
        "notebook.py": 9000,
    }.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(b"x" * size)
    (site / "index.html").write_text(
        '<link rel="stylesheet" href="assets/style.css"><link rel="icon" href="assets/favicon.png">'
        '<link rel="canonical" href="https://example.org/"><script src="assets/app.js"></script>'
        '<img src="figures/plot.svg"><img src="figures/plot.svg#again"><img src="missing.svg">'
        '<img src="https://example.org/remote.png"><img src="data:image/png;base64,AAAA">'
        '<a href="notebook.py">download</a>'
    )
    (site / "explorer").mkdir()
    (site / "explorer" / "index.html").write_text(
        '<link rel="stylesheet" href="../assets/style.css"><script src="/assets/app.js"></script>'
        '<div data-src="../data/table.json"></div><img src="../../outside.png">'
    )
    (tmp_path / "outside.png").write_bytes(b"x" * 999)
    weights = {w["page"]: w for w in bench.page_weights(site)}
    assert sorted(weights) == ["explorer/index.html", "index.html"]
    home, explorer = weights["index.html"], weights["explorer/index.html"]
    assert (home["assets"], home["files"]) == (1000 + 3000 + 100 + 20_000, 4)
    assert home["total"] == home["html"] + home["assets"] == (site / "index.html").stat().st_size + 24_100
    assert (explorer["assets"], explorer["files"]) == (1000 + 3000 + 7000, 3)
    assert bench.weight_row(list(weights.values())).note.startswith("index.html, 4 files")


def test_the_heaviest_page_is_judged_against_the_limit():
    light = {"page": "a.html", "total": 1_000_000, "files": 3}
    heavy = {"page": "b.html", "total": 1_600_000, "files": 5}
    row = bench.weight_row([light, heavy])
    assert (row.values, row.status) == ([1_600_000], "missed") and row.note.startswith("b.html")
    assert bench.weight_row([light]).status == "met"


def test_log_parsers():
    log = (
        "INFO    -  figures/next-token.svg: made in 12.5 s\n"
        "INFO    -  data/explorer.json: cached\n"
        "INFO    -  facts/kv_cache: made in 0.3 s\n"
        "INFO    -  Documentation built in 3.21 seconds\n"
    )
    assert bench.parse_artifacts(log) == {
        "figures/next-token.svg": 12.5,
        "data/explorer.json": None,
        "facts/kv_cache": 0.3,
    }
    report = (
        "\tUser time (seconds): 12.50\n\tSystem time (seconds): 1.25\n"
        "\tMaximum resident set size (kbytes): 404000\n"
    )
    assert bench.parse_time_v(report) == {"max_rss_kb": 404000, "user_s": 12.5, "system_s": 1.25}
    output = (
        "== 3 failed in 1.0s ==\nmore\n===== 120 passed, 3 skipped, 2 errors in 301.52s (0:05:01) =====\n"
    )
    assert bench.parse_pytest(output) == {"passed": 120, "skipped": 3, "error": 2}
    assert bench.parse_pytest("no summary") == {}
    executed = "INFO - Converting notebook (execute=True): /p/docs/ascii-diffusion.py\n"
    assert bench.notebooks_executed(executed + "INFO - Cache hit: /p/docs/other.py\n") == 1
    assert bench.notebooks_executed("INFO - Converting notebook (execute=False): x.py\n") == 0


def test_page_urls_and_the_snippet_whose_dependants_are_checked():
    assert [bench.page_url(p) for p in ("index.md", "kv-cache.md", "sub/index.md")] == [
        "",
        "kv-cache/",
        "sub/",
    ]
    closures = {
        "figures/a.svg": ["snippets/a.py", "state_simulators/model.py"],
        "figures/b.svg": ["snippets/b.py", "state_simulators/model.py"],
        "facts/b": ["snippets/b.py", "state_simulators/model.py"],
        "figures/unused.svg": ["snippets/c.py", "state_simulators/model.py"],
    }
    assert bench.dependants(closures, "snippets/b.py") == {"figures/b.svg", "facts/b"}
    used = {"figures/a.svg", "figures/b.svg", "facts/b"}
    assert bench.pick_snippet(closures, used) == "snippets/a.py"  # c.py's only artifact is unused


def test_the_performance_page_holds_a_generated_table_naming_every_measure():
    text = (ROOT / "docs" / "performance.md").read_text()
    start, end = text.index(bench.START), text.index(bench.END)
    block = text[start:end]
    assert re.search(r"Measured by `make bench` on \d{4}-\d\d-\d\d", block)
    assert re.search(r"on \d+ CPUs", block) and "at commit" in block
    lines = [line for line in block.splitlines() if line.startswith("| ")]
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
        assert "**This run misses" in block
    else:
        assert "This run meets all" in block
    assert "{{" not in text and "```python" not in text
    assert not re.search(r"\b(?:figures|data)/[\w.-]+\.(?:svg|json)\b", block), "the build would resolve it"
