"""The results as rows: a measure's values over its runs, its target, and the verdict in words."""

import statistics
from dataclasses import dataclass, field


@dataclass
class Row:
    """One line of the table: a measure, its values over n runs, its target and the verdict.

    `unit` is "s", "bytes", "x" (a ratio) or "text" (then `text` is the value shown); `status`
    is "met", "missed", "not measured", or "" for a measure without a target; `rss_kb` holds
    the peak resident memory of each run, in KiB; `why` says, in words, why a target was missed
    when the value alone does not (tests that failed, a coverage gate).
    """

    measure: str
    values: list
    unit: str
    n: int = 0
    target: str = ""
    status: str = ""
    note: str = ""
    rss_kb: list = field(default_factory=list)
    text: str = ""
    why: str = ""

    def __post_init__(self):
        self.n = self.n or len(self.values)


def summary(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max). Raises ValueError for no values."""
    if not values:
        raise ValueError("no values to summarise")
    return statistics.median(values), min(values), max(values)


def judge(value: float, op: str, limit: float) -> str:
    """ "met" or "missed": `value op limit`, where `op` is "<=" or ">=" (else ValueError)."""
    if op not in ("<=", ">="):
        raise ValueError(f"unknown comparison {op!r}")
    met = value <= limit if op == "<=" else value >= limit
    return "met" if met else "missed"


def against(row: Row, op: str, limit: float) -> Row:
    """The row, with its target set and its median judged against it ("not measured" when it
    has no values)."""
    row.target = f"{'≤' if op == '<=' else '≥'} {fmt(limit, row.unit)}"
    row.status = judge(summary(row.values)[0], op, limit) if row.values else "not measured"
    return row


def not_measured(row: Row, why: str) -> Row:
    """The row marked as left out of this run, saying why."""
    row.status, row.note = "not measured", why
    return row


def fmt(value, unit: str) -> str:
    """A value in its unit: seconds to 3 significant figures, bytes in B/KB/MB/GB, ratios as 2.4×."""
    if unit == "s":
        return f"{value:.2f} s" if value < 10 else f"{value:.1f} s" if value < 100 else f"{value:.0f} s"
    if unit == "bytes":
        for scale, name in ((1e9, "GB"), (1e6, "MB"), (1e3, "KB")):
            if value >= scale:
                return f"{value / scale:.3g} {name}"
        return f"{value:.0f} B"
    if unit == "x":
        return f"{value:.1f}×"
    return str(value)


def value_cell(row: Row) -> str:
    """The median, with the range in brackets for times and sizes that varied; "—" for none."""
    if row.unit == "text":
        return row.text
    if not row.values:
        return "—"
    median, low, high = summary(row.values)
    shown = fmt(median, row.unit)
    if row.unit in ("s", "bytes") and low != high:
        shown += f" ({fmt(low, row.unit)} – {fmt(high, row.unit)})"
    return shown


def rss_cell(row: Row) -> str:
    """The highest peak memory of the row's runs, or "" when none was measured."""
    return fmt(max(row.rss_kb) * 1024, "bytes") if row.rss_kb else ""


def result_cell(row: Row) -> str:
    return "**missed**" if row.status == "missed" else row.status


def verdict(rows: list[Row]) -> str:
    """One paragraph, in words: which targets this run missed and why, or that it met them all;
    and which measures it left out."""
    judged = [r for r in rows if r.status in ("met", "missed")]
    missed = [r for r in judged if r.status == "missed"]
    skipped = [r for r in rows if r.status == "not measured"]
    if missed:
        listed = "; ".join(
            f"{r.measure} ({value_cell(r)}, target {r.target}{': ' + r.why if r.why else ''})" for r in missed
        )
        words = f"**This run misses {len(missed)} of its {len(judged)} targets:** {listed}."
    else:
        words = f"This run meets all {len(judged)} of its targets."
    if skipped:
        words += " Not measured in this run: " + "; ".join(r.measure for r in skipped) + "."
    return words
