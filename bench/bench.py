"""`make bench`: how fast the site builds, reloads, loads its model and runs its tests.

Every measure runs in a subprocess, timed with `time.perf_counter` (wall clock) and, where
`/usr/bin/time` exists, `/usr/bin/time -v` (peak resident memory of the process tree's largest
process). The builds run on a snapshot of the project copied to a temporary folder, with a
temporary cache whose `model/` and `downloads/` link to the real ones: the user's caches, docs
and site are never written. The results go to stdout as a table, to docs/performance.md
between the bench markers, and raw to <cache>/bench/results.json (logs beside it).

    python -m bench.bench [--repeat 5] [--cold-repeat 1] [--test-repeat 1] [--skip-tests]
"""

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "performance.md"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"
PROJECT = ("mkdocs.yml", "pyproject.toml", "docs", "snippets", "hooks", "overrides")
TIME = Path("/usr/bin/time")
HEAVY = ("torch", "transformers")

# The targets, on 2 cores. Where it says "about" or "a few", the number here is the
# reading docs/performance.md states.
COLD_BUILD_MAX_S = 180
WARM_BUILD_MAX_S = 5
WARM_OVER_PLAIN_MAX = 1.5
RELOAD_MAX_S = 2
LOAD_SPEEDUP_MIN = 10
TEST_SUITE_MAX_S = 600
PAGE_MAX_BYTES = 1_500_000

KINDS = {"figures": "figure", "data": "data file", "facts": "facts group"}
ARTIFACT_LINE = re.compile(r"((?:figures|data|facts)/[\w.-]+): (cached|made in ([\d.]+) s)")
REBUILT, REBUILDING = "Reloading browsers", "Detected file changes"
REBUILD_FAILED = "An error happened during the rebuild"

# Put first on PYTHONPATH of every build: each Python process (mkdocs, and the notebook's
# kernel, which runs in a process of its own) records at exit whether it imported torch.
PROBE = '''"""Written by bench/bench.py: records whether this process imported torch or transformers."""
import atexit
import json
import os
import sys

_records = os.environ.get("BENCH_PROBE_DIR")
if _records:
    open(os.path.join(_records, f"{os.getpid()}.start"), "w").close()

    def _report():
        heavy = sorted(m for m in ("torch", "transformers") if m in sys.modules)
        with open(os.path.join(_records, f"{os.getpid()}.json"), "w") as f:
            json.dump({"argv": sys.argv, "imported": heavy}, f)

    atexit.register(_report)
'''

# Loads tokenizer and model as state_simulators/model.py does (GGUF: as its conversion does), timing
# the imports apart from the load.
LOAD = """
import json, sys, time
started = time.perf_counter()
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer
# transformers imports a model's classes lazily, on first use: name the embedded model's
# (Llama) here, so that the load below times reading the weights, not importing code.
transformers.LlamaForCausalLM, transformers.PreTrainedTokenizerFast
imported = time.perf_counter()
folder, gguf = sys.argv[1], sys.argv[2:]
options = {"gguf_file": gguf[0]} if gguf else {}
AutoTokenizer.from_pretrained(folder, **options)
AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32, **options).eval()
print(json.dumps({"import": imported - started, "load": time.perf_counter() - imported}))
"""

# Which snippets/ files each declared artifact's cache key hashes, read from the snapshot.
CLOSURES = """
import json
from state_simulators import artifacts
print(json.dumps({
    path: [str(p.relative_to(artifacts.PACKAGE.parent)) for p in artifacts.source_closure(a.module)]
    for path, a in artifacts.discover().items()
}))
"""


class BenchError(Exception):
    """A measurement could not be taken (a build failed, the server died); says where the log is."""


# ---------------------------------------------------------------------------------------------
# Pure parts: statistics, targets, tables, the page, page weight, log parsing (tests/test_bench.py)


@dataclass
class Row:
    """One line of the table: a measure, its values over n runs, its target and the verdict."""

    measure: str
    values: list
    unit: str  # "s", "bytes", "x", or "text" (then `text` is the value shown)
    n: int = 0
    target: str = ""
    status: str = ""  # "met", "missed", "not measured", or "" for a measure without a target
    note: str = ""
    rss_kb: list = field(default_factory=list)
    text: str = ""

    def __post_init__(self):
        self.n = self.n or len(self.values)


