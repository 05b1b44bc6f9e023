"""Reporting a benchmark run: the results table, the page-weight and slowest-artifact tables,
the block written between the markers of docs/performance.md, the raw results as JSON, and
the table in the terminal. Every Markdown table is made by `snippets.tables.markdown_table`."""

import json
import re
import shutil
from dataclasses import asdict
from pathlib import Path

from bench.rows import Row, fmt, result_cell, rss_cell, value_cell, verdict
from snippets.tables import markdown_table

START, END = "<!-- bench:start -->", "<!-- bench:end -->"
KINDS = {"figures": "figure", "data": "data file", "facts": "facts group"}
HEADER = ["Measure", "n", "Median (min – max)", "Peak memory", "Target", "Result", "Notes"]
COLOURS = {"met": "green", "missed": "bold red", "not measured": "yellow"}


PAGE_HEADER = ["Measure", "Median (min – max)", "Target", "Result"]


def measure_cell(row: Row) -> str:
    """The measure, with n, peak memory and the notes on a second, smaller line: four columns
    fit a phone's width where the terminal's seven do not."""
    details = [f"n = {row.n}" if row.n else "", f"peak {rss_cell(row)}" if row.rss_kb else "", row.note]
    details = "; ".join(" ".join(d.split()) for d in details if d)
    return row.measure + (f"<br><small>{details}</small>" if details else "")


def results_table(rows: list[Row]) -> str:
    """One line per measure: the measure (n, peak memory, notes beneath), median and range,
    target, result."""
    lines = [[measure_cell(r), value_cell(r), r.target, result_cell(r)] for r in rows]
    return markdown_table(PAGE_HEADER, lines)


def weights_table(weights: list[dict]) -> str:
    """One line per page: its HTML, its assets, how many files, the total."""
    lines = [
        [w["page"], fmt(w["html"], "bytes"), fmt(w["assets"], "bytes"), w["files"], fmt(w["total"], "bytes")]
        for w in weights
    ]
    return markdown_table(["Page", "HTML", "Assets", "Files", "Total"], lines)


def slowest_table(seconds: dict[str, float], top: int = 8) -> str:
    """The `top` slowest artifacts ({path: seconds}, slowest first): name, kind, seconds."""
    lines = [
        [path.split("/", 1)[1], KINDS[path.split("/", 1)[0]], f"{s:.1f}"]
        for path, s in list(seconds.items())[:top]
    ]
    return markdown_table(["Artifact", "Kind", "Seconds"], lines)


def options_text(options: dict) -> str:
    """The command-line options a run used, as they would be typed."""
    words = [
        f"--{name.replace('_', '-')} {options[name]}" for name in ("repeat", "cold_repeat", "test_repeat")
    ]
    words += [f"--{flag.replace('_', '-')}" for flag in ("skip_tests", "fresh_clone") if options.get(flag)]
    return " ".join(words)


def unreferenced(markdown: str) -> str:
    """Artifact paths written as names: the build treats `figures/x.svg` or `data/x.json` in a
    page as a use of that artifact, and would fail once it is renamed."""
    return re.sub(
        r"\b(figures|data|facts)/([\w.-]+)",
        lambda m: f"{m.group(2)} (facts)" if m.group(1) == "facts" else m.group(2),
        markdown,
    )


def block(rows: list[Row], details: dict, info: dict, options: dict) -> str:
    """The Markdown that goes between the markers of docs/performance.md."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    commit = f"`{info['commit']}`" + (" with uncommitted changes" if info["uncommitted"] else "")
    parts = [
        f"Measured by `make bench` on {info['date']}, at commit {commit}, on {info['cpus']} CPUs "
        f"({info['cpu_model']}); Python {info['python']}, {versions}. "
        f"Options: `{options_text(options)}`.",
        verdict(rows),
        results_table(rows),
        "### Page weight",
        "Each built page with the distinct local files it makes the browser load (stylesheets, "
        "scripts, images, figures, data).",
        weights_table(details["page_weights"]),
        f"The search box also fetches the search index once per visit "
        f"({fmt(details['search_index_bytes'], 'bytes')}), counted in no page above.",
    ]
    if details["cold_artifact_seconds"]:
        parts += [
            "### Slowest artifacts of the cold build",
            "As the build's report records them; the first artifact that needs the model also "
            "pays for importing torch and loading the model.",
            slowest_table(details["cold_artifact_seconds"]),
        ]
    return unreferenced("\n\n".join(parts))


def replace_block(text: str, new: str) -> str:
    """`text` with what lies between the bench markers replaced by `new`. Raises ValueError
    when the markers are missing or out of order."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {START} … {END} markers (in this order) to write the results between")
    return text[: start + len(START)] + "\n" + new.strip() + "\n" + text[end:]


def write_page(page: Path, new: str) -> None:
    """Rewrite the block between the markers of `page`, and nothing else."""
    page.write_text(replace_block(page.read_text(), new))


def write_results(path: Path, rows: list[Row], details: dict, info: dict, options: dict) -> None:
    """The raw results as JSON: machine, options, every row, and the details of each measure."""
    results = {"machine": info, "options": options, "rows": [asdict(r) for r in rows], **details}
    path.write_text(json.dumps(results, indent=1))


def read_rows(path: Path) -> list[Row]:
    """The rows of a results file that `write_results` wrote."""
    return [Row(**row) for row in json.loads(path.read_text())["rows"]]


def print_table(rows: list[Row], info: dict) -> None:
    """The results table in the terminal, coloured, and the verdict in words."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"State Simulators on {info['cpus']} CPUs ({info['cpu_model']}), {info['date']}")
    for column in HEADER[:-1]:
        table.add_column(column, overflow="fold")
    for r in rows:
        result = f"[{COLOURS[r.status]}]{r.status}[/]" if r.status in COLOURS else r.status
        table.add_row(r.measure, str(r.n or ""), value_cell(r), rss_cell(r), r.target, result)
    # Wide enough to read when the output is piped, where rich would assume 80 columns.
    console = Console(width=max(shutil.get_terminal_size((140, 24)).columns, 120))
    console.print(table)
    console.print(verdict(rows).replace("**", ""), markup=False)
