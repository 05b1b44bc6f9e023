"""Edit-to-reload under `mkdocs serve`: a page edit, and a snippet edit with what it recomputes."""

import uuid
from pathlib import Path

from bench.parse import computed, page_url
from bench.process import say
from bench.rows import Row, against
from bench.serve import Serve
from bench.targets import RELOAD_MAX_S
from bench.workspace import Workspace


def dependants(closures: dict[str, list[str]], module: str) -> set[str]:
    """The artifacts whose cache key hashes `module` (a path such as snippets/explorer.py)."""
    return {path for path, files in closures.items() if module in files}


def pick_snippet(closures: dict[str, list[str]], used: set[str]) -> str:
    """The snippet module that the fewest of the site's artifacts depend on (at least one).
    Raises StopIteration when no module has a dependant among `used`."""
    modules = {m for files in closures.values() for m in files}
    counted = sorted((len(dependants(closures, m) & used), m) for m in modules)
    return next(m for count, m in counted if count)


def page_edits(serve: Serve, page: Path, url: str, repeat: int) -> list[float]:
    """Seconds from appending a unique marker to `page` until the server serves it."""
    seconds = []
    for i in range(repeat):
        marker = f"bench-marker-{uuid.uuid4().hex}"
        took, _ = serve.edit(page, f"\n\n{marker}\n", served=lambda marker=marker: marker in serve.get(url))
        seconds.append(took)
        say(f"  edit {i + 1} of {page.name}: {took:.2f} s")
    return seconds


def snippet_edits(serve: Serve, module: Path, repeat: int) -> tuple[list[float], list[list[str]]]:
    """Seconds from appending a statement to `module` until the rebuild is done, and the
    artifacts each rebuild computed, from its report."""
    seconds, recomputed = [], []
    for i in range(repeat):
        # A statement, not a comment: cache keys hash the code's syntax tree, not its text.
        took, report = serve.edit(module, f'\n_BENCH_EDIT = "{uuid.uuid4().hex}"  # appended by make bench\n')
        seconds.append(took)
        recomputed.append(sorted(computed(report)))
        say(f"  edit {i + 1} of {module.name}: {took:.2f} s, recomputed {len(recomputed[-1])}")
    return seconds, recomputed


def recomputed_row(module: str, recomputed: list[list[str]], expected: set[str], used: set[str]) -> Row:
    """Met when every edit recomputed exactly the module's dependants, not one more."""
    counts = sorted({len(r) for r in recomputed})
    extra = sorted({p for r in recomputed for p in r} - expected)
    missing = sorted(expected - {p for r in recomputed for p in r})
    why = (f"also: {', '.join(extra)}. " if extra else "") + (
        f"not recomputed: {', '.join(missing)}." if missing else ""
    )
    exact = all(set(r) == expected for r in recomputed)
    return Row(
        f"Artifacts recomputed after editing {module}",
        [len(r) for r in recomputed],
        "text",
        text=f"{'/'.join(map(str, counts))} of {len(used)}",
        target=f"only its {len(expected)} dependants",
        status="met" if exact and expected else "missed",
        note=f"dependants: {', '.join(sorted(expected))}",
        why=why.strip() or ("no artifact depends on it" if not expected else ""),
    )


def measure_serve(ws: Workspace, cache: Path, args, used: set[str]) -> tuple[list[Row], dict]:
    """Edit `args.page`, then a snippet module (`args.snippet`, or the one with the fewest
    dependants), `args.repeat` times each under one `mkdocs serve` with the warm `cache`."""
    closures = ws.closures()
    module = args.snippet or pick_snippet(closures, used)
    expected = dependants(closures, module) & used
    say(f"mkdocs serve: editing docs/{args.page} and then {module}")
    serve = Serve(ws, cache)
    try:
        reloads = page_edits(serve, ws.project / "docs" / args.page, page_url(args.page), args.repeat)
        snippet_reloads, recomputed = snippet_edits(serve, ws.project / module, args.repeat)
    finally:
        serve.close()
    page_row = Row(f"Edit-to-reload: docs/{args.page} under `mkdocs serve`", reloads, "s")
    snippet_row = Row(f"Edit-to-reload: {module} under `mkdocs serve`", snippet_reloads, "s")
    snippet_row.note = f"recomputes {len(expected)} artifacts"
    rows = [
        against(page_row, "<=", RELOAD_MAX_S),
        snippet_row,
        recomputed_row(module, recomputed, expected, used),
    ]
    return rows, {"snippet": module, "expected": sorted(expected), "recomputed": recomputed}
