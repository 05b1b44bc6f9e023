"""One helper for every table the build writes into a page: Markdown tables with escaped cells.

A cell may hold any text (a token, a prompt): `|` would end the cell and a backslash would
escape the next character, so both are escaped. Numbers are formatted by the caller.
"""

ALIGN = {"left": ":---", "right": "---:", "center": ":---:", None: "---"}


def escape_cell(value: object) -> str:
    """A value as the text of one Markdown table cell: `\\` and `|` escaped, newlines as spaces."""
    text = str(value).replace("\\", "\\\\").replace("|", "\\|")
    return " ".join(text.splitlines())


# --8<-- [start:table]
def markdown_table(
    header: list[str], rows: list[list[object]], align: list[str | None] | None = None
) -> str:
    """A Markdown table; `align` gives each column "left", "right", "center" or None.

    Raises ValueError when a row has a different number of cells than the header.
    """
    align = align or [None] * len(header)
    if len(align) != len(header) or any(len(row) != len(header) for row in rows):
        raise ValueError(f"every row needs {len(header)} cells, like the header {header}")
    lines = [
        "| " + " | ".join(escape_cell(h) for h in header) + " |",
        "|" + "|".join(ALIGN[a] for a in align) + "|",
    ]
    lines += ["| " + " | ".join(escape_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


# --8<-- [end:table]
