"""`mkdocs serve` on the snapshot: edit a file, time until the rebuilt site is served."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from bench.process import BenchError
from bench.workspace import Workspace
from state_simulators.build import REPORT_ENV, Report

REBUILT, REBUILDING = "Reloading browsers", "Detected file changes"
REBUILD_FAILED = "An error happened during the rebuild"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """`mkdocs serve` on the snapshot, its log read line by line with the time each line came;
    each rebuild writes the build's report to `self.report`."""

    def __init__(self, workspace: Workspace, cache: Path, timeout: float = 1800):
        self.workspace, self.timeout = workspace, timeout
        self.url = f"http://127.0.0.1:{free_port()}/"
        self.report = workspace.tmp / "serve-report.json"
        self.lines: list[tuple[float, str]] = []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mkdocs", "serve", "-f", str(workspace.project / "mkdocs.yml")]
            + ["--dev-addr", self.url[len("http://") : -1]],
            cwd=workspace.project,
            env=workspace.env(cache, **{REPORT_ENV: str(self.report)}),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group: closing it ends the kernel too
        )
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.wait(lambda: self.count("Serving on") and self.get(""), "the first build")
        except BaseException:
            self.close()
            raise

    def _read(self):
        for line in self.process.stdout:
            self.lines.append((time.perf_counter(), line.rstrip("\n")))

    def count(self, text: str, since: int = 0) -> int:
        return sum(text in line for _, line in self.lines[since:])

    def get(self, path: str) -> str:
        """The served page at `path`, or "" while the server does not answer."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as response:
                return response.read().decode()
        except OSError:
            return ""

    def wait(self, condition, what: str) -> float:
        """Poll `condition` every 50 ms; the time it first held. Raises BenchError when the
        server dies, a rebuild fails, or `self.timeout` seconds pass."""
        deadline = time.perf_counter() + self.timeout
        while not condition():
            log = "\n".join(line for _, line in self.lines[-15:])
            if self.process.poll() is not None or self.count(REBUILD_FAILED):
                raise BenchError(f"mkdocs serve failed while waiting for {what}:\n{log}")
            if time.perf_counter() > deadline:
                raise BenchError(f"mkdocs serve: no {what} after {self.timeout:.0f} s:\n{log}")
            time.sleep(0.05)
        return time.perf_counter()

    def settle(self):
        """Wait until no rebuild is pending or running, and the log has been quiet for a second."""
        self.wait(
            lambda: (
                self.count(REBUILDING) == self.count(REBUILT) and time.perf_counter() - self.lines[-1][0] > 1
            ),
            "a quiet moment",
        )

    def edit(self, path: Path, text: str, served=lambda: True) -> tuple[float, Report]:
        """Append `text` to `path`; the seconds until the rebuild is done and `served()` holds,
        and the report of that rebuild."""
        self.settle()
        before = self.count(REBUILT)
        started = time.perf_counter()
        with path.open("a") as f:
            f.write(text)
        done = self.wait(lambda: self.count(REBUILT) > before and served(), f"a reload after {path.name}")
        return done - started, Report.read(self.report)

    def close(self):
        """Stop the server (SIGINT, then SIGKILL after 30 s) and keep its log as serve.log."""
        try:
            os.killpg(self.process.pid, signal.SIGINT)
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        except ProcessLookupError:
            pass
        (self.workspace.logs / "serve.log").write_text("\n".join(line for _, line in self.lines) + "\n")
