"""What a build says while it computes: which artifact, n of N, the time so far and the time left.

A cold build computes for minutes; a reader who ran `make serve` for the first time deserves to
know how long. Before each artifact it must compute (not read from the cache), the build logs one
line, e.g. `computing 3 of 12: figures/greedy-versus-human.svg (41 s so far; about 3 min left)`.
The estimate adds up what each remaining artifact took the last time this cache computed it
(`.cache/reports/timings.json`); artifacts never timed are counted apart.
"""

import json
import logging
import time

from state_simulators.cache import atomic_write, cache_dir

log = logging.getLogger("mkdocs.state_simulators.progress")


def timings_path():
    return cache_dir("reports") / "timings.json"


def read_timings() -> dict[str, float]:
    """Seconds each artifact last took to compute, by site path; {} when none are recorded."""
    try:
        return json.loads(timings_path().read_text())
    except (FileNotFoundError, ValueError):
        return {}


def duration(seconds: float) -> str:
    """45 -> "45 s", 200 -> "3 min", 4000 -> "1 h 7 min" (rounded, for people)."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"


class Progress:
    """The artifacts one build must compute, in order, and how far it has got."""

    def __init__(self, todo: list[str], timings: dict[str, float] | None = None, clock=time.monotonic):
        self.todo = list(todo)
        self.timings = read_timings() if timings is None else timings
        self.clock = clock
        self.started = clock()
        self.done = 0

    def estimate(self, remaining: list[str]) -> str:
        """The time left for `remaining`, from their last timings."""
        known = [self.timings[p] for p in remaining if p in self.timings]
        new = len(remaining) - len(known)
        parts = [f"about {duration(sum(known))} left"] if known else []
        if new:
            parts.append(f"{new} never timed here")
        return "; ".join(parts)

    def starting(self, path: str) -> str:
        """Log (and return) the line that says `path` is being computed now."""
        remaining = self.todo[self.done :]
        so_far = duration(self.clock() - self.started)
        count = f"{self.done + 1} of {len(self.todo)}"
        line = f"computing {count}: {path} ({so_far} so far; {self.estimate(remaining)})"
        log.info(line)
        return line

    def finished(self, path: str, seconds: float) -> None:
        """Count `path` as done and remember how long it took, for the next estimate."""
        self.done += 1
        self.timings[path] = round(seconds, 1)
        atomic_write(timings_path(), json.dumps(self.timings, indent=1, sort_keys=True).encode())
