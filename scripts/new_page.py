"""`make page NAME=my-idea [TITLE="My idea"] [SECTION=Experiments]`: start a new page from green.

Fills the templates in scripts/templates/ (plain files; `${name}`, `${module}` and `${title}`
are replaced) and writes

    docs/<name>.md              the page: prose with a number from the build, a figure, code
    snippets/<module>.py        its code in `# --8<--` sections, a @figure and a @facts group
    tests/test_<module>.py      its test: claims checked on the real model, 100 % coverage

then adds the page to the nav of mkdocs.yml, at the end of SECTION. As generated, every piece
passes the tests, `ruff check` and `ruff format --check`; replace the example with your idea.
Bad input is refused in one line, naming the fix, with exit status 2, before anything is written.
"""

import argparse
import keyword
import re
import sys
from pathlib import Path
from string import Template

from state_simulators.arguments import Parser

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "templates"
DEFAULT_SECTION = "Experiments"
NAME = re.compile(r"[a-z][a-z0-9]*(-[a-z0-9]+)*")
MAX_NAME, MAX_TITLE = 30, 50  # so that every generated line fits ruff's line length
# Page names whose address would clash with a folder the site build writes.
RESERVED = {"assets", "data", "figures", "javascripts", "search", "stylesheets", "snippets"}
USAGE = 'make page NAME=my-idea [TITLE="My idea"] [SECTION=Experiments]'
# Words YAML would read as something other than text in a plain (unquoted) nav title.
YAML_WORDS = {"yes", "no", "true", "false", "on", "off", "null", "y", "n", "~"}


class ScaffoldError(Exception):
    """Bad input: one line that names the fix."""


def suggest(text: str) -> str:
    """A valid NAME close to what was typed."""
    words = re.findall(r"[a-z0-9]+", text.lower())
    name = "-".join(words).lstrip("-0123456789")
    return name[:MAX_NAME].rstrip("-") or "my-idea"


def check_name(name: str) -> str:
    if not name:
        raise ScaffoldError(f"NAME is missing: {USAGE}")
    if not NAME.fullmatch(name):
        raise ScaffoldError(
            f"NAME={name!r} must be lowercase letters, digits and single hyphens, starting with "
            f"a letter: try NAME={suggest(name)}"
        )
    if len(name) > MAX_NAME:
        raise ScaffoldError(f"NAME={name} is longer than {MAX_NAME} characters: choose a shorter NAME")
    module = name.replace("-", "_")
    if keyword.iskeyword(module) or name in RESERVED:
        raise ScaffoldError(f"NAME={name} is a reserved word here: choose another NAME")
    return module


def check_title(title: str) -> str:
    if not title.strip() or len(title) > MAX_TITLE:
        raise ScaffoldError(f"TITLE={title!r} must be 1 to {MAX_TITLE} characters: give a shorter TITLE")
    if re.search(r'["\\`$]|[\x00-\x1f]', title):
        raise ScaffoldError(
            f'TITLE={title!r} may not hold " \\ ` $ or control characters: use “typographic '
            "quotes” or leave them out"
        )
    return title.strip()


def check_free(root: Path, name: str, module: str) -> None:
    """Refuse a name whose page, module, test, figure or facts group already exists."""
    for path in (f"docs/{name}.md", f"docs/{name}.py", f"snippets/{module}.py"):
        if (root / path).exists():
            raise ScaffoldError(f"{path} already exists: choose another NAME (or edit that page)")
    if (root / f"snippets/{module}").is_dir():
        raise ScaffoldError(f"snippets/{module}/ already exists: choose another NAME")
    if (root / f"tests/test_{module}.py").exists():
        raise ScaffoldError(f"tests/test_{module}.py already exists: choose another NAME")
    declared = {
        f'"{name}.svg"': f"a figure named {name}.svg",
        f'facts("{module}"': f"a @facts group named {module}",
    }
    for source in sorted((root / "snippets").rglob("*.py")):
        text = source.read_text()
        for needle, what in declared.items():
            if needle in text:
                where = source.relative_to(root)
                raise ScaffoldError(f"{where} already declares {what}: choose another NAME")


# --- the nav of mkdocs.yml, edited as text so that its comments and layout stay as they are


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_content(line: str) -> bool:
    return bool(line.strip()) and not line.lstrip().startswith("#")


