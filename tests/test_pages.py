"""The pages show only code that runs: every Python block is included from snippets/, and every
snippet module (and section) is shown by some page."""

import re

from conftest import ROOT

DOCS = ROOT / "docs"
FENCE = re.compile(r"^\s*(`{3,}|~{3,})\s*([\w+-]*)")
INCLUDE = re.compile(r"""-+8<-+\s+["'](snippets/[^"':]+)(?::([\w-]+))?["']""")
IMPORT = re.compile(r"^\s*(?:from|import)\s+snippets\.(\w+)", re.MULTILINE)
SECTION = re.compile(r"#\s*-+8<-+\s*\[start:([\w-]+)\]")
PYTHON = {"python", "py", "python3", "pycon"}


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


def test_every_code_block_is_an_include_or_marked_as_not_python():
    for page in sorted(DOCS.glob("*.md")):
        for language, body in code_blocks(page.read_text()):
            assert language, f"{page.name}: a code block without a language (mark it bash, text, …)"
            if language in PYTHON:
                lines = [line for line in body if line.strip()]
                assert lines and all(INCLUDE.search(line) for line in lines), (
                    f"{page.name}: Python code pasted into the page; include it from snippets/ instead"
                )


def shown_by_pages() -> tuple[set[str], set[tuple[str, str]]]:
    modules, sections = set(), set()
    for page in DOCS.glob("*.md"):
        for path, section in INCLUDE.findall(page.read_text()):
            modules.add(path)
            sections.add((path, section))
    for notebook in DOCS.glob("*.py"):  # notebook pages run their snippets instead of showing them
        modules.update(f"snippets/{name}.py" for name in IMPORT.findall(notebook.read_text()))
    return modules, sections


def test_every_snippet_module_is_used_by_a_page():
    modules = {
        str(p.relative_to(ROOT))
        for p in (ROOT / "snippets").rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py")
    }
    shown, _ = shown_by_pages()
    assert sorted(modules - shown) == []


def test_every_marked_section_is_shown_by_a_page():
    _, shown = shown_by_pages()
    for module in sorted((ROOT / "snippets").rglob("*.py")):
        path = str(module.relative_to(ROOT))
        for section in SECTION.findall(module.read_text()):
            assert (path, section) in shown, f"{path}:{section} is marked but no page includes it"
