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
