"""MkDocs hook: make the figures, data files and prose numbers that pages use, while the site builds.

- A page that mentions `figures/<name>.svg` or `data/<name>.json` gets that file generated from
  the function declared for it in `snippets/` (see snippets/artifacts.py), or cached.
- `{{ group.key }}` in a page's prose is replaced with a number computed by the build.
- `--8<-- "snippets/x.py:section"` includes are checked before Markdown runs, so a missing
  file or section fails the build naming the page and the snippet.
Any failure stops the build with one message naming the page and what it asked for.
"""

import json
import logging
import os
import re
import sys
import time
from pathlib import Path

from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File

from snippets import artifacts

log = logging.getLogger("mkdocs.hooks.artifacts")
REFERENCE = re.compile(r"\b((?:figures|data)/[A-Za-z0-9_.-]+\.(?:svg|json))\b")
FACT = re.compile(r"\{\{\s*([A-Za-z0-9_-]+)\.([A-Za-z0-9_]+)\s*\}\}")
INCLUDE = re.compile(r"""^\s*-+8<-+\s+["']([^"':]+)(?::([A-Za-z][\w-]*))?["']""", re.MULTILINE)

_facts: dict[str, dict] = {}  # facts groups already read in this build
_known: dict[str, artifacts.Artifact] = {}  # what on_files discovered, for the pages to use
# The hook's own machinery; editing these needs a restart of `mkdocs serve`.
INFRASTRUCTURE = {"snippets.artifacts", "snippets.cache"}


def _loaded_snippets() -> dict[str, object]:
    return {
        name: module
        for name, module in sys.modules.items()
        if name.startswith("snippets.") and name not in INFRASTRUCTURE and getattr(module, "__file__", None)
    }


def forget_edited_snippets() -> None:
    """`mkdocs serve` rebuilds in one process: when a `snippets` module was edited since it was
    imported, drop them all, so figures are computed from the code on disk (their cache keys
    already are) rather than from the stale modules in memory."""
    loaded = _loaded_snippets()
    if any(
        getattr(m, "__mtime__", None) not in (None, os.stat(m.__file__).st_mtime_ns) for m in loaded.values()
    ):
        for name in loaded:
            del sys.modules[name]
            vars(sys.modules["snippets"]).pop(name.split(".")[1], None)
        log.info("snippets edited: re-importing them")


def _make(artifact: artifacts.Artifact, users: str) -> bytes:
    started = time.perf_counter()
    try:
        content, cached = artifacts.produce(artifact)
    except Exception as error:
        raise PluginError(
            f"{artifact.path} (used by {users}) failed in "
            f"{artifact.module}.{artifact.function}: {type(error).__name__}: {error}"
        ) from error
    seconds = time.perf_counter() - started
    log.info(f"{artifact.path}: {'cached' if cached else f'made in {seconds:.1f} s'}")
    return content


def on_files(files, config):
    forget_edited_snippets()
    known = artifacts.discover()
    _known.clear()
    _known.update(known)
    users: dict[str, list[str]] = {}
    for page in files.documentation_pages():
        for path in REFERENCE.findall(page.content_string):
            if path not in known:
                raise PluginError(
                    f"{page.src_uri} uses unknown {path}: declare it with @figure/@data in "
                    f"snippets/ (known: {', '.join(p for p in sorted(known) if not p.startswith('facts/'))})"
                )
            users.setdefault(path, []).append(page.src_uri)
    for path, pages in sorted(users.items()):
        content = _make(known[path], ", ".join(pages))
        files.append(File.generated(config, path, content=content))
    _facts.clear()
    return files


def _fact(group: str, key: str, page) -> str:
    if group not in _facts:
        artifact = _known.get(f"facts/{group}")
        if artifact is None:
            raise PluginError(
                f'{page.file.src_uri} uses {{{{ {group}.{key} }}}} but no @facts("{group}") '
                "is declared in snippets/"
            )
        _facts[group] = json.loads(_make(artifact, page.file.src_uri))
    if key not in _facts[group]:
        raise PluginError(
            f"{page.file.src_uri} uses {{{{ {group}.{key} }}}} but facts '{group}' has only: "
            f"{', '.join(sorted(_facts[group]))}"
        )
    return str(_facts[group][key])


def _check_includes(markdown: str, page, config) -> None:
    root = Path(config.config_file_path).parent
    for name, section in INCLUDE.findall(markdown):
        path = root / name
        where = f"{name}:{section}" if section else name
        if not path.is_file():
            raise PluginError(f"{page.file.src_uri} includes {where}, but {name} does not exist")
        if section and f"[start:{section}]" not in path.read_text():
            raise PluginError(
                f"{page.file.src_uri} includes {where}, but {name} has no section "
                f"'# --8<-- [start:{section}]'"
            )


def on_page_markdown(markdown, page, config, files):
    _check_includes(markdown, page, config)
    return FACT.sub(lambda m: _fact(m.group(1), m.group(2), page), markdown)


def on_post_build(config):
    for module in _loaded_snippets().values():
        module.__mtime__ = os.stat(module.__file__).st_mtime_ns