def summary(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    if not values:
        raise ValueError("no values to summarise")
    return statistics.median(values), min(values), max(values)


def judge(value: float, op: str, limit: float) -> str:
    if op not in ("<=", ">="):
        raise ValueError(f"unknown comparison {op!r}")
    met = value <= limit if op == "<=" else value >= limit
    return "met" if met else "missed"


def against(row: Row, op: str, limit: float) -> Row:
    """The row, with its target set and its median judged against it."""
    row.target = f"{'≤' if op == '<=' else '≥'} {fmt(limit, row.unit)}"
    row.status = judge(summary(row.values)[0], op, limit) if row.values else "not measured"
    return row


def fmt(value, unit: str) -> str:
    if unit == "s":
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s" if value < 100 else f"{value:.0f} s"
    if unit == "bytes":
        for scale, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
            if value >= scale:
                return f"{value / scale:.3g} {name}"
        return f"{value:.0f} B"
    if unit == "x":
        return f"{value:.1f}×"
    return str(value)


def value_cell(row: Row) -> str:
    if row.unit == "text":
        return row.text
    if not row.values:
        return "—"
    median, low, high = summary(row.values)
    shown = fmt(median, row.unit)
    if row.unit in ("s", "bytes") and low != high:
        shown += f" ({fmt(low, row.unit)} – {fmt(high, row.unit)})"
    return shown


def rss_cell(row: Row) -> str:
    return fmt(max(row.rss_kb) * 1024, "bytes") if row.rss_kb else ""


def result_cell(row: Row) -> str:
    return "**missed**" if row.status == "missed" else row.status


def markdown_table(header: list[str], lines: list[list[str]]) -> str:
    def cells(values):
        return "| " + " | ".join(str(v).replace("|", "\\|").replace("\n", " ") for v in values) + " |"

    return "\n".join([cells(header), cells(["---"] * len(header)), *map(cells, lines)])


def results_table(rows: list[Row]) -> str:
    header = ["Measure", "n", "Median (min – max)", "Peak memory", "Target", "Result", "Notes"]
    return markdown_table(
        header,
        [[r.measure, r.n or "", value_cell(r), rss_cell(r), r.target, result_cell(r), r.note] for r in rows],
    )


def verdict(rows: list[Row]) -> str:
    """One paragraph, in words: which targets this run missed, or that it met them all."""
    judged = [r for r in rows if r.status in ("met", "missed")]
    missed = [r for r in judged if r.status == "missed"]
    skipped = [r for r in rows if r.status == "not measured"]
    if missed:
        listed = "; ".join(f"{r.measure} ({value_cell(r)}, target {r.target})" for r in missed)
        words = f"**This run misses {len(missed)} of its {len(judged)} targets:** {listed}."
    else:
        words = f"This run meets all {len(judged)} of its targets."
    if skipped:
        words += " Not measured in this run: " + "; ".join(r.measure for r in skipped) + "."
    return words


def unreferenced(markdown: str) -> str:
    """Artifact paths written as names: the build treats `figures/x.svg` or `data/x.json` in a
    page as a use of that artifact, and would fail once it is renamed."""
    return re.sub(
        r"\b(figures|data|facts)/([\w.-]+)",
        lambda m: f"{m.group(2)} (facts)" if m.group(1) == "facts" else m.group(2),
        markdown,
    )


def replace_block(text: str, block: str) -> str:
    """`text` with what lies between the bench markers replaced by `block`."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {START} … {END} markers (in this order) to write the results between")
    return text[: start + len(START)] + "\n" + block.strip() + "\n" + text[end:]


class _Assets(HTMLParser):
    """The URLs a browser fetches to show a page: images, scripts, stylesheets, icons, data."""

    LINKS = frozenset({"stylesheet", "icon", "preload", "modulepreload", "manifest"})
    ATTRIBUTES = ("src", "srcset", "data", "data-src")

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link":
            if self.LINKS & set((attrs.get("rel") or "").lower().split()) and attrs.get("href"):
                self.urls.append(attrs["href"])
            return
        for name in self.ATTRIBUTES:
            value = attrs.get(name)
            if value and name == "srcset":
                self.urls.extend(part.split()[0] for part in value.split(",") if part.strip())
            elif value:
                self.urls.append(value)

    handle_startendtag = handle_starttag


def local_file(site: Path, page: Path, url: str) -> Path | None:
    """The file under `site` that `url`, found in `page`, names; None for anything off-site."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    base = site if parts.path.startswith("/") else page.parent
    target = (base / unquote(parts.path).lstrip("/")).resolve()
    root = site.resolve()
    return target if target.is_file() and root in target.parents else None


def page_weights(site: Path) -> list[dict]:
    """For each HTML page: its size, and that of the distinct local files it makes the browser load."""
    weights = []
    for page in sorted(site.rglob("*.html")):
        parser = _Assets()
        parser.feed(page.read_text(errors="replace"))
        assets = {f for url in parser.urls if (f := local_file(site, page, url))}
        html = page.stat().st_size
        size = sum(f.stat().st_size for f in assets)
        weights.append(
            dict(
                page=page.relative_to(site).as_posix(),
                html=html,
                assets=size,
                files=len(assets),
                total=html + size,
            )
        )
    return weights


def parse_time_v(report: str) -> dict:
    """Peak memory and CPU times from the report of GNU `/usr/bin/time -v`."""
    found = {}
    for key, pattern in (
        ("max_rss_kb", r"Maximum resident set size \(kbytes\): (\d+)"),
        ("user_s", r"User time \(seconds\): ([\d.]+)"),
        ("system_s", r"System time \(seconds\): ([\d.]+)"),
    ):
        if match := re.search(pattern, report):
            found[key] = (int if key == "max_rss_kb" else float)(match.group(1))
    return found


def parse_artifacts(log: str) -> dict[str, float | None]:
    """{artifact: seconds to make it, or None when it came from the cache} from a build log."""
    return {m.group(1): float(m.group(3)) if m.group(3) else None for m in ARTIFACT_LINE.finditer(log)}


def notebooks_executed(log: str) -> int:
    """How many notebooks a build log says mkdocs-jupyter executed (not served from its cache)."""
    return log.count("Converting notebook (execute=True)")


def parse_pytest(output: str) -> dict[str, int]:
    """The counts of pytest's last summary line: {"passed": 120, "skipped": 2, ...}."""
    lines = [line for line in output.splitlines() if re.match(r"^=+ .* in [\d.]+s", line)]
    if not lines:
        return {}
    counts = re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed|deselected)", lines[-1])
    return {("error" if word.startswith("error") else word): int(n) for n, word in counts}


