"""One way to key any cached result: a hash of everything it depends on.

A figure, a trained model or a batch of generations is reused only while all of these are
unchanged: the code of the `snippets` modules that compute it and of every `snippets` module
they import (read from the sources, so a new import is never missed), any data files named,
the model's fingerprint (unless the result does not use the language model), the versions of
the libraries that compute and draw, and the thread setting (float sums depend on how many
threads split them).
"""

import hashlib
import importlib.metadata
import os
import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from state_simulators import sources
from state_simulators.cache import atomic_write, cache_dir

LIBRARIES = ("torch", "transformers", "tokenizers", "matplotlib", "numpy", "pillow")
VERIFIED = ".verified"  # beside an entry: a second process recomputed it to the same bytes
KEEP = 4  # versions of one result kept, most recently used first: switching back is free


def threads() -> str:
    """The thread setting results are computed under."""
    return f"cpus={os.cpu_count()} omp={os.environ.get('OMP_NUM_THREADS')}"


def dependency_key(label: str, modules: list[str], files: tuple[str, ...] = (), *, model: bool = True) -> str:
    """A 20-hex-digit hash of all that a result computed by `modules` depends on.

    `label` names the result (and its parameters); `files` are paths relative to the project
    root; `model=False` for results that do not use the language model.
    """
    from state_simulators import model as language_model

    digest = hashlib.sha256(f"{label}\n".encode())
    root = sources.SNIPPETS.parent
    closure = {path for module in modules for path in sources.source_closure(module)}
    for path in sorted(closure):
        digest.update(f"{path.relative_to(root)}\n{sources.code_dump(path)}\n".encode())
    for extra in files:
        digest.update(f"{extra}\n".encode() + (root / extra).read_bytes())
    if model:
        digest.update(language_model.fingerprint().encode())
    digest.update(f"{threads()}\n".encode())
    for library in LIBRARIES:
        digest.update(f"{library}=={importlib.metadata.version(library)}\n".encode())
    return digest.hexdigest()[:20]


def step_path(
    folder: str,
    label: str,
    modules: list[str],
    *,
    suffix: str = "",
    files: tuple[str, ...] = (),
    model: bool = True,
) -> Path:
    """Where a cached step's result lives: `<cache>/<folder>/<label>.<key><suffix>`.

    The caller reads it if it exists, else computes and writes it atomically (`atomic_write`,
    `atomic_folder`). Other versions of the same label are kept, the `KEEP` most recently used:
    switching models or branches back and forth recomputes nothing twice.
    """
    key = dependency_key(label, modules, files, model=model)
    path = cache_dir(folder) / f"{label}.{key}{suffix}"
    touch(path)
    prune(path.parent, label, keep=KEEP)
    return path


def cached_arrays(path: Path, compute: Callable[[], dict]) -> dict:
    """The named arrays of a step: `compute()` once, kept at `path` (from `step_path`, ending
    in `.npz`), and read back from there every time, the first included, so that every reader
    sees the same stored values. Returns {name: numpy array}."""
    import io

    import numpy as np  # here, not at the top: a warm build never reads a step

    if not path.exists():
        buffer = io.BytesIO()
        np.savez(buffer, **compute())
        atomic_write(path, buffer.getvalue())
    with np.load(path) as saved:
        return {name: saved[name] for name in saved.files}


def touch(path: Path) -> None:
    """Mark a cache entry as just used (its modification time orders pruning)."""
    if path.exists():
        now = time.time()
        os.utime(path, (now, now))


def prune(folder: Path, label: str, *, keep: int = KEEP) -> list[Path]:
    """Delete all but the `keep` most recently used versions of `label` in `folder`."""
    version = re.compile(rf"{re.escape(label)}\.[0-9a-f]{{20}}(\.[\w.-]+)?")
    versions = [
        p for p in folder.glob(f"{label}.*") if version.fullmatch(p.name) and not p.name.endswith(VERIFIED)
    ]
    versions.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    dropped = versions[keep:]
    for stale in dropped:
        for companion in (stale, stale.with_name(stale.name + VERIFIED)):
            if companion.is_dir():
                shutil.rmtree(companion)
            elif companion.exists():
                companion.unlink()
    return dropped
