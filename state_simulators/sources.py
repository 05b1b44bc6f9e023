"""The page code in `snippets/`, read as source: parsed once per version of each file.

A warm build must not import page code (it would import torch), so everything the build needs
to know about a module — its declarations, its `snippets` imports, its docstring — is read
from its syntax tree.
"""

import ast
import functools
from pathlib import Path

from state_simulators.cache import ROOT

SNIPPETS = ROOT / "snippets"
PACKAGE_NAME = "snippets"


def is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'"


@functools.cache
def _read(path: Path, mtime_ns: int, size: int) -> tuple[ast.Module, ast.Module, str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    code = ast.Module([node for node in tree.body if not is_main_guard(node)], [])
    return tree, code, ast.dump(code)


def version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def _read_now(path: Path) -> tuple[ast.Module, ast.Module, str]:
    """Parsed once per version of the file: a build parses every module for several reasons,
    and `mkdocs serve` rebuilds in one process."""
    return _read(path, *version(path))


def parsed(path: Path) -> ast.Module:
    return _read_now(path)[0]


def code_of(path: Path) -> ast.Module:
    """A module's code as results depend on it: parsed, so comments and layout don't count, and
    without its `if __name__ == "__main__":` block, which only runs it from a terminal."""
    return _read_now(path)[1]


def code_dump(path: Path) -> str:
    """`code_of(path)` as text, for hashing."""
    return _read_now(path)[2]


def module_name(path: Path) -> str:
    """`snippets/ascii/canvas.py` -> `snippets.ascii.canvas`."""
    parts = path.resolve().relative_to(SNIPPETS).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE_NAME, *parts))


def source(module: str) -> Path | None:
    """The file of a `snippets` module, or None when there is none."""
    parts = module.split(".")[1:]
    for candidate in (
        SNIPPETS.joinpath(*parts).with_suffix(".py"),
        SNIPPETS.joinpath(*parts, "__init__.py"),
    ):
        if parts and candidate.exists():
            return candidate
    return None


def page_modules() -> list[Path]:
    """Every module of `snippets/` (not its `__init__` or `__main__` files), sorted."""
    return sorted(path for path in SNIPPETS.rglob("*.py") if path.name not in ("__init__.py", "__main__.py"))


def imported_modules(path: Path) -> set[str]:
    """The `snippets` modules that the file at `path` imports (their files exist)."""
    return _imports(path, *version(path))


@functools.cache
def _imports(path: Path, mtime_ns: int, size: int) -> set[str]:
    names = set()
    for node in ast.walk(code_of(path)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith(f"{PACKAGE_NAME}."))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(path, node)
            if base.split(".")[0] == PACKAGE_NAME:
                names.add(base)
                names.update(f"{base}.{a.name}" for a in node.names)
    return {n for n in names if source(n)}


def _absolute(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module name of `from … import`, relative imports resolved."""
    if not node.level:
        return node.module
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    package = package[: len(package) - node.level + 1]
    return ".".join([*package, node.module] if node.module else package)


def source_closure(module: str) -> list[Path]:
    """The module's file and those of every `snippets` module it imports, directly or not."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(imported_modules(source(name)))
    return sorted(source(name) for name in seen)


def summary(path: Path) -> str:
    """The first line of a module's docstring."""
    docstring = ast.get_docstring(parsed(path)) or ""
    return docstring.splitlines()[0] if docstring else ""


def is_runnable(path: Path) -> bool:
    """True when the module ends with an `if __name__ == "__main__":` block."""
    return any(is_main_guard(node) for node in parsed(path).body)