def page_url(markdown: str) -> str:
    """The served path of a docs/ Markdown page (MkDocs' directory URLs)."""
    stem = markdown.removesuffix(".md")
    if stem == "index" or stem.endswith("/index"):
        return stem.removesuffix("index")
    return stem + "/"


def dependants(closures: dict[str, list[str]], module: str) -> set[str]:
    """The artifacts whose cache key hashes `module` (a path such as snippets/explorer.py)."""
    return {path for path, files in closures.items() if module in files}


def pick_snippet(closures: dict[str, list[str]], used: set[str]) -> str:
    """The snippet module that the fewest of the site's artifacts depend on (at least one)."""
    modules = {m for files in closures.values() for m in files}
    counted = sorted((len(dependants(closures, m) & used), m) for m in modules)
    return next(m for count, m in counted if count)


# ---------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Run:
    seconds: float
    returncode: int
    output: str
    rss_kb: int | None
    log: Path


def run_timed(command: list[str], *, cwd: Path, env: dict, log: Path, timeout: float) -> Run:
    report = log.with_suffix(".time")
    prefix = [str(TIME), "-v", "-o", str(report)] if TIME.exists() else []
    started = time.perf_counter()
    process = subprocess.Popen(
        prefix + command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so that a timeout or ^C ends all of it
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except BaseException as error:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if isinstance(error, subprocess.TimeoutExpired):
            raise BenchError(f"{' '.join(command[:4])}… ran past {timeout:.0f} s (killed)") from error
        raise
    seconds = time.perf_counter() - started
    log.write_text(output)
    rss = parse_time_v(report.read_text()).get("max_rss_kb") if report.exists() else None
    return Run(seconds, process.returncode, output, rss, log)


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.splitlines()[-lines:])


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Workspace:
    """The temporary project snapshot, caches and logs one benchmark run works in."""

    def __init__(self, tmp: Path, logs: Path):
        self.tmp, self.logs = tmp, logs
        self.project = tmp / "project"
        for name in PROJECT:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, self.project / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif source.is_file():
                self.project.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, self.project / name)
        self.probe = tmp / "probe"
        self.probe.mkdir()
        (self.probe / "sitecustomize.py").write_text(PROBE)
        from state_simulators.cache import cache_dir

        self.real_cache = cache_dir()

    def new_cache(self, name: str) -> Path:
        """An empty cache but for the model, already fetched and converted (links to the real one)."""
        folder = self.tmp / name
        folder.mkdir()
        for shared in ("model", "downloads"):
            (folder / shared).symlink_to(self.real_cache / shared)
        return folder

    def env(self, cache: Path, records: Path | None = None) -> dict:
        from state_simulators.cache import CACHE_ENV

        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "NO_MKDOCS_2_WARNING": "1",
            "TOKENIZERS_PARALLELISM": "false",
            CACHE_ENV: str(cache),
            # The snapshot's snippets/, not the working tree's, also in the notebook's kernel.
            "PYTHONPATH": os.pathsep.join([str(self.probe), str(self.project)]),
        }
        env.pop("BENCH_PROBE_DIR", None)
        if records:
            env["BENCH_PROBE_DIR"] = str(records)
        return env

    def build(self, name: str, cache: Path, config: str = "mkdocs.yml", strict: bool = True):
        """A `mkdocs build` of the snapshot: (run, site folder, heavy modules imported or None)."""
        site, records = self.tmp / "sites" / name, self.tmp / "records" / name
        records.mkdir(parents=True)
        command = [sys.executable, "-m", "mkdocs", "build", "-f", str(self.project / config)]
        command += ["-d", str(site)] + (["--strict"] if strict else [])
        log = self.logs / f"{name}.log"
        run = run_timed(command, cwd=self.project, env=self.env(cache, records), log=log, timeout=3600)
        if run.returncode:
            raise BenchError(f"{name} build failed (exit {run.returncode}), log {log}:\n{tail(run.output)}")
        reports = [json.loads(p.read_text()) for p in records.glob("*.json")]
        imported = sorted({m for r in reports for m in r["imported"]})
        # A process that died without reporting leaves the answer open, unless another said yes.
        unreported = len(list(records.glob("*.start"))) > len(reports)
        say(f"  {name}: {run.seconds:.2f} s")
        return run, site, imported if imported or not unreported else None

    def closures(self) -> dict[str, list[str]]:
        done = subprocess.run(
            [sys.executable, "-c", CLOSURES],
            cwd=self.project,
            env=self.env(self.tmp),
            capture_output=True,
            text=True,
            check=True,
        )
        return json.loads(done.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """`mkdocs serve` on the snapshot, its log read line by line with the time each line came."""

    def __init__(self, workspace: Workspace, cache: Path, timeout: float = 1800):
        self.workspace, self.timeout = workspace, timeout
        self.url = f"http://127.0.0.1:{free_port()}/"
        self.lines: list[tuple[float, str]] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", "-f", str(workspace.project / "mkdocs.yml")]
            + ["--dev-addr", self.url[len("http://") : -1]],
            cwd=workspace.project,
            env=workspace.env(cache),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: closing it ends the kernel too
        )
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.wait(lambda: self.count("Serving on") and self.get(""), "the first build")
        except BaseException:
            self.close()
            raise

    def _read(self):
        for line in self.process.stdout:
            self.lines.append((time.perf_counter(), line.rstrip("\n")))

    def count(self, text: str, since: int = 0) -> int:
        return sum(text in line for _, line in self.lines[since:])

    def get(self, path: str) -> str:
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.read().decode()
        except OSError:
            return ""

    def wait(self, condition, what: str) -> float:
        """Poll `condition` every 50 ms; the time it first held."""
        deadline = time.perf_counter() + self.timeout
        while not condition():
            log = "\n".join(line for _, line in self.lines[-15:])
            if self.process.poll() is not None or self.count(REBUILD_FAILED):
                raise BenchError(f"mkdocs serve failed while waiting for {what}:\n{log}")
            if time.perf_counter() > deadline:
                raise BenchError(f"mkdocs serve: no {what} after {self.timeout:.0f} s:\n{log}")
            time.sleep(0.05)
        return time.perf_counter()

    def settle(self):
        """Wait until no rebuild is pending or running, and the log has been quiet for a second."""
        self.wait(
            lambda: (
                self.count(REBUILDING) == self.count(REBUILT) and time.perf_counter() - self.lines[-1][0] > 1
            ),
            "a quiet moment",
        )

    def edit(self, path: Path, text: str, served=lambda: True) -> tuple[float, list[str]]:
        """Append `text` to `path`; seconds until the rebuild is done and `served()` holds, and the
        log lines of that rebuild."""
        self.settle()
        before, first = self.count(REBUILT), len(self.lines)
        started = time.perf_counter()
        with path.open("a") as f:
            f.write(text)
        done = self.wait(lambda: self.count(REBUILT) > before and served(), f"a reload after {path.name}")
        return done - started, [line for _, line in self.lines[first:]]

    def close(self):
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        (self.workspace.logs / "serve.log").write_text("\n".join(line for _, line in self.lines) + "\n")


