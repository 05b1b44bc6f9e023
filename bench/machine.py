"""The machine and the code a benchmark run measured: CPUs, date, commit, library versions."""

import datetime
import importlib.metadata
import os
import platform
import re
import subprocess
from pathlib import Path

from state_simulators.cache import ROOT

LIBRARIES = ("torch", "transformers", "mkdocs")


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's model name, from /proc/cpuinfo where there is one."""
    names = re.findall(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M) if cpuinfo.exists() else []
    return names[0].strip() if names else platform.processor() or "unknown CPU"


def _git(*command: str) -> str:
    done = subprocess.run(["git", *command], cwd=ROOT, capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else ""


def machine() -> dict:
    """{cpus, cpu_model, date (UTC), commit, uncommitted, python, versions {library: version}}."""
    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _git("rev-parse", "--short", "HEAD") or "unknown",
        "uncommitted": bool(_git("status", "--porcelain")),
        "python": platform.python_version(),
        "versions": {name: importlib.metadata.version(name) for name in LIBRARIES},
    }
