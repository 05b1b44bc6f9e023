"""`make page NAME=…` (scripts/new_page.py): bad input is refused in one line, and what it makes
passes the tests, the linter and a strict build of the site as generated."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT
from state_simulators import environment
from state_simulators.cache import cache_dir

spec = importlib.util.spec_from_file_location("new_page", ROOT / "scripts" / "new_page.py")
new_page = importlib.util.module_from_spec(spec)
spec.loader.exec_module(new_page)


def copy_project(target: Path, tests: tuple[str, ...] = ("conftest.py",)) -> Path:
    """What a page needs to build and test; not .venv/ or .cache/ (the cache is shared instead)."""
    environment.copy_project(target, names=(*environment.PROJECT, "scripts"))
    (target / "tests").mkdir()
    for name in tests:
        shutil.copy2(ROOT / "tests" / name, target / "tests")
    return target


@pytest.fixture
def project(tmp_path) -> Path:
    """A copy of the project, with every test file (their names count: a test may exist)."""
    tests = tuple(p.name for p in (ROOT / "tests").glob("*.py"))
    return copy_project(tmp_path / "project", tests)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(
    "args, message",
    [
        ([], r"NAME is missing: make page NAME=my-idea"),
        (["--name", "My_Idea"], r"NAME='My_Idea' must be lowercase letters, .* try NAME=my-idea$"),
        (["--name", "my idea"], r"must be lowercase letters, digits and single hyphens"),
        (["--name", "2-layers"], r"starting with a letter: try NAME=layers$"),
        (["--name", "a--b"], r"must be lowercase letters"),
        (["--name", "x" * 31], r"longer than 30 characters: choose a shorter NAME"),
        (["--name", "import"], r"NAME=import is a reserved word here: choose another NAME"),
        (["--name", "figures"], r"NAME=figures is a reserved word here"),
        (["--name", "temperature"], r"docs/temperature.md already exists: choose another NAME"),
        (["--name", "ascii-diffusion"], r"docs/ascii-diffusion.py already exists"),
        (["--name", "cache"], r"tests/test_cache.py already exists: choose another NAME"),
        (["--name", "lint"], r"tests/test_lint.py already exists: choose another NAME"),
        (
            ["--name", "temperature-distribution"],
            r"snippets/temperature.py already declares a figure named temperature-distribution.svg",
        ),
        (["--name", "home"], r"snippets/next_token.py already declares a @facts group named home"),
        (
            ["--name", "fresh-idea", "--section", "Nowhere"],
            r"SECTION='Nowhere' is not a section of the nav in mkdocs.yml: "
            r"use one of Distributions, .*About this site",
        ),
        (["--name", "fresh-idea", "--title", 'Say "hi"'], r"may not hold .*typographic"),
        (["--name", "fresh-idea", "--title", "x" * 51], r"must be 1 to 50 characters"),
    ],
)
def test_bad_input_is_one_line_naming_the_fix_and_writes_nothing(project, capsys, args, message):
    before = snapshot(project)
    assert new_page.main([*args, "--root", str(project)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("make page: error: ") and err.count("\n") == 1, err
    assert re.search(message, err.strip()), err
    assert snapshot(project) == before


def test_make_page_passes_its_variables_and_exits_2(tmp_path):
    """Through make itself (its set-up step taken as done): NAME, TITLE and SECTION arrive, even
    with quotes and spaces, and bad input stops make with status 2 and the one-line reason."""
    make = ["make", "-s", "-o", ".venv/.installed", "page"]
    missing = subprocess.run(make, cwd=ROOT, capture_output=True, text=True)
    assert missing.returncode == 2 and missing.stderr.startswith("make page: error: NAME is missing")
    unknown = subprocess.run(
        [*make, "NAME=never-made", "TITLE=It's a “title”", "SECTION=No such section"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert unknown.returncode == 2
    assert "SECTION='No such section' is not a section" in unknown.stderr.splitlines()[0]
    assert not (ROOT / "docs" / "never-made.md").exists()


NAV = """\
site_name: x
nav:
  - Home:
      - index.md
      # a comment that stays
      - About: about.md
  - Experiments:
      - One: one.md
      - Nested:
          - Two: two.md

  # the last section
  - "Other": other.md
extra:
  key: value
