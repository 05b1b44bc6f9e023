"""MkDocs hook: key mkdocs-jupyter's cache of executed notebooks on the code they run.

mkdocs-jupyter keys its cache on the notebook file alone, so an edit to a `snippets` module the
notebook imports would be served stale. Here its cache folder is a cached step like any other
(`state_simulators.keys.step_path`): named by a hash of the modules the notebooks import and
everything they import, the model and the libraries. A change starts an empty folder and the
notebook runs again; unchanged, a build re-uses the executed notebook.
"""

import logging
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import Files

from state_simulators import deferred, includes, keys

PLUGIN = "mkdocs-jupyter"
log = logging.getLogger("mkdocs.hooks.notebook_cache")
_serving = False


def on_startup(*, command: str, dirty: bool) -> None:
    global _serving
    _serving = command == "serve"


def notebook_folder(notebooks: list[Path]) -> Path:
    modules = sorted(
        {name for nb in notebooks for name in includes.modules_shown(nb.read_text(), notebook=True)}
    )
    return keys.step_path("notebooks", "executed", modules)


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    plugin = config.plugins.get(PLUGIN)
    notebooks = [Path(f.abs_src_path) for f in files if plugin.should_include(f)]
    if notebooks:
        folder = notebook_folder(notebooks)
        names = ", ".join(nb.name for nb in notebooks)
        if not folder.exists() or not any(folder.iterdir()):
            if deferred.WORKER.running or (_serving and deferred.WORKER.start(config.config_file_path)):
                # under `mkdocs serve`: shown unexecuted until the background build has run it
                log.info(f"{names}: shown unexecuted; it runs in the background")
                plugin.config["execute"] = False
                folder = folder.with_name(folder.name + ".unexecuted")
            else:
                log.info(f"executing {names} for its page: its code changed or it never ran here")
        else:
            plugin.config["execute"] = True
        folder.mkdir(parents=True, exist_ok=True)
        plugin.config["cache_dir"] = str(folder)
    return files