def measure_builds(ws: Workspace, args) -> tuple[list[Row], dict, Path]:
    """Cold, warm and plain builds, and the page weights of the last warm one; returns the
    rows, the details, and the cache the builds filled (warm, for what follows)."""
    say("Cold builds (empty figure and notebook caches, model converted)")
    cold = []
    for i in range(args.cold_repeat):
        cache = ws.new_cache(f"cache-cold-{i}")
        cold.append(ws.build(f"cold-{i + 1}", cache))
    made = parse_artifacts(cold[-1][0].output)
    slowest = sorted(((s, p) for p, s in made.items() if s is not None), reverse=True)
    not_made = sorted(p for p, s in made.items() if s is None)

    say("Warm builds (full caches, nothing changed)")
    warm = [ws.build(f"warm-{i + 1}", cache) for i in range(args.repeat)]
    used = set(parse_artifacts(warm[-1][0].output))
    remade = sorted(p for p, s in parse_artifacts(warm[-1][0].output).items() if s is not None)
    remade += ["the notebook"] * notebooks_executed(warm[-1][0].output)

    say("Plain MkDocs builds (no hooks, no notebook)")
    plain_config = ws.project / "mkdocs-plain.yml"
    plain_config.write_text("INHERIT: mkdocs.yml\nhooks: []\nplugins:\n  - search\n")
    plain = [ws.build(f"plain-{i + 1}", cache, plain_config.name, strict=False) for i in range(args.repeat)]

    times = {name: [r.seconds for r, _, _ in runs] for name, runs in (("warm", warm), ("plain", plain))}
    imports = [i for _, _, i in warm]
    rows = [
        against(
            Row(
                "Cold build: every figure, data file, fact and the notebook",
                [r.seconds for r, _, _ in cold],
                "s",
                rss_kb=[r.rss_kb for r, _, _ in cold if r.rss_kb],
                note=f"{len(made) - len(not_made)} artifacts computed, "
                f"{notebooks_executed(cold[-1][0].output)} notebook executed"
                + (f"; {len(not_made)} came from a cache: {', '.join(not_made)}" if not_made else ""),
            ),
            "<=",
            COLD_BUILD_MAX_S,
        ),
        against(
            Row(
                "Warm build: full caches, nothing changed",
                times["warm"],
                "s",
                rss_kb=[r.rss_kb for r, _, _ in warm if r.rss_kb],
                note=f"recomputed {len(remade)}: {', '.join(remade)}" if remade else "nothing recomputed",
            ),
            "<=",
            WARM_BUILD_MAX_S,
        ),
        Row(
            "Plain MkDocs build of the same pages",
            times["plain"],
            "s",
            rss_kb=[r.rss_kb for r, _, _ in plain if r.rss_kb],
            note="no hooks, no notebook page, not strict",
        ),
        against(
            Row(
                "Warm build ÷ plain build",
                [summary(times["warm"])[0] / summary(times["plain"])[0]],
                "x",
                n=min(len(warm), len(plain)),
                note="ratio of the medians",
            ),
            "<=",
            WARM_OVER_PLAIN_MAX,
        ),
        Row(
            "Warm build imports torch or transformers",
            [bool(i) for i in imports if i is not None],
            "text",
            n=len(imports),
            text=f"yes, in {sum(map(bool, imports))} of {len(imports)} builds" if any(imports) else "no",
            target="no",
            status="missed" if any(imports) else "met" if None not in imports else "not measured",
            note=", ".join(sorted({m for i in imports if i for m in i}))
            or (
                "a process exited unreported" if None in imports else "any process, the notebook's kernel too"
            ),
        ),
    ]
    details = {
        "cold_artifact_seconds": {p: s for s, p in slowest},
        "site_artifacts": sorted(used),
        "page_weights": page_weights(warm[-1][1]),
        "search_index_bytes": sum(
            f.stat().st_size for f in (warm[-1][1] / "search").glob("search_index.json")
        ),
    }
    return rows, details, cache


