""" "The code on this page": for each page, the files whose code it shows, their tests, the
command that runs them, and (a notebook page) the notebook to download.

The build supplies this as data (`page.meta["page_code"]`); `overrides/main.html` renders it.
"""

from pathlib import Path

import jupytext

from state_simulators import includes, runner
from state_simulators.cache import ROOT


def test_file(path: str) -> str | None:
    """The test file of a code file: `snippets/ascii/canvas.py` -> `tests/test_ascii_canvas.py`."""
    stem = Path(path).with_suffix("").parts[1:]
    candidate = f"tests/test_{'_'.join(stem)}.py"
    return candidate if (ROOT / candidate).is_file() else None


def shown_files(page_source: str, *, notebook: bool) -> list[str]:
    """The code files a page shows: included (any `.py`) or, in a notebook, imported."""
    found = {i.path for i in includes.includes(page_source) if i.path.endswith(".py")}
    found |= {
        f"{module.replace('.', '/')}.py" for module in includes.modules_shown(page_source, notebook=notebook)
    }
    return sorted(found)


def items(page_source: str, repo_url: str, *, notebook: bool) -> list[dict]:
    """One dict per file shown: path, url, test, test_url, command (each may be None)."""
    base = f"{repo_url.rstrip('/')}/blob/main/"
    runnable = runner.runnable_modules()
    found = []
    for path in shown_files(page_source, notebook=notebook):
        module = includes.module_of(path)
        name = module.removeprefix("snippets.") if module else None
        test = test_file(path)
        found.append(
            dict(
                path=path,
                url=base + path,
                test=test,
                test_url=base + test if test else None,
                command=f"python -m snippets.{name}" if name in runnable else None,
            )
        )
    return found


def notebook_json(notebook_page: Path) -> str:
    """A jupytext notebook page as an `.ipynb` to download."""
    return jupytext.writes(jupytext.read(notebook_page), fmt="ipynb")
