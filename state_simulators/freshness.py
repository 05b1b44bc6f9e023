"""Which imported `snippets` modules still match their files.

A process that lives through edits — `mkdocs serve`, or a long build while someone saves a
file — could otherwise compute a result with the module it imported earlier and store it under
the key of the code on disk, poisoning the cache. Each module is stamped with its file's version
when first seen after an import; a stamped module whose file has changed since is dropped, so
the next import reads the file again.
"""

import os
import sys


def _loaded() -> dict:
    return {
        name: module
        for name, module in sys.modules.items()
        if name.startswith("snippets.") and getattr(module, "__file__", None)
    }


def forget_edited_snippets() -> list[str]:
    """When any stamped `snippets` module was edited since it was imported, drop them all (a
    module may hold names from another), so results are computed from the code on disk. Returns
    the names dropped."""
    loaded = _loaded()
    edited = any(
        getattr(m, "__mtime__", None) not in (None, os.stat(m.__file__).st_mtime_ns) for m in loaded.values()
    )
    if not edited:
        return []
    for name in loaded:
        del sys.modules[name]
        parent, _, child = name.rpartition(".")
        getattr(sys.modules.get(parent), "__dict__", {}).pop(child, None)
    return sorted(loaded)


def remember_imported_snippets() -> None:
    """Stamp each `snippets` module imported since the last call with its file's version (a
    module keeps the stamp of the file it was read from)."""
    for module in _loaded().values():
        if getattr(module, "__mtime__", None) is None:
            module.__mtime__ = os.stat(module.__file__).st_mtime_ns