def measure_serve(ws: Workspace, cache: Path, args, used: set[str]) -> tuple[list[Row], dict]:
    closures = ws.closures()
    module = args.snippet or pick_snippet(closures, used)
    expected = dependants(closures, module) & used
    say(f"mkdocs serve: editing docs/{args.page} and then {module}")
    serve = Serve(ws, cache)
    reloads, snippet_reloads, recomputed = [], [], []
    try:
        for i in range(args.repeat):
            marker = f"bench-marker-{uuid.uuid4().hex}"
            seconds, _ = serve.edit(
                ws.project / "docs" / args.page,
                f"\n\n{marker}\n",
                served=lambda marker=marker: marker in serve.get(page_url(args.page)),
            )
            reloads.append(seconds)
            say(f"  edit {i + 1} of docs/{args.page}: {seconds:.2f} s")
        for i in range(args.repeat):
            # A statement, not a comment: cache keys hash the code's syntax tree, not its text.
            edit = f'\n_BENCH_EDIT = "{uuid.uuid4().hex}"  # appended by make bench\n'
            seconds, lines = serve.edit(ws.project / module, edit)
            snippet_reloads.append(seconds)
            made = parse_artifacts("\n".join(lines))
            recomputed.append(sorted(p for p, s in made.items() if s is not None))
            say(f"  edit {i + 1} of {module}: {seconds:.2f} s, recomputed {len(recomputed[-1])}")
    finally:
        serve.close()
    exact = all(set(r) == expected for r in recomputed)
    counts = sorted({len(r) for r in recomputed})
    extra = sorted({p for r in recomputed for p in r} - expected)
    missing = sorted(expected - {p for r in recomputed for p in r})
    rows = [
        against(
            Row(f"Edit-to-reload: docs/{args.page} under `mkdocs serve`", reloads, "s"),
            "<=",
            RELOAD_MAX_S,
        ),
        Row(
            f"Edit-to-reload: {module} under `mkdocs serve`",
            snippet_reloads,
            "s",
            note=f"recomputes {len(expected)} artifacts",
        ),
        Row(
            f"Artifacts recomputed after editing {module}",
            [len(r) for r in recomputed],
            "text",
            text=f"{'/'.join(map(str, counts))} of {len(used)}",
            target=f"only its {len(expected)} dependants",
            status="met" if exact and expected else "missed",
            note=(f"also: {', '.join(extra)}. " if extra else "")
            + (f"not recomputed: {', '.join(missing)}. " if missing else "")
            + f"dependants: {', '.join(sorted(expected))}",
        ),
    ]
    return rows, {"snippet": module, "expected": sorted(expected), "recomputed": recomputed}


