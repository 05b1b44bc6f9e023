"""The reader's command line: look at the model's next-token distribution from a terminal.

python -m snippets next "The capital of France is" --top 10 --temperature 0.7
python -m snippets tokens "Hello, world"
python -m snippets generate "Once upon a time" --temperature 1.0 --seed 3
python -m snippets fetch
"""

import argparse
import sys

from rich.console import Console
from rich.table import Table

from snippets import model, next_token, runner


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 (got {value})")
    return value


def temperature(text: str) -> float:
    try:
        return next_token.check_temperature(float(text))
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def prompt(text: str) -> str:
    try:
        return next_token.check_prompt(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_parser() -> Parser:
    parser = Parser(prog="python -m snippets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", parser_class=Parser)
    nxt = commands.add_parser("next", help="rank the most likely next tokens for a prompt")
    nxt.add_argument("prompt", type=prompt)
    nxt.add_argument(
        "--top", type=positive_int, default=10, help="how many tokens to show (default 10)"
    )
    nxt.add_argument(
        "--temperature", type=temperature, default=1.0, help="divide the logits by T > 0"
    )
    tok = commands.add_parser("tokens", help="show how a prompt is cut into tokens")
    tok.add_argument("prompt", type=prompt)
    gen = commands.add_parser(
        "generate", help="continue a prompt (greedy unless --temperature is given)"
    )
    gen.add_argument("prompt", type=prompt)
    gen.add_argument("--temperature", type=temperature, default=None)
    gen.add_argument("--seed", type=int, default=0)
    gen.add_argument("--max-new-tokens", type=positive_int, default=40)
    commands.add_parser(
        "fetch", help="download, verify and convert the embedded model (idempotent)"
    )
    return parser


# --8<-- [start:next]
def show_next(console: Console, args) -> None:
    candidates = next_token.next_token_distribution(
        args.prompt, top=args.top, temperature=args.temperature
    )
    table = Table(title=f"Next token after {args.prompt!r} (T = {args.temperature:g})")
    table.add_column("rank", justify="right")
    table.add_column("token")
    table.add_column("id", justify="right")
    table.add_column("p", justify="right")
    table.add_column("", min_width=30)
    for c in candidates:
        bar = "█" * round(30 * c.probability)
        table.add_row(str(c.rank), repr(c.token), str(c.token_id), f"{c.probability:.4f}", bar)
    console.print(table)


# --8<-- [end:next]


def show_tokens(console: Console, args) -> None:
    table = Table(title=f"{args.prompt!r} as tokens")
    table.add_column("#", justify="right")
    table.add_column("id", justify="right")
    table.add_column("token")
    for position, (token_id, piece) in enumerate(next_token.tokenize(args.prompt)):
        table.add_row(str(position), str(token_id), next_token.show_token(piece))
    console.print(table)


def list_modules(console: Console) -> None:
    table = Table(title="Page modules: python -m snippets.<name> [--help]")
    table.add_column("name", style="bold")
    table.add_column("what it shows")
    table.add_column("page")
    for name, path in runner.runnable_modules().items():
        table.add_row(name, runner.summary(path), ", ".join(runner.pages_showing(name)))
    console.print(table)
    console.print("Commands: python -m snippets {next,tokens,generate,fetch} --help")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    try:
        if args.command is None:
            list_modules(console)
        elif args.command == "next":
            show_next(console, args)
        elif args.command == "tokens":
            show_tokens(console, args)
        elif args.command == "generate":
            console.print(
                args.prompt
                + next_token.generate(
                    args.prompt, args.max_new_tokens, args.temperature, args.seed
                ),
                highlight=False,
            )
        else:
            console.print(f"model ready: {model.fetch()}")
    except model.ModelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
