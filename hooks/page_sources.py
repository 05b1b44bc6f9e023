"""MkDocs hook: every page ends with "The code on this page".

It lists the `snippets/` modules whose code the page shows, each with its test and the command
that runs it, linked to the repository. A notebook page (a jupytext `.py` under docs/) also gets
its notebook as an `.ipynb` to download, made at build time, and a download button beside the
edit button (overrides/partials/actions.html).
"""

import html
from pathlib import Path

import jupytext
from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url

from snippets import runner

ROOT = Path(__file__).resolve().parent.parent
_notebooks: dict[str, File] = {}  # a notebook page's src_uri -> its generated .ipynb


def _is_notebook(file) -> bool:
    return file.src_uri.endswith(".py")


def on_files(files, config):
    _notebooks.clear()
    for file in [f for f in files if _is_notebook(f)]:
        notebook = jupytext.writes(jupytext.read(file.abs_src_path), fmt="ipynb")
        ipynb = File.generated(config, str(Path(file.src_uri).with_suffix(".ipynb")), content=notebook)
        _notebooks[file.src_uri] = ipynb
        files.append(ipynb)
    return files


def _link(config, path: str) -> str:
    url = f"{config.repo_url.rstrip('/')}/blob/main/{path}"
    return f'<a href="{html.escape(url)}"><code>{html.escape(path)}</code></a>'


def code_box(config, page) -> str:
    source = Path(page.file.abs_src_path).read_text()
    runnable = runner.runnable_modules()
    items = []
    for name in runner.modules_shown(source):
        parts = [_link(config, f"snippets/{name}.py")]
        if (ROOT / "tests" / f"test_{name}.py").is_file():
            parts.append(f"tested by {_link(config, f'tests/test_{name}.py')}")
        if name in runnable:
            parts.append(f"run it: <code>python -m snippets.{name}</code>")
        items.append(f"<li>{' — '.join(parts)}</li>")
    if page.file.src_uri in _notebooks:
        notebook = _notebooks[page.file.src_uri]
        items.append(
            f'<li>this page as a notebook: <a href="{notebook_url(page)}" download>'
            f"{Path(notebook.src_uri).name}</a> (run it from the project root, after "
            "<code>make setup</code>)</li>"
        )
    if not items:
        return ""
    return (
        '<div class="admonition abstract page-sources">'
        '<p class="admonition-title">The code on this page</p>'
        f"<ul>{''.join(items)}</ul></div>"
    )


def notebook_url(page) -> str:
    return get_relative_url(_notebooks[page.file.src_uri].url, page.url)


def on_page_content(html_content, page, config, files):
    if page.file.src_uri in _notebooks:
        page.meta["notebook"] = notebook_url(page)  # for the download button
    return html_content + code_box(config, page)
