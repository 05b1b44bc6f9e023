"""`python -m snippets.<module>`: run the code of one page from a terminal.

A page module ends with

    if __name__ == "__main__":
        from snippets import runner

        raise SystemExit(runner.run(__spec__.name))

and then prints, by default, the numbers its page quotes (its `@facts`), taken from the build's
cache when the site was built, computed otherwise. `--figures DIR` writes its figures and data
files into DIR. A module may add its own options and output with `add_arguments(parser)` and
`demo(args, console)`.
"""

import argparse
import ast
import importlib
import json
import re
import sys
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown
from rich.table import Table

from snippets import artifacts, model

PAGES = artifacts.PACKAGE.parent / "docs"


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def summary(path: Path) -> str:
    """The first line of a module's docstring: what `python -m snippets` lists."""
    docstring = ast.get_docstring(artifacts.parsed(path)) or ""
    return docstring.splitlines()[0] if docstring else ""


def is_runnable(path: Path) -> bool:
    """True when the module ends with an `if __name__ == "__main__":` block."""
    return any(artifacts.is_main_guard(node) for node in artifacts.parsed(path).body)


def runnable_modules() -> dict[str, Path]:
    """Every module of `snippets/` that runs with `python -m snippets.<name>`, by name."""
    return {
        path.stem: path
        for path in sorted(artifacts.PACKAGE.glob("*.py"))
        if not path.stem.startswith("_") and is_runnable(path)
    }


SHOWN = re.compile(
    r"""--8<--\s+["']snippets/(\w+)\.py|^\s*(?:from|import)\s+snippets\.(\w+)""", re.MULTILINE
)


def modules_shown(page_source: str) -> list[str]:
    """The `snippets` modules a page's source includes code from (or imports, in a notebook)."""
    found = {name for match in SHOWN.findall(page_source) for name in match if name}
    return sorted(found)


def pages_showing(name: str) -> list[str]:
    """The pages that show code from `snippets/<name>.py`."""
    return sorted(
        page.name
        for page in PAGES.glob("*")
        if page.suffix in (".md", ".py") and name in modules_shown(page.read_text())
    )


def declared(module: str) -> list[artifacts.Artifact]:
    return [a for a in artifacts.discover().values() if a.module == module]


def build_parser(module: str) -> Parser:
    name = module.rsplit(".", 1)[-1]
    path = artifacts.PACKAGE / f"{name}.py"
    made = [a.path for a in declared(module)]
    epilog = "\n".join(
        [
            f"shown on: {', '.join(pages_showing(name)) or 'no page yet'}",
            f"declares: {', '.join(made) or 'nothing for the build'}",
        ]
    )
    parser = Parser(
        prog=f"python -m {module}",
        description=summary(path),
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--figures", type=Path, metavar="DIR", help="write this module's figures and data here"
    )
    return parser


def show_facts(console: Console, artifact: artifacts.Artifact) -> None:
    with console.status(f"computing {artifact.path} (the site build caches it)"):
        content, cached = artifacts.produce(artifact)
    table = Table(
        title=f"{{{{ {artifact.name}.… }}}}: numbers on the page "
        f"({'from the cache' if cached else 'computed now'})",
        show_lines=True,
    )
    table.add_column("name", style="bold")
    table.add_column("value")
    for key, value in json.loads(content).items():
        # Some facts are whole Markdown tables: render them as tables.
        table.add_row(key, Markdown(value) if "\n|" in value else value)
    console.print(table)


def write_files(console: Console, module: str, folder: Path) -> None:
    for artifact in declared(module):
        if artifact.kind != "facts":
            target = folder / artifact.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(artifacts.produce(artifact)[0])
            console.print(f"wrote {target}")


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
        for artifact in declared(module):
            if artifact.kind == "facts":
                show_facts(console, artifact)
        if args.figures:
            write_files(console, module, args.figures)
        elif any(a.kind != "facts" for a in declared(module)):
            console.print(
                f"figures: {', '.join(a.path for a in declared(module) if a.kind != 'facts')}"
            )
            console.print("write them with --figures DIR")
    except (model.ModelError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
