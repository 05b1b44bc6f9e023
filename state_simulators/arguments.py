"""Command-line arguments shared by the reader's commands and the page modules' runner."""

import argparse


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2; `hint` (say, the
    usage in words) is added to that line."""

    def __init__(self, *args, hint: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.hint = hint

    def error(self, message):
        hint = f" (usage: {self.hint})" if self.hint else ""
        self.exit(2, f"{self.prog}: error: {message}{hint}\n")


def checked(check):
    """An argparse `type` from a function that raises ValueError with the fix in its message."""

    def convert(text: str):
        try:
            return check(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None

    convert.__name__ = check.__name__  # argparse names the type in its messages
    return convert


def whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"must be a whole number (got {text!r})") from None


@checked
def positive_int(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise ValueError(f"must be at least 1 (got {value})")
    return value


SEED_MAX = 2**32 - 1  # numpy's and torch's seeds are unsigned 32-bit numbers


@checked
def seed(text: str) -> int:
    value = whole_number(text)
    if not 0 <= value <= SEED_MAX:
        raise ValueError(f"must be between 0 and {SEED_MAX} (got {value})")
    return value
