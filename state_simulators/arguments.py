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


@checked
def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"must be a whole number (got {text!r})") from None
    if value < 1:
        raise ValueError(f"must be at least 1 (got {value})")
    return value
