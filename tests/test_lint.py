"""The suite fails on lint: `ruff check` and `ruff format --check`, configured in pyproject.toml."""

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]], ids=["check", "format"])
def test_ruff_is_clean(command):
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command, "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, f"`ruff {' '.join(command)} .` failed (fix: make format)\n{result.stdout}"


def test_make_lint_and_pre_commit_run_the_same_ruff():
    makefile = (ROOT / "Makefile").read_text()
    assert "$(BIN)/ruff check ." in makefile and "$(BIN)/ruff format --check ." in makefile
    hooks = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())["repos"][0]["hooks"]
    assert [hook["entry"] for hook in hooks] == [".venv/bin/ruff check --fix", ".venv/bin/ruff format"]


def unclosed_rules(rules, tinycss2) -> list[str]:
    """Rules whose block holds something other than declarations: the site's CSS nests no
    rules, so a selector inside a block means a brace went missing before it."""
    found = []
    for rule in rules:
        if rule.type == "error":
            found.append(rule.message)
        elif rule.type == "at-rule" and rule.content is not None:
            nested = tinycss2.parse_rule_list(rule.content, skip_comments=True, skip_whitespace=True)
            found += unclosed_rules(nested, tinycss2)
        elif rule.type == "qualified-rule":
            inside = tinycss2.parse_blocks_contents(rule.content, skip_comments=True, skip_whitespace=True)
            if any(item.type != "declaration" for item in inside):
                found.append(tinycss2.serialize(rule.prelude).strip())
    return found


def test_every_stylesheet_parses_with_no_rule_left_open():
    """A brace lost in a merge silently swallows every rule after it (this happened once)."""
    import tinycss2

    sheets = sorted((ROOT / "docs" / "stylesheets").glob("*.css"))
    assert sheets
    for sheet in sheets:
        rules = tinycss2.parse_stylesheet(sheet.read_text(), skip_comments=True, skip_whitespace=True)
        assert unclosed_rules(rules, tinycss2) == [], sheet.name
    assert unclosed_rules(tinycss2.parse_stylesheet("a { color: red; b { color: blue; } }"), tinycss2) == [
        "a"
    ]
