"""What the site build does with page code, apart from MkDocs: which artifacts the pages use,
the numbers in their prose, their includes, and a structured report of what it made.

The hooks in `hooks/` are thin adapters that call these functions at MkDocs' events.
Any failure raises `BuildError` with one line naming the page and what it asked for.
"""

import json
import os
import re
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from state_simulators import artifacts, deferred, includes, page_notebooks, progress
from state_simulators.cache import atomic_write, cache_dir

REPORT_ENV = "STATE_SIMULATORS_BUILD_REPORT"
REFERENCE = re.compile(r"\b((?:figures|data)/[^\s\"'()<>\]\[]+\.(?:svg|json))")
# A figure on a line of its own: `![alt](figures/name.svg)`, perhaps indented (in a tab, a list)
FIGURE_LINE = re.compile(r"^([ \t]*)!\[.*\]\((figures/[A-Za-z0-9._-]+)\.svg\)[ \t]*$")
BRANCH = "main"  # the branch the "Code" links under figures point into
FACT = re.compile(r"\{\{\s*([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)\s*\}\}")


class BuildError(Exception):
    """A page asks for something the build cannot make; the message names page and target."""


@dataclass
class Made:
    """One artifact the build served: computed now or read from the cache."""

    path: str
    cached: bool
    seconds: float
    users: list[str]


@dataclass
class Report:
    """What one build made, written as JSON for the tests and the benchmark to read."""

    made: list[Made] = field(default_factory=list)
    facts_used: dict[str, list[str]] = field(default_factory=dict)
    model_loaded: bool = False
    imported: list[str] = field(default_factory=list)

    def write(self, path: Path) -> None:
        atomic_write(path, json.dumps(asdict(self), indent=1, sort_keys=True).encode())

    @classmethod
    def read(cls, path: Path) -> "Report":
        raw = json.loads(path.read_text())
        return cls(**{**raw, "made": [Made(**m) for m in raw["made"]]})


def report_path() -> Path:
    """Where a build writes its report: $STATE_SIMULATORS_BUILD_REPORT, else in the cache."""
    chosen = os.environ.get(REPORT_ENV)
    return Path(chosen) if chosen else cache_dir("reports") / "last-build.json"


