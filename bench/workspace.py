"""The temporary project snapshot, caches and logs one benchmark run works in, and its builds.

The snapshot is `state_simulators.environment.copy_project` of the working tree; every process
runs with `environment.with_cache` (offline, the cache moved) and the snapshot first on its
path, so that the user's `.cache/`, `docs/` and `site/` are never written.
"""

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from bench.parse import probe_imports
from bench.process import BenchError, Run, run_timed, say, tail
from state_simulators import environment
from state_simulators.build import REPORT_ENV, Report

PROGRAMS = Path(__file__).resolve().parent / "programs"
PROBE = Path(__file__).resolve().parent / "probe"  # holds the sitecustomize module


def model_only_cache(folder: Path) -> Path:
    """A cache sharing only the model, fetched and converted once by `make setup`: the other
    slow caches (the notebook's runs, the tiny diffusion model) are part of a cold build."""
    return environment.empty_artifact_cache(folder, shared=environment.MODEL_CACHES)


@dataclass
class Built:
    """One timed `mkdocs build`: the run, the site folder, which of torch and transformers any
    of its processes imported (None: unknown), and the build's report (None without hooks)."""

    run: Run
    site: Path
    imported: list[str] | None
    report: Report | None


class Workspace:
    """A project snapshot in `tmp/project`, with caches, sites and records beside it."""

    def __init__(self, tmp: Path, logs: Path):
        self.tmp, self.logs = tmp, logs
        self.project = environment.copy_project(tmp / "project")

    def new_cache(self, name: str) -> Path:
        """An empty cache but for the model, already fetched and converted (linked)."""
        return model_only_cache(self.tmp / name)

    def env(self, cache: Path, **extra: str) -> dict[str, str]:
        """The environment of a process on the snapshot: offline, `cache` as the cache, the
        snapshot's packages (also in the notebook's kernel) after the probe on the path."""
        env = environment.with_cache(cache)
        env.pop("BENCH_PROBE_DIR", None)
        env["PYTHONPATH"] = os.pathsep.join([str(PROBE), str(self.project)])
        return {**env, **extra}

    def build(self, name: str, cache: Path, config: str = "mkdocs.yml", strict: bool = True) -> Built:
        """A timed `mkdocs build` of the snapshot with `cache`. Raises BenchError if it fails."""
        site, records = self.tmp / "sites" / name, self.tmp / "records" / name
        records.mkdir(parents=True)
        report = records / "build-report.json"
        command = [sys.executable, "-m", "mkdocs", "build", "-f", str(self.project / config)]
        command += ["-d", str(site)] + (["--strict"] if strict else [])
        env = self.env(cache, BENCH_PROBE_DIR=str(records), **{REPORT_ENV: str(report)})
        log = self.logs / f"{name}.log"
        run = run_timed(command, cwd=self.project, env=env, log=log, timeout=3600)
        if run.returncode:
            raise BenchError(f"{name} build failed (exit {run.returncode}), log {log}:\n{tail(run.output)}")
        built = Report.read(report) if report.exists() else None
        imported = probe_imports(records)
        if built and built.imported:  # the MkDocs process's own answer, from the report
            imported = sorted({*(imported or []), *built.imported})
        say(f"  {name}: {run.seconds:.2f} s")
        return Built(run, site, imported, built)

    def closures(self) -> dict[str, list[str]]:
        """{artifact: the snapshot's files its cache key hashes}, by bench/programs/closures.py."""
        done = subprocess.run(
            [sys.executable, str(PROGRAMS / "closures.py")],
            cwd=self.project,
            env=self.env(self.tmp / "cache-closures"),
            capture_output=True,
            text=True,
        )
        if done.returncode:
            raise BenchError(f"reading the artifacts' closures failed:\n{tail(done.stderr)}")
        return json.loads(done.stdout)
