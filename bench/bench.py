"""`make bench`: how fast the site builds, reloads, loads its model and runs its tests.

Every measure runs in a subprocess, timed with `time.perf_counter` (wall clock) and, where
`/usr/bin/time` exists, `/usr/bin/time -v` (peak resident memory of the process tree's largest
process). The builds run on a snapshot of the project copied to a temporary folder, with a
temporary cache that shares only the model with the real one: the user's caches, docs and site
are never written. The results go to stdout as a table, to docs/performance.md between the
bench markers, and raw to <cache>/bench/results.json (logs beside it).

    python -m bench.bench [--repeat 5] [--cold-repeat 1] [--test-repeat 1] [--skip-tests] [--fresh-clone]

The measures are in bench/measure_*.py, the reporting in bench/report.py.
"""

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.machine import machine
from bench.measure_builds import measure_builds
from bench.measure_model import measure_model_load
from bench.measure_serve import measure_serve
from bench.measure_tests import measure_fresh_clone, measure_tests
from bench.process import BenchError, say
from bench.report import block, print_table, write_page, write_results
from bench.rows import Row
from bench.weights import weight_row
from bench.workspace import Workspace
from state_simulators.cache import ROOT, cache_dir

PAGE = ROOT / "docs" / "performance.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options; a bad one stops the program with one line (argparse's exit status 2)."""
    parser = argparse.ArgumentParser(prog="python -m bench.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each quick measure (default 5)")
    parser.add_argument("--cold-repeat", type=int, default=1, help="cold builds (default 1)")
    parser.add_argument("--test-repeat", type=int, default=1, help="runs of `make test` (default 1)")
    parser.add_argument("--skip-tests", action="store_true", help="do not run `make test`")
    parser.add_argument("--fresh-clone", action="store_true", help="also run the tests of a fresh clone")
    parser.add_argument("--quick", action="store_true", help="same as --repeat 1 --skip-tests")
    parser.add_argument("--page", default="index.md", help="the docs/ page edited under serve")
    parser.add_argument("--snippet", help="the snippets/ module edited under serve (default: chosen)")
    parser.add_argument("--no-write", action="store_true", help="leave docs/performance.md alone")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeat, args.skip_tests = 1, True
    if min(args.repeat, args.cold_repeat, args.test_repeat) < 1:
        parser.error("repeats must be at least 1")
    if not (ROOT / "docs" / args.page).is_file():
        parser.error(f"--page {args.page}: no such page in docs/")
    if args.snippet and not (args.snippet.startswith("snippets/") and (ROOT / args.snippet).is_file()):
        parser.error(f"--snippet {args.snippet}: give a file under snippets/, e.g. snippets/explorer.py")
    return args


def run_measures(ws: Workspace, args: argparse.Namespace) -> tuple[list[Row], dict]:
    """Every measure, in the order the table shows them; the rows and the details."""
    rows, details, cache = measure_builds(ws, args)
    serve_rows, details["serve"] = measure_serve(ws, cache, args, set(details["site_artifacts"]))
    load_rows, details["model_load"] = measure_model_load(ws, cache, args)
    test_row, details["tests"] = measure_tests(ws, args)
    clone_row, details["fresh_clone"] = measure_fresh_clone(ws, args)
    return [*rows, *serve_rows, *load_rows, test_row, clone_row, weight_row(details["page_weights"])], details


def stop(signum, frame) -> None:
    """SIGTERM (`timeout`, a closed terminal) as an exit: the measured processes are ended too."""
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, stop)
    # The model must be fetched and converted before anything is timed.
    subprocess.run([sys.executable, "-m", "snippets", "fetch"], cwd=ROOT, check=True)
    out = cache_dir("bench")
    logs = out / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    tmp = Path(tempfile.mkdtemp(prefix="state-simulators-bench-"))
    try:
        rows, details = run_measures(Workspace(tmp, logs), args)
    except BenchError as error:
        say(f"bench: {error}")
        return 1
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    info, options = machine(), vars(args)
    write_results(out / "results.json", rows, details, info, options)
    print_table(rows, info)
    if not args.no_write:
        write_page(PAGE, block(rows, details, info, options))
        say(f"wrote {PAGE.relative_to(ROOT)} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