class Build:
    """The state of one build: what is declared, what pages use, what was made."""

    def __init__(self, defer: bool = False) -> None:
        """`defer=True` (under `mkdocs serve`): serve placeholders for what is not cached and
        leave computing it to a background build (state_simulators/deferred.py)."""
        self.known = artifacts.discover()
        self.report = Report()
        self._facts: dict[str, dict | None] = {}
        self.progress = progress.Progress([], timings={})
        self.defer = defer
        self.deferred: dict[str, list[str]] = {}  # what is served as a placeholder, by its users
        self.needed = 0  # how many figures, data files and facts groups the pages use

    def used(self, pages: dict[str, str]) -> dict[str, list[str]]:
        """The figures and data files that `pages` ({page: markdown}) reference, with users."""
        users: dict[str, list[str]] = {}
        for page, markdown in pages.items():
            for path in REFERENCE.findall(markdown):
                if path not in self.known:
                    listed = ", ".join(p for p in sorted(self.known) if not p.startswith("facts/"))
                    raise BuildError(
                        f"{page} uses unknown {path}: declare it with @figure/@data in "
                        f"snippets/ (known: {listed})"
                    )
                users.setdefault(path, []).append(page)
        return dict(sorted(users.items()))

    def site_files(self, pages: dict[str, str]) -> list[tuple[str, bytes]]:
        """Every generated file `pages` need, as (site path, bytes): the figures and data files
        they reference, and beside each figure `figures/<name>.json`, the numbers it plots."""
        used = self.used(pages)
        groups = self.facts_used(pages)
        needed = {**used, **{f"facts/{group}": users for group, users in groups.items()}}
        todo = [p for p in needed if not artifacts.is_cached(self.known[p])]
        self.needed = len(needed)
        if self.defer:
            self.deferred = {p: needed[p] for p in todo}
            todo = []
        self.progress = progress.Progress(todo)
        for group, users in groups.items():  # now, so that the progress lines count them too
            if f"facts/{group}" not in self.deferred:
                self._facts[group] = json.loads(self.make(f"facts/{group}", users))
        found = []
        for path, users in used.items():
            found.extend(self.files_for(path, users))
        for page, markdown in pages.items():
            if shown := self.figures(markdown):
                notebook = page_notebooks.notebook_bytes(page, markdown, shown)
                found.append((page_notebooks.notebook_path(page), notebook))
        return found

    def files_for(self, path: str, users: list[str]) -> list[tuple[str, bytes]]:
        """A figure with the numbers it plots, or a data file; placeholders if deferred."""
        figure = self.known[path].kind == "figure"
        if path in self.deferred:
            ready = f"{self.needed - len(self.deferred)} of {self.needed}"
            shown = deferred.placeholder_svg(path, ready) if figure else deferred.placeholder_json(path)
            numbers = deferred.placeholder_json(path)
        else:
            shown = self.make(path, users)
            numbers = artifacts.figure_bytes(self.known[path]) if figure else b""
        return [(path, shown), (data_file(path), numbers)] if figure else [(path, shown)]

    def facts_used(self, pages: dict[str, str]) -> dict[str, list[str]]:
        """The declared facts groups that `pages` write into their prose, with their users."""
        users: dict[str, list[str]] = {}
        for page, markdown in pages.items():
            for group, _ in FACT.findall("".join(prose_lines(markdown))):
                if f"facts/{group}" in self.known and page not in users.get(group, []):
                    users.setdefault(group, []).append(page)
        return dict(sorted(users.items()))

    def figures(self, markdown: str) -> list[artifacts.Artifact]:
        """The declared figures a page shows, in the order it shows them first."""
        paths = [m.group(2) + ".svg" for line in prose_lines(markdown) if (m := FIGURE_LINE.match(line))]
        return [self.known[p] for p in dict.fromkeys(paths) if p in self.known]

    def make(self, path: str, users: list[str]) -> bytes:
        artifact = self.known[path]
        if path in self.progress.todo:
            self.progress.starting(path)
        started = time.perf_counter()
        try:
            content, cached = artifacts.produce(artifact)
        except Exception as error:
            raise BuildError(
                f"{artifact.path} (used by {', '.join(users)}) failed in "
                f"{artifact.module}.{artifact.function}: {type(error).__name__}: {error}"
            ) from error
        seconds = time.perf_counter() - started
        if not cached and path in self.progress.todo:
            self.progress.finished(path, seconds)
            deferred.signal(path)  # a server waiting for it rebuilds
        self.report.made.append(Made(path, cached, round(seconds, 3), users))
        return content

    def fact(self, group: str, key: str, page: str) -> str:
        if f"facts/{group}" in self.deferred:
            return deferred.FACT
        if group not in self._facts:
            if f"facts/{group}" not in self.known:
                raise BuildError(
                    f'{page} uses {{{{ {group}.{key} }}}} but no @facts("{group}") is declared in snippets/'
                )
            self._facts[group] = json.loads(self.make(f"facts/{group}", [page]))
        if key not in self._facts[group]:
            raise BuildError(
                f"{page} uses {{{{ {group}.{key} }}}} but facts '{group}' has only: "
                f"{', '.join(sorted(self._facts[group]))}"
            )
        used = self.report.facts_used.setdefault(group, [])
        if key not in used:
            used.append(key)
        return str(self._facts[group][key])

    def page_markdown(self, markdown: str, page: str, root: Path, repo_url: str | None = None) -> str:
        """Check the page's includes, put the build's numbers into its prose, and give every
        figure its "Data" and "Code" links (the code on `repo_url`, when the site has one)."""
        try:
            includes.check(markdown, page, root)
        except includes.IncludeError as error:
            raise BuildError(str(error)) from None
        markdown = substitute_prose(markdown, lambda m: self.fact(m.group(1), m.group(2), page))
        if self.figures(markdown):
            markdown += notebook_line(page)
        waiting = sum(page in users for users in self.deferred.values())
        if waiting:  # under the page's title
            title, rest = markdown.split("\n", 1) if markdown.startswith("# ") else ("", markdown)
            markdown = f"{title}\n\n{deferred.banner(waiting)}{rest}"
        return map_prose(
            markdown,
            lambda line: FIGURE_LINE.sub(lambda m: m.group(0) + self.sources_line(m, repo_url), line),
        )

    def sources_line(self, match: re.Match, repo_url: str | None) -> str:
        """The paragraph under a figure: its data file, and the function that drew it."""
        indent, stem = match.group(1), match.group(2)
        artifact = self.known.get(f"{stem}.svg")
        if artifact is None:  # `used` has refused the page already; nothing to link
            return ""
        code = f"`{artifact.module.removeprefix('snippets.')}.{artifact.function}`"
        if repo_url:
            source = artifact.module.replace(".", "/") + ".py"
            code = f"[{code}]({repo_url.rstrip('/')}/blob/{BRANCH}/{source}#L{artifact.line})"
        return (
            f"\n{indent}\n{indent}**Data** [{stem.removeprefix('figures/')}.json]({stem}.json) · "
            f"**Code** {code}\n{indent}{{: .ss-figure-sources }}\n{indent}"
        )

    def finish(self) -> Report:
        from state_simulators import model

        deferred.signal("finished")
        self.report.model_loaded = model.load.cache_info().currsize > 0
        self.report.imported = sorted(m for m in ("torch", "transformers") if m in sys.modules)
        self.report.write(report_path())
        return self.report


