"""What the site's search leaves out: the notebook page's code cells.

mkdocs-material's search indexes every page's text, and skips any element that carries
`data-search-exclude`. A notebook page's code is what its prose explains, not what a reader
searches for: left in, "temperature" finds a dozen lines of notebook code before the pages about
temperature. (Formulas are left out where they are made, in state_simulators/mathml.py.)
"""

import re

# The code of a cell is the first <pre> after its input area begins. The <pre> is marked, not the
# area: the theme's search skips an element until the next closing tag of the same name, and a
# cell's <div>s nest, so a marked <div> would be skipped only up to its first inner </div>.
CODE_CELL = re.compile(r'(<div class="jp-InputArea\b.*?)<pre\b', re.DOTALL)
# mkdocs-jupyter keeps each cell's source a second time, as text for its copy button
COPY_TEXT = re.compile(r'<div class="clipboard-copy-txt"')


def exclude_notebook_code(html: str) -> str:
    """The notebook page's HTML with its code cells marked for the search to skip."""
    html = CODE_CELL.sub(r"\1<pre data-search-exclude", html)
    return COPY_TEXT.sub(r'<div class="clipboard-copy-txt" data-search-exclude', html)
