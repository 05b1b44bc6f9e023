"""The test suite: `make test` on a warm checkout, and that of a fresh `git clone`.

Both run `python -m pytest` with the options of the Makefile's COVERAGE variable, as `make test`
does. A run misses its target when it is too slow, and also when a test failed, the coverage
gate failed, or the browser tests were skipped; the row says which, in words.
"""

import subprocess
import sys
from pathlib import Path

from bench.parse import makefile_variable, parse_pytest, suite_problems
from bench.process import BenchError, run_timed, say, tail
from bench.rows import Row, against, not_measured
from bench.targets import FRESH_CLONE_TESTS_MAX_S, TEST_SUITE_MAX_S
from bench.workspace import Workspace, model_only_cache
from state_simulators import environment
from state_simulators.cache import ROOT

WARM = "Test suite: `make test` on a warm checkout, browser tests included"
FRESH = "Test suite of a fresh `git clone`: empty artifact cache, the model shared"


def pytest_command(root: Path = ROOT) -> list[str]:
    """`python -m pytest` with the Makefile's coverage options, as `make test` runs it."""
    return [sys.executable, "-m", "pytest", *makefile_variable((root / "Makefile").read_text(), "COVERAGE")]


def suite_row(measure: str, outcomes: list[dict], limit: float) -> Row:
    """The times of `outcomes` ({seconds, rss_kb, counts, problems}) judged against `limit`;
    missed whatever the time when the last run had problems, which `why` names."""
    row = Row(
        measure, [o["seconds"] for o in outcomes], "s", rss_kb=[o["rss_kb"] for o in outcomes if o["rss_kb"]]
    )
    against(row, "<=", limit)
    last = outcomes[-1]
    row.note = ", ".join(f"{n} {word}" for word, n in last["counts"].items())
    if last["problems"]:
        row.status, row.why = "missed", "; ".join(last["problems"])
    return row


def run_suite(cwd: Path, env: dict, log: Path) -> dict:
    """One timed run of the test suite in `cwd`: {seconds, rss_kb, returncode, counts, problems}."""
    run = run_timed(pytest_command(cwd), cwd=cwd, env=env, log=log, timeout=7200)
    outcome = {
        "seconds": run.seconds,
        "rss_kb": run.rss_kb,
        "returncode": run.returncode,
        "counts": parse_pytest(run.output),
        "problems": suite_problems(run.output, run.returncode),
    }
    say(f"  pytest: {run.seconds:.0f} s, {outcome['counts']} {'; '.join(outcome['problems'])}")
    return outcome


def measure_tests(ws: Workspace, args) -> tuple[Row, list]:
    """`make test` in the working tree with its own cache, `args.test_repeat` times: a warm
    checkout is one whose cache a previous `make test` filled (figures computed and verified,
    the tiny other-architecture model's pages built), which is what a contributor has."""
    if args.skip_tests:
        return not_measured(against(Row(WARM, [], "s"), "<=", TEST_SUITE_MAX_S), "run with --skip-tests"), []
    say("Test suite (python -m pytest with the coverage gate, in the working tree, its own cache)")
    env = environment.offline_env()
    outcomes = [run_suite(ROOT, env, ws.logs / f"pytest-{i + 1}.log") for i in range(args.test_repeat)]
    return suite_row(WARM, outcomes, TEST_SUITE_MAX_S), outcomes


def clone(target: Path) -> str:
    """A `git clone` of this repository's committed HEAD into `target`, with the virtual
    environment `make setup` made linked in; returns the commit. Raises BenchError."""
    done = subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], capture_output=True, text=True)
    if done.returncode:
        raise BenchError(f"git clone failed:\n{tail(done.stderr)}")
    if sys.prefix != sys.base_prefix:  # `make` in the clone finds .venv/bin/python set up
        (target / ".venv").symlink_to(sys.prefix)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=target, capture_output=True, text=True)
    return head.stdout.strip()


def measure_fresh_clone(ws: Workspace, args) -> tuple[Row, list]:
    """With --fresh-clone: the suite of a fresh clone, with an empty cache but for the model
    (every figure it needs is computed). Committed changes only."""
    if not args.fresh_clone:
        row = against(Row(FRESH, [], "s"), "<=", FRESH_CLONE_TESTS_MAX_S)
        return not_measured(row, "run with --fresh-clone"), []
    say("Test suite of a fresh clone (empty artifact cache, the model shared)")
    folder = ws.tmp / "clone"
    commit = clone(folder)
    env = environment.with_cache(model_only_cache(ws.tmp / "cache-clone"))
    env["PYTHONPATH"] = str(folder)  # the clone's packages, not the working tree's
    outcome = run_suite(folder, env, ws.logs / "pytest-fresh-clone.log")
    row = suite_row(FRESH, [outcome], FRESH_CLONE_TESTS_MAX_S)
    row.note = f"commit {commit}; {row.note}"
    return row, [outcome]
