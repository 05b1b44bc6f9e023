"""MkDocs hook: key mkdocs-jupyter's cache of executed notebooks on the code they run.

mkdocs-jupyter keys its cache on the notebook file alone, so an edit to a `snippets` module the
notebook imports would be served stale. Here the cache folder itself is named by a hash of those
modules (and of every `snippets` module they import), the model and the libraries: any change
to them starts an empty folder, and the notebook runs again. Unchanged, a build re-uses the
executed notebook instead of running it (seconds instead of minutes of kernel time).
"""

import logging
import shutil
from pathlib import Path

from snippets import artifacts, runner
from snippets.cache import cache_dir

log = logging.getLogger("mkdocs.hooks.notebook_cache")
PLUGIN = "mkdocs-jupyter"
KEEP = 3  # folders of older code kept, for switching branches back and forth


def notebook_key(notebooks: list[Path]) -> str:
    modules = sorted(
        {f"snippets.{name}" for nb in notebooks for name in runner.modules_shown(nb.read_text())}
    )
    return artifacts.dependency_key("notebooks", modules)


def on_files(files, config):
    plugin = config.plugins.get(PLUGIN)
    notebooks = [Path(f.abs_src_path) for f in files if plugin.should_include(f)]
    if not notebooks:
        return files
    folder = cache_dir("notebooks") / notebook_key(notebooks)
    folder.mkdir(exist_ok=True)
    folder.touch()  # most recently used
    plugin.config["cache_dir"] = str(folder)
    older = sorted(folder.parent.iterdir(), key=lambda path: path.stat().st_mtime, reverse=True)
    for stale in older[1 + KEEP :]:
        shutil.rmtree(stale)
        log.info(f"notebook cache: dropped {stale.name}, keyed on older code")
    return files
