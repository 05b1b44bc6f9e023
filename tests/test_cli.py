import itertools
import runpy
import sys

import pytest

from state_simulators import cli, model


def run(capsys, *argv):
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


def test_next_rows_rank_the_distribution(lm):
    rows = cli.next_rows("The capital of France is", top=5, temperature=1.0)
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert all(a["p"] >= b["p"] for a, b in itertools.pairwise(rows)) and 0 < sum(r["p"] for r in rows) <= 1
    assert len({r["id"] for r in rows}) == 5 and all(0 <= r["id"] < len(lm.tokenizer) for r in rows)


def test_a_lower_temperature_sharpens_the_top_row(lm):
    plain = cli.next_rows("The capital of France is", top=1, temperature=1.0)[0]
    sharp = cli.next_rows("The capital of France is", top=1, temperature=0.5)[0]
    assert sharp["id"] == plain["id"] and sharp["p"] > plain["p"]


@pytest.mark.claim
def test_next_ranks_paris_first(capsys):
    status, out, _ = run(capsys, "next", "The capital of France is", "--top", "3")
    assert status == 0 and "T = 1" in out and "█" in out
    first = cli.next_rows("The capital of France is", top=3, temperature=1.0)[0]
    assert first["token"] == "' Paris'" and round(first["p"], 2) == 0.77


def test_token_rows_cover_the_prompt(lm):
    rows = cli.token_rows("Hello world")
    assert [position for position, _, _ in rows] == list(range(len(rows)))
    assert lm.tokenizer.decode([token_id for _, token_id, _ in rows]) == "Hello world"


def test_tokens_prints_every_piece(capsys):
    status, out, _ = run(capsys, "tokens", "Hello world")
    assert status == 0 and "Hello" in out and "␣world" in out


@pytest.mark.parametrize("prompt", ["Use [/] here", "[bold]Hello"])
def test_prompts_are_printed_as_written_not_as_markup(capsys, prompt):
    status, out, _ = run(capsys, "next", prompt, "--top", "1")
    assert status == 0 and prompt in out


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
        (["next", "x", "--temperature", "0"], "temperature must be a finite number > 0"),
        (["next", "x", "--temperature", "-2"], "temperature must be a finite number > 0"),
        (["next", "x", "--top", "0"], "must be at least 1"),
        (["next", ""], "the prompt is empty"),
        (["generate", "x", "--max-new-tokens", "0"], "must be at least 1"),
        (["next"], "the following arguments are required: prompt"),
        (["generate", "Hi", "--seed", "-1"], "must be between 0 and 4294967295 (got -1)"),
        (["generate", "Hi", "--seed", "2.5"], "must be a whole number"),
        (["next", "abc\udcff"], "the prompt is not valid UTF-8 (byte 0xff at position 3)"),
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


def test_more_tokens_than_the_vocabulary_shows_them_all_with_a_note(capsys, lm, monkeypatch):
    asked = []
    monkeypatch.setattr(cli, "next_rows", lambda prompt, top, temperature: asked.append(top) or [])
    status, out, _ = run(capsys, "next", "Hi", "--top", "100000")  # the table itself is not drawn here
    assert status == 0 and f"more than the {len(lm.tokenizer):,} tokens there are" in out
    assert asked == [len(lm.tokenizer)]
