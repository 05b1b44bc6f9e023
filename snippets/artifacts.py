"""Figures, data files and prose numbers that the site build computes, declared next to their code.

A function in `snippets/` becomes part of the site with one decorator:

    @figure("next-token.svg")      # returns a matplotlib Figure -> site/figures/next-token.svg
    @data("explorer.json")         # returns JSON-able data      -> site/data/explorer.json
    @facts("temperature")          # returns {name: text}        -> {{ temperature.name }} in prose

The build finds these by reading the sources (no import), and computes one only when its
cache entry is missing. The cache key hashes everything the result depends on: the source of
the module and of every `snippets` module it imports, the model's fingerprint, the versions of
the libraries that compute and draw, and any data files the declaration names.
"""

import ast
import functools
import hashlib
import importlib
import importlib.metadata
import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path

from snippets import model
from snippets.cache import atomic_write, cache_dir

PACKAGE = Path(__file__).resolve().parent
FOLDERS = {"figure": "figures", "data": "data", "facts": "facts"}
LIBRARIES = ("torch", "transformers", "matplotlib", "numpy")


class ArtifactError(Exception):
    """A declaration or computation problem, reported in one line."""


# --8<-- [start:declare]
def _declare(kind: str, name: str, depends: tuple[str, ...]):
    def mark(function):
        function.artifact = (kind, name, depends)
        return function

    return mark


def figure(name: str, *, depends: tuple[str, ...] = ()):
    """Register a function returning a matplotlib Figure as `figures/<name>` (an .svg)."""
    return _declare("figure", name, depends)


def data(name: str, *, depends: tuple[str, ...] = ()):
    """Register a function returning JSON-able data as `data/<name>` (a .json)."""
    return _declare("data", name, depends)


def facts(group: str, *, depends: tuple[str, ...] = ()):
    """Register a function returning {key: text}; pages write `{{ group.key }}` in their prose."""
    return _declare("facts", group, depends)


# --8<-- [end:declare]


@dataclass(frozen=True)
class Artifact:
    kind: str
    name: str
    module: str
    function: str
    depends: tuple[str, ...]

    @property
    def path(self) -> str:
        """Where it lands in the site (facts are only substituted into pages)."""
        return f"{FOLDERS[self.kind]}/{self.name}"


def _module_name(path: Path) -> str:
    return ".".join(("snippets", *path.relative_to(PACKAGE).with_suffix("").parts))


def _decorations(tree: ast.Module):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) in FOLDERS:
                    depends = next(
                        (k.value for k in deco.keywords if k.arg == "depends"), None
                    )
                    yield (
                        node.name,
                        deco.func.id,
                        ast.literal_eval(deco.args[0]),
                        (tuple(ast.literal_eval(depends)) if depends else ()),
                    )


def discover() -> dict[str, Artifact]:
    """Every declared artifact, by its site path, found by parsing the sources of `snippets/`."""
    found: dict[str, Artifact] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        for function, kind, name, depends in _decorations(parsed(path)):
            artifact = Artifact(kind, name, _module_name(path), function, depends)
            if artifact.path in found:
                other = found[artifact.path]
                raise ArtifactError(
                    f"{artifact.path} is declared twice: {other.module}.{other.function} "
                    f"and {artifact.module}.{artifact.function}; rename one"
                )
            found[artifact.path] = artifact
    return found


def is_main_guard(node: ast.stmt) -> bool:
    return isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'"


