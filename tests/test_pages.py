"""The pages show only code that runs: every Python block is included from a code file, every
`snippets/` module (and section) is shown by some page, and no function there is too long to
hold in one's head."""

import ast
import re

import pytest

from state_simulators import includes, sources

FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
PYTHON = {"python", "py", "python3", "pycon"}
LONGEST_FUNCTION = 60  # lines, decorators and docstring included


def code_blocks(text: str):
    """(language, body lines) for each fenced block, indented ones (in admonitions, tabs) included."""
    block, fence, language = None, None, None
    for line in text.splitlines():
        match = FENCE.match(line)
        if block is None and match:
            block, fence, language = [], match.group(1), match.group(2)
        elif block is not None and line.strip() == fence:
            yield language, block
            block = None
        elif block is not None:
            block.append(line)


def test_code_blocks_are_parsed_inside_admonitions():
    text = '!!! note\n    ```python\n    --8<-- "snippets/x.py"\n    ```\n\n```bash\nmake\n```\n'
    assert list(code_blocks(text)) == [("python", ['    --8<-- "snippets/x.py"']), ("bash", ["make"])]


@pytest.mark.parametrize("source", [p for p in includes.pages() if p.suffix == ".md"], ids=lambda p: p.name)
def test_every_code_block_is_an_include_or_marked_as_not_python(source):
    for language, body in code_blocks(source.read_text()):
        assert language, f"{source.name}: a code block without a language (mark it bash, text, …)"
        if language in PYTHON:
            text = "\n".join(body)
            assert text.strip() and len(includes.includes(text)) == sum(
                1 for line in body if line.strip() and not includes.BLOCK_FENCE.match(line)
            ), f"{source.name}: Python code pasted into the page; include it from snippets/ instead"


def test_every_snippet_module_is_shown_by_a_page():
    shown = {module for page in includes.pages() for module in includes.shown_by(page)}
    modules = {sources.module_name(path) for path in sources.page_modules()}
    assert sorted(modules - shown) == [], "every file in snippets/ is code a page shows"


def test_every_marked_section_is_shown_by_a_page():
    shown = {(i.path, i.section) for page in includes.pages() for i in includes.includes(page.read_text())}
    for path in sources.page_modules():
        name = str(path.relative_to(sources.SNIPPETS.parent))
        for section in includes.sections(path):
            assert (name, section) in shown, f"{name}:{section} is marked but no page includes it"


def long_functions(path) -> list[str]:
    return [
        f"{path.name}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(sources.parsed(path))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > LONGEST_FUNCTION
    ]


def test_no_function_in_page_code_is_longer_than_a_reader_can_hold():
    found = [f for path in sources.page_modules() for f in long_functions(path)]
    assert found == [], f"split these into functions of ≤ {LONGEST_FUNCTION} lines"
