"""Figures, data files and prose numbers that the site build computes, declared next to their code.

A function in `snippets/` becomes part of the site with one decorator:

    @figure("next-token.svg")      # returns a matplotlib Figure -> site/figures/next-token.svg
    @data("explorer.json")         # returns JSON-able data      -> site/data/explorer.json
    @facts("temperature")          # returns {name: text}        -> {{ temperature.name }} in prose

The build finds these by reading the sources (no import, so a warm build never imports torch),
and computes one only when its cache entry is missing. The entry is keyed by `keys.dependency_key`.
A result that depends on the machine (a timing) says so with `machine_dependent=True`: it is
exempt from the check that an independent recompute gives the same bytes.
"""

import ast
import importlib
import inspect
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from state_simulators import figure_data, freshness, keys, sources
from state_simulators.cache import atomic_write, cache_dir

log = logging.getLogger(__name__)

FOLDERS = {"figure": "figures", "data": "data", "facts": "facts"}
# A site path names a figure or data file in pages: ASCII letters, digits, '.', '_' and '-'.
NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


class ArtifactError(Exception):
    """A declaration or computation problem, reported in one line."""


# --8<-- [start:declare]
def _declare(kind: str, name: str, depends: tuple[str, ...], machine_dependent: bool):
    def mark(function):
        function.artifact = (kind, name, depends, machine_dependent)
        return function

    return mark


def figure(name: str, *, depends: tuple[str, ...] = (), machine_dependent: bool = False):
    """Register a function returning a matplotlib Figure as `figures/<name>` (an .svg)."""
    return _declare("figure", name, depends, machine_dependent)


def data(name: str, *, depends: tuple[str, ...] = (), machine_dependent: bool = False):
    """Register a function returning JSON-able data as `data/<name>` (a .json)."""
    return _declare("data", name, depends, machine_dependent)


def facts(group: str, *, depends: tuple[str, ...] = (), machine_dependent: bool = False):
    """Register a function returning {key: text}; pages write `{{ group.key }}` in their prose."""
    return _declare("facts", group, depends, machine_dependent)


# --8<-- [end:declare]


@dataclass(frozen=True)
class Artifact:
    kind: str
    name: str
    module: str
    function: str
    depends: tuple[str, ...] = ()
    machine_dependent: bool = False
    line: int = 0  # the line of its decorator in the module's source (1 = the first line)

    @property
    def path(self) -> str:
        """Where it lands in the site (facts are only substituted into pages)."""
        return f"{FOLDERS[self.kind]}/{self.name}"

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.name}:{self.function}"


def _literal(node: ast.expr, path: Path, what: str):
    """A decorator argument's value, read without running the module: it must be a literal."""
    try:
        return ast.literal_eval(node)
    except ValueError:
        raise ArtifactError(
            f"{path.relative_to(sources.SNIPPETS.parent)}:{node.lineno}: {what} must be written "
            "out as a literal (a string, a tuple of strings, True/False): the registry reads it "
            "from the source without importing the module"
        ) from None


def _keyword(call: ast.Call, name: str, default, path: Path):
    found = next((k.value for k in call.keywords if k.arg == name), None)
    return default if found is None else _literal(found, path, f"{name}=")


def _decorations(tree: ast.Module, path: Path):
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            for deco in node.decorator_list:
                if isinstance(deco, ast.Call) and getattr(deco.func, "id", None) in FOLDERS:
                    yield (
                        deco,
                        node.name,
                        deco.func.id,
                        _literal(deco.args[0], path, "the artifact's name"),
                        tuple(_keyword(deco, "depends", (), path)),
                        bool(_keyword(deco, "machine_dependent", False, path)),
                        deco.lineno,
                    )


def _check_name(path: Path, deco: ast.Call, kind: str, name: str) -> None:
    if kind != "facts" and not set(name) <= NAME_CHARACTERS:
        raise ArtifactError(
            f"{path.relative_to(sources.SNIPPETS.parent)}:{deco.lineno}: @{kind}({name!r}) has a character "
            "a page reference cannot name: use ASCII letters, digits, '.', '_' and '-'"
        )