def _entry_title(line: str) -> str | None:
    """The title of a nav entry that opens a section (`- Title:` and nothing after it)."""
    match = re.fullmatch(r"\s*-\s+(.+?):\s*(#.*)?", line)
    return match.group(1).strip().strip("'\"") if match else None


def nav_sections(lines: list[str]) -> dict[str, tuple[int, int]]:
    """Each top-level nav section: its title -> (index of its `- Title:` line, index of the
    line after which a new entry goes, that is its last entry's last line)."""
    start = next((i for i, line in enumerate(lines) if re.match(r"nav:\s*(#.*)?$", line)), None)
    if start is None:
        raise ScaffoldError("mkdocs.yml has no nav: add one, then run make page again")
    end = next(
        (i for i in range(start + 1, len(lines)) if _is_content(lines[i]) and not _indent(lines[i])),
        len(lines),
    )
    entries = [i for i in range(start + 1, end) if _is_content(lines[i])]
    if not entries:
        return {}
    top = _indent(lines[entries[0]])
    heads = [i for i in entries if _indent(lines[i]) == top]
    sections = {}
    for n, head in enumerate(heads):
        body = [i for i in entries if head < i < (heads[n + 1] if n + 1 < len(heads) else end)]
        title = _entry_title(lines[head])
        if title and body:
            sections[title] = (head, body[-1])
    return sections


def yaml_title(title: str) -> str:
    plain = re.fullmatch(r"[A-Za-z][A-Za-z0-9 ,.'()?!&+/–—-]*", title)
    return title if plain and title.lower() not in YAML_WORDS else f'"{title}"'


def add_to_nav(config: str, section: str, title: str, page: str) -> str:
    """mkdocs.yml's text with `- title: page` appended to the nav section `section`."""
    lines = config.splitlines(keepends=True)
    sections = nav_sections([line.rstrip("\n") for line in lines])
    chosen = next((s for s in sections if s.lower() == section.lower()), None)
    if chosen is None:
        raise ScaffoldError(
            f"SECTION={section!r} is not a section of the nav in mkdocs.yml: use one of {', '.join(sections)}"
        )
    head, last = sections[chosen]
    child = next(line for line in lines[head + 1 :] if _is_content(line))
    entry = f"{' ' * _indent(child)}- {yaml_title(title)}: {page}\n"
    if not lines[last].endswith("\n"):
        lines[last] += "\n"
    return "".join(lines[: last + 1] + [entry] + lines[last + 1 :])


# --- the files


def render(template: str, **values: str) -> str:
    return Template((TEMPLATES / template).read_text()).substitute(values)


def scaffold(root: Path, name: str, title: str | None = None, section: str | None = None):
    """Write the page, its module and its test and add the page to the nav; return the paths."""
    module = check_name(name)
    title = check_title(title or name.replace("-", " ").capitalize())
    check_free(root, name, module)
    config = root / "mkdocs.yml"
    new_config = add_to_nav(config.read_text(), section or DEFAULT_SECTION, title, f"{name}.md")
    values = dict(name=name, module=module, title=title)
    files = {
        root / "docs" / f"{name}.md": render("page.md.tmpl", **values),
        root / "snippets" / f"{module}.py": render("module.py.tmpl", **values),
        root / "tests" / f"test_{module}.py": render("test.py.tmpl", **values),
    }
    for path, text in files.items():
        path.write_text(text)
    config.write_text(new_config)
    return [*files, config]


def main(argv: list[str] | None = None) -> int:
    parser = Parser(prog="make page", description=__doc__.splitlines()[0], hint=USAGE)
    parser.add_argument("--name", default="", help="the page's address: lowercase, hyphens")
    parser.add_argument("--title", default="", help="its title (default: from the name)")
    parser.add_argument("--section", default="", help=f"nav section (default {DEFAULT_SECTION})")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        written = scaffold(args.root, args.name.strip(), args.title, args.section.strip())
    except ScaffoldError as error:
        print(f"make page: error: {error}", file=sys.stderr)
        return 2
    module = args.name.strip().replace("-", "_")
    for path in written:
        print(f"{'updated' if path.name == 'mkdocs.yml' else 'created'} {path.relative_to(args.root)}")
    print(
        "next: make serve, and open http://127.0.0.1:8000/"
        f"{args.name.strip()}/ ; .venv/bin/python -m pytest tests/test_{module}.py; "
        "then make your idea (docs/contributing.md)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