def notebook_line(page: str) -> str:
    """The end of a page with figures: where to get them as a notebook that draws them again."""
    notebook = page_notebooks.notebook_path(page)
    name = notebook.rsplit("/", 1)[1]
    return (
        f"\n\n---\n\n**This page's figures as a notebook:** [{name}]({notebook}). Each cell "
        "calls the function that drew one figure; run it from a clone of the project "
        "([Run it locally](run-locally.md)).\n{: .ss-page-notebook }\n"
    )


def data_file(figure: str) -> str:
    """`figures/name.svg` -> `figures/name.json`: where the numbers it plots are served."""
    return figure.removesuffix(".svg") + ".json"


FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
OUTPUT_BLOCK = "text"  # a fenced block of this language shows what the build computed


def substitute_prose(markdown: str, replace) -> str:
    """`FACT.sub(replace, …)` in the prose and in `text` blocks (generated output), but not in
    code blocks of any other language: a code block shows what is written. Inline code counts
    as prose: pages quote a computed prompt as `{{ group.prompt }}` in backticks."""
    return map_prose(markdown, lambda line: FACT.sub(replace, line))


def map_prose(markdown: str, change) -> str:
    """`change(line)` for every line of prose and of `text` blocks; code blocks as written."""
    return "".join(change(line) if prose else line for line, prose in _lines(markdown))


def prose_lines(markdown: str) -> list[str]:
    """The lines of prose and of `text` blocks, in order."""
    return [line for line, prose in _lines(markdown) if prose]


def _lines(markdown: str):
    """Each line, and whether it is prose (or generated output) rather than code."""
    fence, language = None, None
    for line in markdown.splitlines(keepends=True):
        marker = FENCE.match(line)
        if fence is None and marker:
            fence, language = marker.group(1), marker.group(2)
            yield line, False
        elif fence is not None and marker and marker.group(1).startswith(fence) and not marker.group(2):
            fence = None
            yield line, False
        else:
            yield line, fence is None or language == OUTPUT_BLOCK