def discover() -> dict[str, Artifact]:
    """Every declared artifact, by its site path, found by parsing the sources of `snippets/`."""
    found: dict[str, Artifact] = {}
    for path in sources.page_modules():
        for deco, function, kind, name, depends, machine, line in _decorations(sources.parsed(path), path):
            _check_name(path, deco, kind, name)
            module = sources.module_name(path)
            artifact = Artifact(kind, name, module, function, depends, machine, line)
            if artifact.path in found:
                other = found[artifact.path]
                raise ArtifactError(
                    f"{artifact.path} is declared twice: {other.module}.{other.function} "
                    f"and {artifact.module}.{artifact.function}; rename one"
                )
            found[artifact.path] = artifact
    return found


def cache_key(artifact: Artifact) -> str:
    label = f"{artifact.label}\n{compute_source()}"
    return keys.dependency_key(label, [artifact.module], artifact.depends)


def cached_path(artifact: Artifact) -> Path:
    suffix = ".json" if artifact.kind == "facts" else ""
    return cache_dir("artifacts", FOLDERS[artifact.kind]) / f"{artifact.name}.{cache_key(artifact)}{suffix}"


def render(artifact: Artifact) -> tuple[bytes, bytes | None]:
    """Run the declared function: the bytes the site serves, and for a figure the numbers
    it plots (state_simulators/figure_data.py) as JSON bytes (None for other kinds)."""
    function = getattr(importlib.import_module(artifact.module), artifact.function)
    result = function()
    if artifact.kind == "figure":
        from snippets.plotting import to_svg

        return to_svg(result), figure_data.as_json(result)  # the SVG first: it lays out ticks
    return json.dumps(result, sort_keys=True, indent=1, ensure_ascii=False).encode(), None


def compute(artifact: Artifact) -> bytes:
    """The bytes the site serves for the artifact, computed afresh."""
    return render(artifact)[0]


def compute_source() -> str:
    """The code that turns a result into bytes: it shapes every cached artifact, so it keys them."""
    return inspect.getsource(render) + inspect.getsource(figure_data)


def data_path(artifact: Artifact) -> Path:
    """Where the numbers a figure plots are cached, beside its SVG and under the same key."""
    return cache_dir("artifacts", "figure-data") / f"{artifact.name}.{cache_key(artifact)}.json"


# --8<-- [start:produce]
def produce(artifact: Artifact) -> tuple[bytes, bool]:
    """The artifact's bytes from the cache, computing and caching them first if needed.

    Returns (content, was_cached). A figure's data (`figure_bytes`) is cached with it.
    """
    path, numbers = cached_path(artifact), data_path(artifact)
    if is_cached(artifact):
        keys.touch(path)
        keys.touch(numbers)
        return path.read_bytes(), True
    freshness.forget_edited_snippets()  # compute with the code the key was taken from
    content, plotted = render(artifact)
    freshness.remember_imported_snippets()
    if cached_path(artifact) != path:  # its code was edited while it ran: show it, don't keep it
        log.warning(f"{artifact.label}: its code changed while it was computed; not cached")
        return content, False
    if plotted is not None:  # first, so that a cached SVG always has its data beside it
        atomic_write(numbers, plotted)
        keys.prune(numbers.parent, artifact.name)
    atomic_write(path, content)
    keys.prune(path.parent, artifact.name)
    return content, False


# --8<-- [end:produce]


def figure_bytes(artifact: Artifact) -> bytes:
    """The numbers a figure plots, as JSON bytes (cached beside the figure by `produce`)."""
    produce(artifact)
    numbers = data_path(artifact)
    if not numbers.exists():  # its code changed while it ran: nothing was cached
        raise ArtifactError(f"{artifact.label}: its code changed while it was computed; build again")
    return numbers.read_bytes()


def is_cached(artifact: Artifact) -> bool:
    """Whether `produce` would read the artifact from the cache rather than compute it."""
    cached = cached_path(artifact).exists()
    return cached and (artifact.kind != "figure" or data_path(artifact).exists())


def verified_path(artifact: Artifact) -> Path:
    """Beside a cache entry: present once an independent process recomputed the same bytes."""
    entry = cached_path(artifact)
    return entry.with_name(entry.name + keys.VERIFIED)


def is_verified(artifact: Artifact) -> bool:
    return artifact.machine_dependent or verified_path(artifact).exists()
