"""The environment every process of the project runs in, and copies of the project to try
things on, defined once for the Makefile's commands, the tests, the benchmark and the scaffold."""

import os
import shutil
from pathlib import Path

from state_simulators.cache import CACHE_ENV, ROOT, cache_dir

# Nothing is ever downloaded from a model hub; tokenizers' threads would fork badly under
# MkDocs' and pytest's processes; MkDocs 1.6 warns about MkDocs 2 on every command.
OFFLINE = {"HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", "NO_MKDOCS_2_WARNING": "1"}

# What a build of the site reads: copied (or linked) for a build that must not touch the tree.
PROJECT = ("mkdocs.yml", "pyproject.toml", "docs", "snippets", "state_simulators", "hooks", "overrides")
# The slow caches a copy shares with the project's own (the model, the notebooks' runs).
SHARED_CACHES = ("downloads", "model", "ascii-diffusion", "notebooks")


def set_offline() -> None:
    """Set the offline variables in this process (those already set are kept)."""
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)


def offline_env(**extra: str) -> dict[str, str]:
    """This process's environment with the offline variables, plus `extra`."""
    return {**os.environ, **OFFLINE, **extra}


def copy_project(target: Path, *, link: bool = False, names: tuple[str, ...] = PROJECT) -> Path:
    """A copy of the project's build inputs in `target` (symbolic links with `link=True`)."""
    target.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in names:
        source, destination = ROOT / name, target / name
        if link:
            destination.symlink_to(source)
        elif source.is_dir():
            shutil.copytree(source, destination, ignore=ignore)
        else:
            shutil.copy2(source, destination)
    return target


MODEL_CACHES = ("downloads", "model")


def empty_artifact_cache(folder: Path, shared: tuple[str, ...] = SHARED_CACHES) -> Path:
    """A cache folder that shares the `shared` slow caches with the project's own (by default
    the model, the tiny model's training and the executed notebooks) and holds no artifacts."""
    folder.mkdir(parents=True, exist_ok=True)
    real = cache_dir()
    for name in shared:
        (real / name).mkdir(exist_ok=True)
        (folder / name).symlink_to(real / name)
    return folder


def with_cache(folder: Path) -> dict[str, str]:
    """`offline_env` with the cache moved to `folder`."""
    return offline_env(**{CACHE_ENV: str(folder)})
