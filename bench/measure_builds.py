"""Cold, warm and plain `mkdocs build`s of the snapshot, and the warm site's page weights.

What each build made comes from its structured report (`state_simulators.build.Report`):
which artifacts it computed, in how many seconds, and which it read from the cache.
"""

from pathlib import Path

from bench.parse import computed, notebooks_executed, served
from bench.process import say
from bench.rows import Row, against, summary
from bench.targets import COLD_BUILD_MAX_S, WARM_BUILD_MAX_S, WARM_OVER_PLAIN_MAX
from bench.weights import page_weights, search_index_bytes
from bench.workspace import Built, Workspace

# The floor: the same theme, Markdown extensions and pages, without the project's hooks, the
# notebook page or --strict.
PLAIN_CONFIG = "INHERIT: mkdocs.yml\nhooks: []\nplugins:\n  - search\n"


def _seconds(builds: list[Built]) -> list[float]:
    return [b.run.seconds for b in builds]


def _rss(builds: list[Built]) -> list[int]:
    return [b.run.rss_kb for b in builds if b.run.rss_kb]


def cold_row(cold: list[Built]) -> Row:
    """Every artifact and the notebook computed, judged against the cold-build target."""
    last = cold[-1]
    made = computed(last.report)
    reused = sorted(served(last.report) - set(made))
    note = f"{len(made)} artifacts computed, {notebooks_executed(last.run.output)} notebook executed"
    if reused:
        note += f"; {len(reused)} came from a cache: {', '.join(reused)}"
    row = Row(
        "Cold build: every figure, data file, fact and the notebook",
        _seconds(cold),
        "s",
        rss_kb=_rss(cold),
        note=note,
    )
    return against(row, "<=", COLD_BUILD_MAX_S)


def warm_row(warm: list[Built]) -> Row:
    """Nothing changed since the cold build: nothing may be recomputed."""
    last = warm[-1]
    remade = list(computed(last.report)) + ["the notebook"] * notebooks_executed(last.run.output)
    row = Row(
        "Warm build: full caches, nothing changed",
        _seconds(warm),
        "s",
        rss_kb=_rss(warm),
        note=f"recomputed {len(remade)}: {', '.join(remade)}" if remade else "nothing recomputed",
    )
    return against(row, "<=", WARM_BUILD_MAX_S)


def ratio_row(warm: list[Built], plain: list[Built]) -> Row:
    """The warm build's median over the plain build's: what the machinery adds."""
    ratio = summary(_seconds(warm))[0] / summary(_seconds(plain))[0]
    row = Row("Warm build ÷ plain build", [ratio], "x", n=min(len(warm), len(plain)))
    row.note = "ratio of the medians"
    return against(row, "<=", WARM_OVER_PLAIN_MAX)


def imports_row(warm: list[Built]) -> Row:
    """Whether any process of a warm build (the notebook's kernel too) imported torch or
    transformers; "not measured" when a process died without saying."""
    imports = [b.imported for b in warm]
    heavy = sorted({name for i in imports if i for name in i})
    known = None not in imports
    if heavy:
        text = f"yes, in {sum(map(bool, imports))} of {len(imports)} builds"
        note = ", ".join(heavy)
    else:
        text = "no"
        note = "any process, the notebook's kernel too" if known else "a process exited unreported"
    status = "missed" if heavy else "met" if known else "not measured"
    return Row(
        "Warm build imports torch or transformers",
        [bool(i) for i in imports if i is not None],
        "text",
        n=len(imports),
        text=text,
        target="no",
        status=status,
        note=note,
    )


def measure_builds(ws: Workspace, args) -> tuple[list[Row], dict, Path]:
    """Cold, warm and plain builds; returns the rows, the details (per-artifact seconds of the
    cold build, the site's artifacts, page weights), and the cache the builds filled."""
    say("Cold builds (an empty cache but for the model)")
    cold, cache = [], None
    for i in range(args.cold_repeat):
        cache = ws.new_cache(f"cache-cold-{i + 1}")
        cold.append(ws.build(f"cold-{i + 1}", cache))
    say("Warm builds (full caches, nothing changed)")
    warm = [ws.build(f"warm-{i + 1}", cache) for i in range(args.repeat)]
    say("Plain MkDocs builds (no hooks, no notebook)")
    (ws.project / "mkdocs-plain.yml").write_text(PLAIN_CONFIG)
    plain = [ws.build(f"plain-{i + 1}", cache, "mkdocs-plain.yml", strict=False) for i in range(args.repeat)]
    plain_row = Row(
        "Plain MkDocs build of the same pages",
        _seconds(plain),
        "s",
        rss_kb=_rss(plain),
        note="no hooks, no notebook page, not strict",
    )
    rows = [cold_row(cold), warm_row(warm), plain_row, ratio_row(warm, plain), imports_row(warm)]
    details = {
        "cold_artifact_seconds": computed(cold[-1].report),
        "site_artifacts": sorted(served(warm[-1].report)),
        "page_weights": page_weights(warm[-1].site),
        "search_index_bytes": search_index_bytes(warm[-1].site),
    }
    return rows, details, cache
