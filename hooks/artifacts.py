"""MkDocs hook: the figures, data files and prose numbers that pages use, made while the site
builds (see state_simulators/build.py, which does the work).

- A page that mentions `figures/<name>.svg` or `data/<name>.json` gets that file generated.
- `{{ group.key }}` in a page's prose is replaced with a number computed by the build.
- Includes are checked before Markdown runs: a missing file or section fails the build.
"""

import logging
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from state_simulators import artifacts, build, deferred, freshness

log = logging.getLogger("mkdocs.hooks.artifacts")
_build: build.Build | None = None
_serving = False


def on_startup(*, command: str, dirty: bool) -> None:
    global _serving
    _serving = command == "serve"  # serve pages at once, computing in the background


def on_serve(server, *, config: MkDocsConfig, builder):
    trigger = deferred.trigger_path()
    if not trigger.exists():
        trigger.write_text("")
    server.watch(str(trigger))  # the background build rewrites it after each artifact
    return server


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    global _build
    if dropped := freshness.forget_edited_snippets():
        log.info(f"snippets edited: re-importing {len(dropped)} modules")
    try:
        _build = build.Build(defer=_serving)
        pages = {page.src_uri: page.content_string for page in files.documentation_pages()}
        for path, content in _build.site_files(pages):
            files.append(File.generated(config, path, content=content))
        if _build.deferred:
            log.info(f"{len(_build.deferred)} of {_build.needed} artifacts not computed yet: placeholders")
            deferred.WORKER.start(config.config_file_path)
    except (build.BuildError, artifacts.ArtifactError) as error:
        raise PluginError(str(error)) from error
    for made in _build.report.made:
        log.info(f"{made.path}: {'cached' if made.cached else f'made in {made.seconds:.1f} s'}")
    return files


def on_page_markdown(markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    try:
        root = Path(config.config_file_path).parent
        return _build.page_markdown(markdown, page.file.src_uri, root, config.repo_url)
    except build.BuildError as error:
        raise PluginError(str(error)) from error


def on_post_build(*, config: MkDocsConfig) -> None:
    freshness.remember_imported_snippets()
    _build.finish()