"""


def test_the_nav_entry_goes_at_the_end_of_its_section_and_nothing_else_changes():
    config = new_page.add_to_nav(NAV, "experiments", "My idea: a test", "my-idea.md")
    added = [line for line in config.splitlines() if line not in NAV.splitlines()]
    assert added == ['      - "My idea: a test": my-idea.md']
    assert config.replace(added[0] + "\n", "") == NAV
    nav = yaml.safe_load(config)["nav"]
    assert nav[1]["Experiments"][-1] == {"My idea: a test": "my-idea.md"}
    home = new_page.add_to_nav(NAV, "Home", "Yes", "yes.md")
    assert yaml.safe_load(home)["nav"][0]["Home"][-1] == {"Yes": "yes.md"}  # quoted: not a boolean
    plain = new_page.add_to_nav(NAV, "Home", "Layers, again (2)", "again.md")
    assert "      - About: about.md\n      - Layers, again (2): again.md\n" in plain


def test_the_longest_name_and_title_still_pass_the_linter(project):
    name, title = "a" * 10 + "-" + "b" * 19, "Why “this” & that, it's (almost) fifty characters!"
    assert len(name) == new_page.MAX_NAME and len(title) == new_page.MAX_TITLE
    written = new_page.scaffold(project, name, title)
    python = [str(p) for p in written if p.suffix == ".py"]
    for command in (["check"], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *command, *python], cwd=project, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stdout + done.stderr
    config = yaml.load((project / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)
    experiments = next(s["Experiments"] for s in config["nav"] if "Experiments" in s)
    assert {title: f"{name}.md"} in experiments


def search_words(site: Path) -> tuple[str, dict[str, set[str]]]:
    """The word the browser's search test types for each page, and every page's prose words."""
    from test_browser import _distinctive_words

    docs = json.loads((site / "search" / "search_index.json").read_text())["docs"]
    words: dict[str, set[str]] = {}
    for doc in docs:
        prose = re.sub(r"<(pre|code)\b.*?</\1>", " ", doc["text"], flags=re.DOTALL)
        words.setdefault(doc["location"].split("#")[0], set()).update(re.findall(r"[a-z]+", prose.lower()))
    return _distinctive_words(site), words


def test_a_generated_page_passes_its_tests_the_linter_and_a_strict_build(tmp_path):
    """End to end, in a copy of the project sharing the figure and model cache: scaffold, run the
    new test with 100 % branch coverage of the new module, lint, run the module, build strictly."""
    copy = copy_project(tmp_path / "project")
    name, module = "scaffold-rehearsal", "scaffold_rehearsal"
    env = {**environment.with_cache(cache_dir()), "PYTHONPATH": str(copy)}

    def run(*command: str) -> subprocess.CompletedProcess:
        started = time.perf_counter()
        # No timeout: with a warm cache the build takes seconds, with a cold one (code that no
        # build has run yet) as long as any cold build of the site.
        done = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True)
        print(f"{' '.join(command[1:4])}: {time.perf_counter() - started:.1f} s")
        assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        return done

    made = run(sys.executable, "scripts/new_page.py", f"--name={name}", "--title=Scaffold rehearsal")
    assert f"created snippets/{module}.py" in made.stdout
    files = [f"docs/{name}.md", f"snippets/{module}.py", f"tests/test_{module}.py"]
    run(sys.executable, "-m", "ruff", "check", *files[1:])
    run(sys.executable, "-m", "ruff", "format", "--check", *files[1:])

    coverage = [f"--cov=snippets.{module}", "--cov-branch", "--cov-fail-under=100"]
    options = ["-p", "no:cacheprovider", "-o", "addopts=", "-q"]  # not the project's addopts
    tested = run(sys.executable, "-m", "pytest", f"tests/test_{module}.py", *coverage, *options)
    assert "4 passed" in tested.stdout and "Required test coverage of 100% reached" in tested.stdout

    helped = run(sys.executable, "-m", f"snippets.{module}", "--help")
    assert f"shown on: {name}.md" in helped.stdout and f"figures/{name}.svg" in helped.stdout

    run(sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site"))
    html = " ".join((tmp_path / "site" / name / "index.html").read_text().split())
    assert f'src="../figures/{name}.svg"' in html
    assert (tmp_path / "site" / "figures" / f"{name}.svg").read_bytes().startswith(b"<?xml")
    facts = json.loads(next((cache_dir("artifacts", "facts")).glob(f"{module}.*.json")).read_text())
    assert f"a probability of {facts['p_trained']} at the temperature" in html
    assert "{{" not in re.sub(r"<pre.*?</pre>", "", html, flags=re.DOTALL)
    assert f"python -m snippets.{module}" in html  # the box "The code on this page"

    chosen, words = search_words(tmp_path / "site")
    word = chosen[f"{name}/"]  # what the search test types to find the new page: no other page has it
    assert not any(w[:6] == word[:6] for page, ws in words.items() if page != f"{name}/" for w in ws), word
    assert {"scaffold", "rehearsal"} <= words[f"{name}/"]  # the title's words are in its prose
