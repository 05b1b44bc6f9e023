"""MkDocs hook: the data for "The code on this page" (rendered by overrides/main.html), and a
notebook page's `.ipynb` to download (a download button in overrides/partials/actions.html).
The work is in state_simulators/page_code.py."""

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page
from mkdocs.utils import get_relative_url

from state_simulators import page_code

_notebooks: dict[str, File] = {}  # a notebook page's src_uri -> its generated .ipynb


def _is_notebook(file: File) -> bool:
    return file.src_uri.endswith(".py")


def on_files(files: Files, *, config: MkDocsConfig) -> Files:
    _notebooks.clear()
    for file in [f for f in files if _is_notebook(f)]:
        notebook = page_code.notebook_json(Path(file.abs_src_path))
        ipynb = File.generated(config, str(Path(file.src_uri).with_suffix(".ipynb")), content=notebook)
        _notebooks[file.src_uri] = ipynb
        files.append(ipynb)
    return files


def on_page_content(html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
    source = Path(page.file.abs_src_path).read_text()
    page.meta["page_code"] = page_code.items(source, config.repo_url, notebook=_is_notebook(page.file))
    if page.file.src_uri in _notebooks:
        url = get_relative_url(_notebooks[page.file.src_uri].url, page.url)
        page.meta["notebook"] = url  # the download button and the code box link it
        page.meta["notebook_name"] = Path(_notebooks[page.file.src_uri].src_uri).name
    return html
