"""`python -m snippets.<module>`: run the code of one page from a terminal.

A page module ends with

    if __name__ == "__main__":
        from state_simulators import runner

        raise SystemExit(runner.run(__spec__.name))

and then prints, by default, the numbers its page quotes (its `@facts`), taken from the build's
cache when the site was built, computed otherwise. `--figures DIR` writes its figures and data
files into DIR. A module may add its own options and output with `add_arguments(parser)` and
`demo(args, console)`. What is printed is computed as rows first (`facts_rows`, `module_rows`)
and rendered apart (`render`), so tests check the rows.
"""

import argparse
import importlib
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown
from rich.markup import escape
from rich.table import Table

from state_simulators import artifacts, includes, model, sources
from state_simulators.arguments import Parser
from state_simulators.cache import CacheError


def short_name(path: Path) -> str:
    """`snippets/ascii/canvas.py` -> `ascii.canvas`, as in `python -m snippets.ascii.canvas`."""
    return sources.module_name(path).removeprefix("snippets.")


def runnable_modules() -> dict[str, Path]:
    """Every module of `snippets/` that runs with `python -m snippets.<name>`, by name."""
    return {short_name(path): path for path in sources.page_modules() if sources.is_runnable(path)}


def module_rows() -> list[tuple[str, str, str]]:
    """(name, what it shows, pages) for each runnable module: what `python -m snippets` lists."""
    return [
        (name, sources.summary(path), ", ".join(includes.pages_showing(f"snippets.{name}")))
        for name, path in runnable_modules().items()
    ]


def declared(module: str) -> list[artifacts.Artifact]:
    return [a for a in artifacts.discover().values() if a.module == module]


def build_parser(module: str) -> Parser:
    path = sources.source(module)
    made = [a.path for a in declared(module)]
    epilog = "\n".join(
        [
            f"shown on: {', '.join(includes.pages_showing(module)) or 'no page yet'}",
            f"declares: {', '.join(made) or 'nothing for the build'}",
        ]
    )
    parser = Parser(
        prog=f"python -m {module}",
        description=sources.summary(path),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--figures", type=Path, metavar="DIR", help="write this module's figures and data here"
    )
    return parser


def facts_rows(artifact: artifacts.Artifact) -> tuple[list[tuple[str, str]], bool]:
    """The (name, value) pairs of a facts group, and whether they came from the cache."""
    content, cached = artifacts.produce(artifact)
    return sorted(json.loads(content).items()), cached


def render_facts(console: Console, group: str, rows: list[tuple[str, str]], cached: bool) -> None:
    table = Table(
        title=f"{{{{ {group}.… }}}}: numbers on the page ({'from the cache' if cached else 'computed now'})",
        show_lines=True,
    )
    table.add_column("name", style="bold")
    table.add_column("value")
    for key, value in rows:
        # Some facts are whole Markdown tables: render them as tables.
        table.add_row(escape(key), Markdown(value) if "\n|" in value else escape(value))
    console.print(table)


def write_files(module: str, folder: Path) -> list[Path]:
    """Write the module's figures and data files into `folder`; returns the paths written."""
    written = []
    for artifact in declared(module):
        if artifact.kind != "facts":
            target = folder / artifact.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifacts.produce(artifact)[0])
            written.append(target)
    return written


def _report(console: Console, module: str, args) -> None:
    for artifact in declared(module):
        if artifact.kind == "facts":
            with console.status(f"computing {artifact.path} (the site build caches it)"):
                rows, cached = facts_rows(artifact)
            render_facts(console, artifact.name, rows, cached)
    if args.figures:
        for path in write_files(module, args.figures):
            console.print(f"wrote {escape(str(path))}")
    elif files := [a.path for a in declared(module) if a.kind != "facts"]:
        console.print(f"figures: {', '.join(files)}")
        console.print("write them with --figures DIR")


def run(module: str, argv: list[str] | None = None, console: Console | None = None) -> int:
    """Run `python -m <module>`: the module's own demo if it has one, then its facts."""
    parser = build_parser(module)
    code = importlib.import_module(module)
    if hasattr(code, "add_arguments"):
        code.add_arguments(parser)
    args = parser.parse_args(argv)
    console = console or Console()
    try:
        if hasattr(code, "demo"):
            code.demo(args, console)
        _report(console, module, args)
    except (model.ModelError, CacheError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
