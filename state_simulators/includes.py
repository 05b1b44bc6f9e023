"""The include index: which code each page shows, parsed one way for the build, the runner,
the tests and the page scaffold.

Pages include code with pymdownx.snippets, inline or as a block:

    --8<-- "snippets/temperature.py:collapse"

    --8<--
    snippets/temperature.py:collapse
    --8<--

and a module marks a section with `# --8<-- [start:name]` … `# --8<-- [end:name]`. A notebook
page (a jupytext `.py` under docs/) shows the `snippets` modules it imports.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from state_simulators.cache import ROOT

DOCS = ROOT / "docs"
INLINE = re.compile(r"""^[ \t]*-+8<-+[ \t]+(["'])(.+?)\1[ \t]*$""", re.MULTILINE)
BLOCK_FENCE = re.compile(r"^[ \t]*-+8<-+[ \t]*$")
MARKER = re.compile(r"^\s*#\s*-+8<-+\s*(.*)$")
MARKER_FORM = re.compile(r"\[(start|end):([A-Za-z][\w-]*)\]")


class IncludeError(Exception):
    """An include or a section marker that cannot work, in one line naming file and line."""


@dataclass(frozen=True)
class Include:
    path: str  # relative to the project root, e.g. "snippets/temperature.py"
    section: str | None
    line: int  # 1-based line of the page where it stands

    @property
    def target(self) -> str:
        return f"{self.path}:{self.section}" if self.section else self.path


def _parse(spec: str, line: int) -> Include:
    path, _, section = spec.strip().partition(":")
    return Include(path, section or None, line)


def includes(markdown: str) -> list[Include]:
    """Every include of a page, inline and block forms, in order."""
    found = [_parse(m.group(2), markdown.count("\n", 0, m.start()) + 1) for m in INLINE.finditer(markdown)]
    inside = False
    for number, text in enumerate(markdown.splitlines(), start=1):
        if BLOCK_FENCE.match(text):
            inside = not inside
        elif inside and text.strip():
            found.append(_parse(text, number))
    return sorted(found, key=lambda include: include.line)


def sections(path: Path, shown_as: str | None = None) -> dict[str, tuple[int, int]]:
    """A file's marked sections, name -> (start line, end line); malformed markers raise,
    naming the file (as `shown_as`, else relative to the project) and the line."""
    opened: dict[str, int] = {}
    found: dict[str, tuple[int, int]] = {}
    where = shown_as or (path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    for number, text in enumerate(path.read_text().splitlines(), start=1):
        marker = MARKER.search(text)
        if not marker:
            continue
        form = MARKER_FORM.fullmatch(marker.group(1).strip())
        if not form:
            raise IncludeError(
                f"{where}:{number}: malformed section marker {text.strip()!r}: "
                "write '# --8<-- [start:name]' or '# --8<-- [end:name]'"
            )
        kind, name = form.groups()
        if kind == "start":
            if name in opened or name in found:
                raise IncludeError(f"{where}:{number}: section '{name}' is marked twice: rename one")
            opened[name] = number
        elif name not in opened:
            raise IncludeError(
                f"{where}:{number}: section '{name}' ends but never starts: "
                f"add '# --8<-- [start:{name}]' above it"
            )
        else:
            found[name] = (opened.pop(name), number)
    if opened:
        name, number = next(iter(opened.items()))
        raise IncludeError(f"{where}:{number}: section '{name}' is never closed: add '# --8<-- [end:{name}]'")
    return found


def check(markdown: str, page: str, root: Path = ROOT) -> None:
    """Raise IncludeError, naming the page and the include, for any include that cannot work."""
    for include in includes(markdown):
        file = root / include.path
        if not file.is_file():
            raise IncludeError(f"{page} includes {include.target}, but {include.path} does not exist")
        try:
            marked = sections(file, include.path)
        except IncludeError as error:
            raise IncludeError(f"{page} includes {include.target}, but {error}") from None
        if include.section and include.section not in marked:
            raise IncludeError(
                f"{page} includes {include.target}, but {include.path} has no section "
                f"'# --8<-- [start:{include.section}]'"
            )


def module_of(path: str) -> str | None:
    """`snippets/ascii/canvas.py` -> `snippets.ascii.canvas`; None outside `snippets/`."""
    if not (path.startswith("snippets/") and path.endswith(".py")):
        return None
    return path.removesuffix(".py").replace("/", ".")


def modules_shown(page_source: str, *, notebook: bool = False) -> list[str]:
    """The `snippets` modules a page includes code from (or, in a notebook, imports)."""
    found = {module_of(include.path) for include in includes(page_source)} - {None}
    if notebook:
        found |= {name for name in _imports(page_source) if _is_module(name)}
    return sorted(found)


def _imports(code: str) -> set[str]:
    """Every `snippets…` module a notebook's code imports, `from snippets.x import y` giving
    both `snippets.x` and `snippets.x.y` (only those that are modules are kept)."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in names if name.split(".")[0] == "snippets"}


def _is_module(name: str) -> bool:
    parts = name.split(".")
    base = ROOT.joinpath(*parts)
    return base.with_suffix(".py").is_file()


def pages() -> list[Path]:
    """Every page source: Markdown pages and notebook pages (jupytext `.py`)."""
    return sorted(p for p in DOCS.glob("*") if p.suffix in (".md", ".py"))


def shown_by(page: Path) -> list[str]:
    return modules_shown(page.read_text(), notebook=page.suffix == ".py")


def pages_showing(module: str) -> list[str]:
    """The pages that show code from `module` (a dotted `snippets` name)."""
    return sorted(page.name for page in pages() if module in shown_by(page))
