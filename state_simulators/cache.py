"""Where the project keeps what it computes, and how it writes there without ever leaving half a file."""

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE_ENV = "STATE_SIMULATORS_CACHE"


class CacheError(OSError):
    """The cache folder cannot be used; the message names it and the fix, in one line."""


def cache_dir(*parts: str) -> Path:
    """A folder under the cache (`.cache/` at the repo root, or $STATE_SIMULATORS_CACHE).

    Raises CacheError when it cannot be created."""
    chosen = os.environ.get(CACHE_ENV)
    base = Path(chosen or ROOT / ".cache")
    path = base.joinpath(*parts)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        where = f"{CACHE_ENV}={chosen}" if chosen else str(base)
        raise CacheError(
            f"the cache folder {where} cannot be used ({error.strerror or error}): "
            f"point {CACHE_ENV} at a writable folder, or unset it"
        ) from None
    return path


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --8<-- [start:atomic]
def atomic_write(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, then rename: a reader sees the old file or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


# --8<-- [end:atomic]


def atomic_folder(path: Path, fill) -> None:
    """Build a folder under a temporary name with `fill(tmp)`, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial"))
    try:
        fill(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
