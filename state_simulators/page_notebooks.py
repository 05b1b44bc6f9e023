"""Each page's figures as a Jupyter notebook that draws them again, written by the build.

A reader with the project installed (a clone and `make setup`) downloads `notebooks/<page>.ipynb`
from the page and runs it: one cell per figure calls the very function that drew the figure on
the page and shows the SVG it returns. Nothing is executed at build time, so the notebook costs
the build nothing; a test runs one. Cell ids are fixed, so the same page gives the same bytes.
"""

import re
from pathlib import PurePosixPath

import nbformat

FOLDER = "notebooks"
HEADING = re.compile(r"^#\s+(.+?)\s*$", re.MULTILINE)


def notebook_path(page: str) -> str:
    """`attention.md` -> `notebooks/attention.ipynb`, where the site serves it."""
    return f"{FOLDER}/{PurePosixPath(page).stem}.ipynb"


def title(markdown: str, page: str) -> str:
    """The page's first heading, or its file name when it has none."""
    found = HEADING.search(markdown)
    return found.group(1) if found else page


def cells(page_title: str, figures: list) -> list:
    """An introduction, one import cell, then a cell per figure (artifacts in page order)."""
    intro = (
        f"# {page_title}: the figures\n\n"
        "Each cell calls the function that drew one figure of the page, with the same model "
        "and code. Run it from a clone of the project with its environment (`make setup`, then "
        "`.venv/bin/jupyter lab` or any Jupyter using `.venv`). The first figure that needs "
        "the model loads it; results cached by an earlier build or run are reused."
    )
    found = [
        nbformat.v4.new_markdown_cell(intro),
        nbformat.v4.new_code_cell("from IPython.display import SVG\n\nfrom snippets.plotting import to_svg"),
    ]
    found.extend(
        nbformat.v4.new_code_cell(
            f"# {artifact.name}\n"
            f"from {artifact.module} import {artifact.function}\n\n"
            f"SVG(to_svg({artifact.function}()))"
        )
        for artifact in figures
    )
    for number, cell in enumerate(found):
        cell["id"] = f"cell-{number}"
    return found


def notebook_bytes(page: str, markdown: str, figures: list) -> bytes:
    """The notebook for one page that shows `figures` (artifacts), as .ipynb bytes."""
    notebook = nbformat.v4.new_notebook(
        cells=cells(title(markdown, page), figures),
        metadata={
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
    )
    nbformat.validate(notebook)
    return nbformat.writes(notebook).encode()