def measure_model_load(ws: Workspace, cache: Path, args) -> tuple[list[Row], dict]:
    from state_simulators.model import converted_path, gguf_path

    say("Model load (tokenizer and model), from the GGUF file and from the converted folder")
    runs = {"gguf": [], "cached": []}
    for i in range(args.repeat):
        for source, arguments in (
            ("gguf", [str(gguf_path().parent), gguf_path().name]),
            ("cached", [str(converted_path())]),
        ):
            run = run_timed(
                [sys.executable, "-c", LOAD, *arguments],
                cwd=ws.project,
                env=ws.env(cache),
                log=ws.logs / f"load-{source}-{i + 1}.log",
                timeout=1800,
            )
            if run.returncode:
                raise BenchError(f"loading the model ({source}) failed, log {run.log}:\n{tail(run.output)}")
            result = json.loads(run.output.strip().splitlines()[-1])
            runs[source].append({**result, "rss_kb": run.rss_kb})
            say(f"  {source} {i + 1}: import {result['import']:.2f} s, load {result['load']:.2f} s")

    def loads(source):
        return [r["load"] for r in runs[source]]

    def rss(source):
        return [r["rss_kb"] for r in runs[source] if r["rss_kb"]]

    rows = [
        Row(
            "Import torch and transformers",
            [r["import"] for rs in runs.values() for r in rs],
            "s",
            note="paid once by any process that loads the model",
        ),
        Row(
            "Model load from the GGUF file",
            loads("gguf"),
            "s",
            rss_kb=rss("gguf"),
            note="de-quantises the Q4_1 weights",
        ),
        Row("Model load from the converted cache", loads("cached"), "s", rss_kb=rss("cached")),
        against(
            Row(
                "GGUF load ÷ cached load",
                [summary(loads("gguf"))[0] / summary(loads("cached"))[0]],
                "x",
                n=args.repeat,
                note="ratio of the medians",
            ),
            ">=",
            LOAD_SPEEDUP_MIN,
        ),
    ]
    return rows, runs


