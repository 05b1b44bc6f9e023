import runpy
import sys

import pytest

from state_simulators import cli, model


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_next_ranks_paris_first(capsys):
    status, out, _ = run(capsys, "next", "The capital of France is", "--top", "3")
    rows = [line for line in out.splitlines() if "│" in line]
    assert status == 0 and len(rows) == 3
    assert "' Paris'" in rows[0] and "0.77" in rows[0] and "█" in rows[0]


def test_temperature_changes_the_table(capsys):
    _, out, _ = run(capsys, "next", "The capital of France is", "--top", "1", "--temperature", "0.5")
    assert "T = 0.5" in out and "0.9" in out.splitlines()[-2]  # Paris sharpened above 0.9


def test_tokens_lists_every_piece(capsys):
    status, out, _ = run(capsys, "tokens", "Hello world")
    assert status == 0 and "Hello" in out and "␣world" in out


def test_generate_is_seeded(capsys):
    _, first, _ = run(
        capsys, "generate", "Once upon a time", "--temperature", "1", "--seed", "5", "--max-new-tokens", "8"
    )
    _, again, _ = run(
        capsys, "generate", "Once upon a time", "--temperature", "1", "--seed", "5", "--max-new-tokens", "8"
    )
    assert first == again and first.startswith("Once upon a time")


def test_fetch_reports_the_ready_model(capsys):
    status, out, _ = run(capsys, "fetch")
    assert status == 0 and "model ready" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["next", "x", "--temperature", "0"], "temperature must be > 0"),
        (["next", "x", "--temperature", "-2"], "temperature must be > 0"),
        (["next", "x", "--top", "0"], "must be at least 1"),
        (["next", ""], "the prompt is empty"),
        (["generate", "x", "--max-new-tokens", "0"], "must be at least 1"),
        (["next"], "the following arguments are required: prompt"),
        (["nope"], "invalid choice: 'nope'"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    _, err = capsys.readouterr()
    assert exit_.value.code == 2
    assert message in err and err.count("\n") == 1


def test_a_model_problem_is_one_line_and_status_1(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv(model.MODEL_ENV, str(tmp_path / "missing"))
    model.load.cache_clear()
    try:
        status, _, err = run(capsys, "next", "hello")
    finally:
        model.load.cache_clear()
    assert status == 1 and err.startswith("error: ") and err.count("\n") == 1


def test_python_dash_m_snippets(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["snippets", "tokens", "Hi"])
    with pytest.raises(SystemExit) as exit_:
        runpy.run_module("snippets", run_name="__main__")
    assert exit_.value.code == 0 and "Hi" in capsys.readouterr().out