@functools.cache
def _read(path: Path, mtime_ns: int, size: int) -> tuple[ast.Module, ast.Module, str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    code = ast.Module([node for node in tree.body if not is_main_guard(node)], [])
    return tree, code, ast.dump(code)


def _version(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def _read_now(path: Path) -> tuple[ast.Module, ast.Module, str]:
    """Parsed once per version of the file: a build parses every module for several reasons,
    and `mkdocs serve` rebuilds in one process."""
    return _read(path, *_version(path))


def parsed(path: Path) -> ast.Module:
    return _read_now(path)[0]


def code_of(path: Path) -> ast.Module:
    """A module's code as results depend on it: parsed, so comments and layout don't count, and
    without its `if __name__ == "__main__":` block, which only runs it from a terminal."""
    return _read_now(path)[1]


def _imported_modules(path: Path) -> set[str]:
    """The `snippets` modules that the file at `path` imports."""
    return _imports(path, *_version(path))


@functools.cache
def _imports(path: Path, mtime_ns: int, size: int) -> set[str]:
    names = set()
    for node in ast.walk(code_of(path)):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("snippets."))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module
            and node.module.split(".")[0] == "snippets"
        ):
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    # This module is the build's machinery, not a result's recipe: editing it must not
    # recompute every figure. What of it shapes the bytes (compute) is hashed by itself.
    return {n for n in names if _source(n) and n != __name__}


def _source(module: str) -> Path | None:
    parts = module.split(".")[1:]
    for candidate in (
        PACKAGE.joinpath(*parts).with_suffix(".py"),
        PACKAGE.joinpath(*parts, "__init__.py"),
    ):
        if parts and candidate.exists():
            return candidate
    return None


def source_closure(module: str) -> list[Path]:
    """The module's file and those of every `snippets` module it imports, directly or not."""
    seen, todo = set(), [module]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(_imported_modules(_source(name)))
    return sorted(_source(name) for name in seen)


def dependency_key(label: str, modules: list[str], files: tuple[str, ...] = ()) -> str:
    """A hash of all a result computed by `modules` depends on: their code and that of every
    `snippets` module they import, the named files, the model, the libraries, the threads."""
    digest = hashlib.sha256(f"{label}\n".encode())
    for path in sorted({path for module in modules for path in source_closure(module)}):
        digest.update(f"{path.relative_to(PACKAGE)}\n{_read_now(path)[2]}\n".encode())
    for extra in files:
        digest.update(f"{extra}\n".encode() + (PACKAGE.parent / extra).read_bytes())
    digest.update(inspect.getsource(compute).encode())
    digest.update(model.fingerprint().encode())
    # Float sums depend on how many threads split them: results are per thread setting.
    digest.update(f"cpus={os.cpu_count()} {os.environ.get('OMP_NUM_THREADS')}\n".encode())
    for library in LIBRARIES:
        digest.update(f"{library}=={importlib.metadata.version(library)}\n".encode())
    return digest.hexdigest()[:20]


def cache_key(artifact: Artifact) -> str:
    label = f"{artifact.kind}:{artifact.name}:{artifact.function}"
    return dependency_key(label, [artifact.module], artifact.depends)


def cached_path(artifact: Artifact) -> Path:
    suffix = ".json" if artifact.kind == "facts" else ""
    return (
        cache_dir("artifacts", FOLDERS[artifact.kind])
        / f"{artifact.name}.{cache_key(artifact)}{suffix}"
    )


def compute(artifact: Artifact) -> bytes:
    """Run the declared function and turn its result into the bytes the site serves."""
    function = getattr(importlib.import_module(artifact.module), artifact.function)
    result = function()
    if artifact.kind == "figure":
        from snippets.plotting import to_svg

        return to_svg(result)
    return json.dumps(result, sort_keys=True, indent=1, ensure_ascii=False).encode()


# --8<-- [start:produce]
def produce(artifact: Artifact) -> tuple[bytes, bool]:
    """The artifact's bytes from the cache, computing and caching them first if needed.

    Returns (content, was_cached).
    """
    path = cached_path(artifact)
    if path.exists():
        return path.read_bytes(), True
    content = compute(artifact)
    for stale in path.parent.glob(f"{artifact.name}.*"):
        stale.unlink()
    atomic_write(path, content)
    return content, False


# --8<-- [end:produce]
