"""Running one measured process: wall-clock time, peak memory, its output kept in a log."""

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.parse import parse_time_v

TIME = Path("/usr/bin/time")


class BenchError(Exception):
    """A measurement could not be taken (a build failed, the server died); says where the log is."""


@dataclass
class Run:
    """One finished process: wall-clock seconds, exit status, output, peak memory (KiB or None)."""

    seconds: float
    returncode: int
    output: str
    rss_kb: int | None
    log: Path


def run_timed(command: list[str], *, cwd: Path, env: dict, log: Path, timeout: float) -> Run:
    """Run `command`, timed with `time.perf_counter`, its output (stdout and stderr) written to
    `log`; the peak resident memory of its largest process from GNU `/usr/bin/time -v` when it
    exists. Raises BenchError when it runs past `timeout` seconds (its process group is killed)."""
    report = log.with_suffix(".time")
    prefix = [str(TIME), "-v", "-o", str(report)] if TIME.exists() else []
    started = time.perf_counter()
    process = subprocess.Popen(
        prefix + command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so that a timeout or ^C ends all of it
    )
    try:
        output, _ = process.communicate(timeout=timeout)
    except BaseException as error:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if isinstance(error, subprocess.TimeoutExpired):
            raise BenchError(f"{' '.join(command[:4])}… ran past {timeout:.0f} s (killed)") from error
        raise
    seconds = time.perf_counter() - started
    log.write_text(output)
    rss = parse_time_v(report.read_text()).get("max_rss_kb") if report.exists() else None
    return Run(seconds, process.returncode, output, rss, log)


def tail(text: str, lines: int = 15) -> str:
    """The last `lines` lines of `text`."""
    return "\n".join(text.splitlines()[-lines:])


def say(message: str) -> None:
    """Progress, on stderr (stdout holds the results)."""
    print(message, file=sys.stderr, flush=True)
