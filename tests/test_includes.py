"""The include index: both include forms, section markers checked, the code each page shows."""

import pytest

from state_simulators import includes
from state_simulators.includes import Include, IncludeError


def test_inline_and_block_includes_are_found_with_their_lines():
    page = (
        'Text\n\n```python\n--8<-- "snippets/a.py:one"\n```\n\n'
        "```python\n--8<--\nsnippets/b.py\nsnippets/c.py:two\n--8<--\n```\n"
    )
    assert includes.includes(page) == [
        Include("snippets/a.py", "one", 4),
        Include("snippets/b.py", None, 9),
        Include("snippets/c.py", "two", 10),
    ]


def write(tmp_path, text):
    path = tmp_path / "m.py"
    path.write_text(text)
    return path


def test_sections_are_read_with_their_lines(tmp_path):
    path = write(tmp_path, "# --8<-- [start:a]\nx = 1\n# --8<-- [end:a]\n")
    assert includes.sections(path) == {"a": (1, 3)}


@pytest.mark.parametrize(
    "text, message",
    [
        ("# --8<-- [start:a]\nx = 1\n", r"m.py:1: section 'a' is never closed"),
        ("x = 1\n# --8<-- [end:a]\n", r"m.py:2: section 'a' ends but never starts"),
        (
            "# --8<-- [start:a]\n# --8<-- [end:a]\n# --8<-- [start:a]\n# --8<-- [end:a]\n",
            r"m.py:3: section 'a' is marked twice",
        ),
        ("# --8<-- [begin:a]\n", r"m.py:1: malformed section marker"),
        ("# --8<-- start:a\n", r"m.py:1: malformed section marker"),
    ],
)
def test_malformed_markers_name_file_and_line(tmp_path, text, message):
    with pytest.raises(IncludeError, match=message):
        includes.sections(write(tmp_path, text))


@pytest.mark.parametrize(
    "markdown, message",
    [
        ('--8<-- "m.py:nope"', r"page.md includes m.py:nope, but m.py has no section"),
        ('--8<-- "gone.py"', r"page.md includes gone.py, but gone.py does not exist"),
        ("--8<--\ngone.py\n--8<--", r"page.md includes gone.py, but gone.py does not exist"),
        ('--8<-- "m.py"', r"page.md includes m.py, but m.py:1: section 'open' is never closed"),
    ],
)
def test_check_names_page_and_include(tmp_path, markdown, message):
    write(tmp_path, "# --8<-- [start:open]\n" if "open" in message else "x = 1\n")
    with pytest.raises(IncludeError, match=message):
        includes.check(markdown, "page.md", tmp_path)


def test_modules_shown_by_includes_and_notebook_imports():
    page = '--8<-- "snippets/temperature.py:fit"\n--8<-- "state_simulators/model.py:load"\n'
    assert includes.modules_shown(page) == ["snippets.temperature"]
    notebook = "# %%\nfrom snippets import sampling\nimport snippets.plotting\nimport os\n"
    assert includes.modules_shown(notebook, notebook=True) == ["snippets.plotting", "snippets.sampling"]


def test_pages_showing_reads_the_real_pages():
    assert includes.pages_showing("snippets.temperature") == ["temperature.md"]
    assert includes.pages_showing("snippets.no_such_module") == []
