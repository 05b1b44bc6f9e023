"""The reader's command line: look at the model's next-token distribution from a terminal.

python -m snippets next "The capital of France is" --top 10 --temperature 0.7
python -m snippets tokens "Hello, world"
python -m snippets generate "Once upon a time" --temperature 1.0 --seed 3
python -m snippets fetch

Each command computes its rows first and renders them apart, so tests check the rows.
"""

import sys

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from snippets import next_token
from state_simulators import model, runner
from state_simulators.arguments import Parser, checked, positive_int, seed
from state_simulators.cache import CacheError


@checked
def temperature(text: str) -> float:
    return next_token.check_temperature(float(text))


@checked
def prompt(text: str) -> str:
    return next_token.check_prompt(text)


def build_parser() -> Parser:
    parser = Parser(prog="python -m snippets", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", parser_class=Parser)
    nxt = commands.add_parser("next", help="rank the most likely next tokens for a prompt")
    nxt.add_argument("prompt", type=prompt)
    nxt.add_argument("--top", type=positive_int, default=10, help="how many tokens to show (default 10)")
    nxt.add_argument("--temperature", type=temperature, default=1.0, help="divide the logits by T > 0")
    tok = commands.add_parser("tokens", help="show how a prompt is cut into tokens")
    tok.add_argument("prompt", type=prompt)
    gen = commands.add_parser("generate", help="continue a prompt (greedy unless --temperature is given)")
    gen.add_argument("prompt", type=prompt)
    gen.add_argument("--temperature", type=temperature, default=None)
    gen.add_argument("--seed", type=seed, default=0, help="0 to 2**32 - 1 (default 0)")
    gen.add_argument("--max-new-tokens", type=positive_int, default=40)
    commands.add_parser("fetch", help="download, verify and convert the embedded model (idempotent)")
    return parser


# --8<-- [start:next]
def next_rows(prompt: str, top: int, temperature: float) -> list[dict]:
    """One row per candidate: rank, token (as shown), id, probability."""
    return [
        dict(rank=c.rank, token=repr(c.token), id=c.token_id, p=c.probability)
        for c in next_token.next_token_distribution(prompt, top=top, temperature=temperature)
    ]


def show_next(console: Console, args) -> None:
    vocabulary = len(model.load().tokenizer)
    if args.top > vocabulary:
        console.print(f"note: --top {args.top} is more than the {vocabulary:,} tokens there are: showing all")
        args.top = vocabulary
    table = Table(title=escape(f"Next token after {args.prompt!r} (T = {args.temperature:g})"))
    for name in ("rank", "token", "id", "p"):
        table.add_column(name, justify="left" if name == "token" else "right")
    table.add_column("", min_width=30)
    for row in next_rows(args.prompt, args.top, args.temperature):
        bar = "█" * round(30 * row["p"])
        table.add_row(str(row["rank"]), escape(row["token"]), str(row["id"]), f"{row['p']:.4f}", bar)
    console.print(table)


# --8<-- [end:next]


def token_rows(prompt: str) -> list[tuple[int, int, str]]:
    """(position, id, token as shown) for each token of the prompt."""
    return [
        (position, token_id, next_token.show_token(piece))
        for position, (token_id, piece) in enumerate(next_token.tokenize(prompt))
    ]


def show_tokens(console: Console, args) -> None:
    table = Table(title=escape(f"{args.prompt!r} as tokens"))
    for name in ("#", "id", "token"):
        table.add_column(name, justify="left" if name == "token" else "right")
    for position, token_id, shown in token_rows(args.prompt):
        table.add_row(str(position), str(token_id), escape(shown))
    console.print(table)


def list_modules(console: Console) -> None:
    table = Table(title="Page modules: python -m snippets.<name> [--help]")
    table.add_column("name", style="bold")
    table.add_column("what it shows")
    table.add_column("page")
    for row in runner.module_rows():
        table.add_row(*(escape(cell) for cell in row))
    console.print(table)
    console.print(escape("Commands: python -m snippets {next,tokens,generate,fetch} --help"))


def _generate(console: Console, args) -> None:
    text = next_token.generate(args.prompt, args.max_new_tokens, args.temperature, args.seed)
    console.print(escape(args.prompt + text), highlight=False)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = Console()
    commands = {
        None: lambda: list_modules(console),
        "next": lambda: show_next(console, args),
        "tokens": lambda: show_tokens(console, args),
        "generate": lambda: _generate(console, args),
        "fetch": lambda: console.print(f"model ready: {escape(str(model.fetch()))}"),
    }
    try:
        commands[args.command]()
    except (model.ModelError, CacheError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
