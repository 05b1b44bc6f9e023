"""Reading what the measured processes leave behind: the build's JSON report, the probe's
records, pytest's and `/usr/bin/time`'s summaries, MkDocs' log, the Makefile's options."""

import json
import re
import shlex
from pathlib import Path

from state_simulators.build import Report

PYTEST_SUMMARY = re.compile(r"^=+ .* in [\d.]+s")
PYTEST_COUNT = re.compile(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)")
COVERAGE_GATE = re.compile(r"Required test coverage of ([\d.]+)% not reached\. Total coverage: ([\d.]+)%")
BROWSER_SKIPPED = "browser tests were skipped"


def computed(report: Report) -> dict[str, float]:
    """{artifact path: seconds} for each artifact the build computed (not read from the cache),
    slowest first."""
    made = {m.path: m.seconds for m in report.made if not m.cached}
    return dict(sorted(made.items(), key=lambda item: (-item[1], item[0])))


def served(report: Report) -> set[str]:
    """Every artifact the build served, computed or cached: the site's artifacts."""
    return {m.path for m in report.made}


def probe_imports(records: Path) -> list[str] | None:
    """Which of torch and transformers any process imported, from the records that
    bench/probe/sitecustomize.py left in `records`. None when a process that started left no
    record (it died) and no other process imported either: the answer is then unknown."""
    reports = [json.loads(p.read_text()) for p in records.glob("*.json")]
    imported = sorted({name for r in reports for name in r["imported"]})
    unreported = len(list(records.glob("*.start"))) > len(reports)
    return imported if imported or not unreported else None


def notebooks_executed(log: str) -> int:
    """How many notebooks a build log says mkdocs-jupyter executed (not served from its cache)."""
    return log.count("Converting notebook (execute=True)")


def parse_time_v(report: str) -> dict:
    """Peak memory (KiB) and CPU times (s) from the report of GNU `/usr/bin/time -v`."""
    found = {}
    for key, pattern in (
        ("max_rss_kb", r"Maximum resident set size \(kbytes\): (\d+)"),
        ("user_s", r"User time \(seconds\): ([\d.]+)"),
        ("system_s", r"System time \(seconds\): ([\d.]+)"),
    ):
        if match := re.search(pattern, report):
            found[key] = (int if key == "max_rss_kb" else float)(match.group(1))
    return found


def parse_pytest(output: str) -> dict[str, int]:
    """The counts of pytest's last summary line: {"passed": 120, "skipped": 2, ...}."""
    lines = [line for line in output.splitlines() if PYTEST_SUMMARY.match(line)]
    if not lines:
        return {}
    counts = PYTEST_COUNT.findall(lines[-1])
    return {("error" if word.startswith("error") else word): int(n) for n, word in counts}


def suite_problems(output: str, returncode: int) -> list[str]:
    """Why a test-suite run misses its target whatever its time, in words: failures, errors,
    the coverage gate, skipped browser tests, a non-zero exit; [] for a clean run."""
    counts = parse_pytest(output)
    problems = [f"{counts[word]} {word}" for word in ("failed", "error") if counts.get(word)]
    if gate := COVERAGE_GATE.search(output):
        problems.append(f"coverage {gate.group(2)} % (the gate asks {gate.group(1)} %)")
    if BROWSER_SKIPPED in output:
        problems.append("browser tests skipped")
    if returncode and not problems:
        problems.append(f"exit {returncode}")
    return problems


def makefile_variable(makefile: str, name: str) -> list[str]:
    """The words of a simple `NAME := value` (or `=`) assignment in a Makefile's text.
    Raises ValueError when there is none."""
    match = re.search(rf"^{re.escape(name)}\s*:?=\s*(.*)$", makefile, re.M)
    if not match:
        raise ValueError(f"the Makefile sets no {name}")
    return shlex.split(match.group(1))


def page_url(markdown: str) -> str:
    """The served path of a docs/ Markdown page (MkDocs' directory URLs)."""
    stem = markdown.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return stem.removesuffix("index")
    return stem + "/"