def measure_tests(ws: Workspace, cache: Path, args) -> tuple[Row, list]:
    from state_simulators.cache import CACHE_ENV

    row = Row("Test suite: `make test`, browser tests included", [], "s")
    against(row, "<=", TEST_SUITE_MAX_S)
    if args.skip_tests:
        row.status, row.note = "not measured", "run with --skip-tests"
        return row, []
    say("Test suite (python -m pytest, in the working tree)")
    env = {**os.environ, CACHE_ENV: str(cache), "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    outcomes, problems = [], []
    for i in range(args.test_repeat):
        run = run_timed(
            [sys.executable, "-m", "pytest"],
            cwd=ROOT,
            env=env,
            log=ws.logs / f"pytest-{i + 1}.log",
            timeout=7200,
        )
        counts = parse_pytest(run.output)
        outcomes.append({"seconds": run.seconds, "returncode": run.returncode, "counts": counts})
        row.values.append(run.seconds)
        if run.rss_kb:
            row.rss_kb.append(run.rss_kb)
        if run.returncode:
            problems.append(f"exit {run.returncode}")
        if "browser tests were skipped" in run.output:
            problems.append("browser tests skipped")
        say(f"  pytest {i + 1}: {run.seconds:.0f} s, {counts}")
    row.n = len(row.values)
    against(row, "<=", TEST_SUITE_MAX_S)
    if problems:
        row.status = "missed"
    last = outcomes[-1]["counts"]
    row.note = "; ".join([", ".join(f"{n} {word}" for word, n in last.items()), *sorted(set(problems))])
    return row, outcomes


def weight_row(weights: list[dict]) -> Row:
    heaviest = max(weights, key=lambda w: w["total"])
    return against(
        Row(
            "Heaviest page with its assets",
            [heaviest["total"]],
            "bytes",
            note=f"{heaviest['page']}, {heaviest['files']} files",
        ),
        "<=",
        PAGE_MAX_BYTES,
    )


# ---------------------------------------------------------------------------------------------
# Reporting


def machine() -> dict:
    cpuinfo = Path("/proc/cpuinfo")
    names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M) if cpuinfo.exists() else []

    def git(*command):
        done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {
        "cpus": os.cpu_count(),
        "cpu_model": names[0].strip() if names else platform.processor() or "unknown CPU",
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": git("rev-parse", "--short", "HEAD") or "unknown",
        "uncommitted": bool(git("status", "--porcelain")),
        "python": platform.python_version(),
        "versions": {name: importlib.metadata.version(name) for name in ("torch", "transformers", "mkdocs")},
    }


