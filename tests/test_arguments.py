import argparse

import pytest

from state_simulators.arguments import Parser, checked, positive_int


def test_a_usage_error_is_one_line_with_the_hint(capsys):
    parser = Parser(prog="make page", hint="make page NAME=x")
    parser.add_argument("--n", type=positive_int)
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["--n", "0"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1
    assert err == "make page: error: argument --n: must be at least 1 (got 0) (usage: make page NAME=x)\n"


@pytest.mark.parametrize("text, message", [("0", "must be at least 1"), ("1.5", "must be a whole number")])
def test_positive_int_says_what_it_needs(text, message):
    with pytest.raises(argparse.ArgumentTypeError, match=message):
        positive_int(text)
    assert positive_int("3") == 3


def test_checked_turns_a_value_error_into_an_argument_error_and_keeps_the_name():
    @checked
    def even(text: str) -> int:
        if int(text) % 2:
            raise ValueError("must be even")
        return int(text)

    assert even.__name__ == "even" and even("4") == 4
    with pytest.raises(argparse.ArgumentTypeError, match="must be even"):
        even("3")
