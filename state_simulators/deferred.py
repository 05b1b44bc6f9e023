"""`mkdocs serve` without the wait: every page at once, each figure as soon as it is computed.

On a fresh clone the first build computes every figure and number, which takes many minutes.
Under `mkdocs serve` (only there: `mkdocs build` and CI still compute everything before they
finish, strictly), the build serves what is cached and a placeholder for the rest — a labelled
"computing… n of N" figure, "…" for a number — and starts one background worker: a normal strict
`mkdocs build` in a process of its own, which computes and caches everything, saying what it
computes (state_simulators/progress.py). After each artifact it writes the trigger file, which
the server watches: the server rebuilds from the fuller cache, and MkDocs' live reload reloads
the open page. The worker also executes the notebook page, which until then is shown unexecuted.
"""

import logging
import os
import subprocess
import sys
from pathlib import Path

from state_simulators.cache import atomic_write, cache_dir

log = logging.getLogger("mkdocs.state_simulators.deferred")
TRIGGER_ENV = "STATE_SIMULATORS_TRIGGER"
FACT = "…"  # a number not computed yet
WIDTH, HEIGHT = 504, 259  # points, as the site's figures (7 × 3.6 inches)


def trigger_path() -> Path:
    """The file the worker rewrites after each artifact; the server watches it."""
    return cache_dir("reports") / "computed"


def signal(what: str) -> None:
    """In the worker (`TRIGGER_ENV` set), tell the server that `what` is ready."""
    chosen = os.environ.get(TRIGGER_ENV)
    if chosen:
        atomic_write(Path(chosen), what.encode())


def placeholder_svg(path: str, ready: str) -> bytes:
    """A figure-sized SVG saying that `path` is being computed; `ready`: e.g. "12 of 48"."""
    text = f"computing {path}… ({ready} ready; this page reloads by itself)"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}pt" height="{HEIGHT}pt" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}"><rect x="1" y="1" width="{WIDTH - 2}" height="{HEIGHT - 2}" '
        'fill="none" stroke="#8a8a8a" stroke-dasharray="6 4"/>'
        f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-family="sans-serif" '
        f'font-size="11" fill="#8a8a8a">{escape(text)}</text></svg>'
    ).encode()


def placeholder_json(path: str) -> bytes:
    return f'{{"computing": "{escape(path)}"}}'.encode()


def banner(waiting: int) -> str:
    """The note at the top of a page still waiting for `waiting` of its figures or numbers."""
    return (
        f'!!! info "Still computing: {waiting} of this page\'s figures and number groups"\n\n'
        "    This is a fresh `mkdocs serve`: the figures and numbers not yet computed show as "
        "placeholders (a dashed box, or …). They are being computed in the background, as the "
        "terminal says; the page reloads by itself as they arrive.\n\n"
    )


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")


class Worker:
    """The one background build of a `mkdocs serve` session."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def finished(self) -> bool:
        """Whether a worker ran to the end and succeeded."""
        return self.process is not None and self.process.poll() == 0

    def start(self, config_file: str) -> bool:
        """Start the worker unless one is running; True if this call started it."""
        if self.running:
            return False
        site = cache_dir("serve-worker")
        command = [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "-f",
            config_file,
            "-d",
            str(site),
        ]
        env = {**os.environ, TRIGGER_ENV: str(trigger_path())}
        self.process = subprocess.Popen(command, env=env)  # its output: the reader's terminal
        log.info("computing the rest in the background; each page reloads as its figures arrive")
        return True


WORKER = Worker()  # shared by the hooks of one server process