def report(rows: list[Row], details: dict, info: dict, args) -> str:
    """The Markdown that goes between the markers of docs/performance.md."""
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    commit = f"`{info['commit']}`" + (" with uncommitted changes" if info["uncommitted"] else "")
    parts = [
        f"Measured by `make bench` on {info['date']}, at commit {commit}, on {info['cpus']} CPUs "
        f"({info['cpu_model']}); Python {info['python']}, {versions}. Options: "
        f"`--repeat {args.repeat} --cold-repeat {args.cold_repeat} --test-repeat {args.test_repeat}`"
        + (" `--skip-tests`" if args.skip_tests else "")
        + ".",
        verdict(rows),
        results_table(rows),
        "#### Page weight",
        "Each built page with the distinct local files it makes the browser load (stylesheets, "
        "scripts, images, figures, data).",
        markdown_table(
            ["Page", "HTML", "Assets", "Files", "Total"],
            [
                [
                    w["page"],
                    *(fmt(w[k], "bytes") for k in ("html", "assets")),
                    w["files"],
                    fmt(w["total"], "bytes"),
                ]
                for w in details["page_weights"]
            ],
        ),
        f"The search box also fetches the search index once per visit "
        f"({fmt(details['search_index_bytes'], 'bytes')}), counted in no page above.",
    ]
    seconds = details["cold_artifact_seconds"]
    if seconds:
        parts += [
            "#### Slowest artifacts of the cold build",
            "As the build log reports them; the first artifact that needs the model also pays for "
            "importing torch and loading the model.",
            markdown_table(
                ["Artifact", "Kind", "Seconds"],
                [
                    [path.split("/", 1)[1], KINDS[path.split("/", 1)[0]], f"{s:.1f}"]
                    for path, s in list(seconds.items())[:8]
                ],
            ),
        ]
    return unreferenced("\n\n".join(parts))


def print_table(rows: list[Row], info: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"State Simulators on {info['cpus']} CPUs ({info['cpu_model']}), {info['date']}")
    for column in ("Measure", "n", "Median (min – max)", "Peak memory", "Target", "Result"):
        table.add_column(column, overflow="fold")
    colours = {"met": "green", "missed": "bold red", "not measured": "yellow"}
    for r in rows:
        result = f"[{colours[r.status]}]{r.status}[/]" if r.status in colours else r.status
        table.add_row(r.measure, str(r.n or ""), value_cell(r), rss_cell(r), r.target, result)
    # Wide enough to read when the output is piped, where rich would assume 80 columns.
    Console(width=max(shutil.get_terminal_size((140, 24)).columns, 120)).print(table)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs of each quick measure (default 5)")
    parser.add_argument("--cold-repeat", type=int, default=1, help="cold builds (default 1)")
    parser.add_argument("--test-repeat", type=int, default=1, help="test-suite runs (default 1)")
    parser.add_argument("--skip-tests", action="store_true", help="do not run the test suite")
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
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # The model must be fetched and converted before anything is timed.
    subprocess.run([sys.executable, "-m", "snippets", "fetch"], cwd=ROOT, check=True)
    from state_simulators.cache import cache_dir

    out = cache_dir("bench")
    logs = out / "logs"
    shutil.rmtree(logs, ignore_errors=True)
    logs.mkdir()
    tmp = Path(tempfile.mkdtemp(prefix="state-simulators-bench-"))
    try:
        ws = Workspace(tmp, logs)
        rows, details, cache = measure_builds(ws, args)
        serve_rows, details["serve"] = measure_serve(ws, cache, args, set(details["site_artifacts"]))
        load_rows, details["model_load"] = measure_model_load(ws, cache, args)
        test_row, details["tests"] = measure_tests(ws, cache, args)
    except BenchError as error:
        say(f"bench: {error}")
        return 1
    finally:
        if args.keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    rows = rows + serve_rows + load_rows + [test_row, weight_row(details["page_weights"])]
    info = machine()
    results = {"machine": info, "options": vars(args), "rows": [asdict(r) for r in rows], **details}
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print_table(rows, info)
    print(verdict(rows).replace("**", ""))
    if not args.no_write:
        PAGE.write_text(replace_block(PAGE.read_text(), report(rows, details, info, args)))
        say(f"wrote {PAGE.relative_to(ROOT)} and {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
