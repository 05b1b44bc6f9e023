"""Model load: tokenizer and model in a fresh process, from the GGUF file and from the
converted folder (bench/programs/load_model.py), the imports timed apart from the load."""

import json
import sys
from pathlib import Path

from bench.process import BenchError, run_timed, say, tail
from bench.rows import Row, against, summary
from bench.targets import LOAD_SPEEDUP_MIN
from bench.workspace import PROGRAMS, Workspace

LOADER = PROGRAMS / "load_model.py"


def load_once(ws: Workspace, cache: Path, source: str, arguments: list[str], log: Path) -> dict:
    """{"import": s, "load": s, "rss_kb": KiB or None} of one load. Raises BenchError if it fails."""
    run = run_timed(
        [sys.executable, str(LOADER), *arguments], cwd=ws.project, env=ws.env(cache), log=log, timeout=1800
    )
    if run.returncode:
        raise BenchError(f"loading the model ({source}) failed, log {run.log}:\n{tail(run.output)}")
    result = json.loads(run.output.strip().splitlines()[-1])
    return {**result, "rss_kb": run.rss_kb}


def load_rows(runs: dict[str, list[dict]]) -> list[Row]:
    """The rows of {"gguf": [...], "cached": [...]} load results; the speed-up is judged."""

    def loads(source):
        return [r["load"] for r in runs[source]]

    def rss(source):
        return [r["rss_kb"] for r in runs[source] if r["rss_kb"]]

    speedup = Row(
        "GGUF load ÷ cached load",
        [summary(loads("gguf"))[0] / summary(loads("cached"))[0]],
        "x",
        n=min(len(loads("gguf")), len(loads("cached"))),
        note="ratio of the medians",
    )
    return [
        Row(
            "Import torch and transformers",
            [r["import"] for rs in runs.values() for r in rs],
            "s",
            note="paid once by any process that loads the model",
        ),
        Row(
            "Model load from the GGUF file",
            loads("gguf"),
            "s",
            rss_kb=rss("gguf"),
            note="de-quantises the Q4_1 weights",
        ),
        Row("Model load from the converted cache", loads("cached"), "s", rss_kb=rss("cached")),
        against(speedup, ">=", LOAD_SPEEDUP_MIN),
    ]


def measure_model_load(ws: Workspace, cache: Path, args) -> tuple[list[Row], dict]:
    """`args.repeat` loads from each source, alternating; the rows and the raw results."""
    from state_simulators.model import converted_path, gguf_path

    say("Model load (tokenizer and model), from the GGUF file and from the converted folder")
    sources = {"gguf": [str(gguf_path().parent), gguf_path().name], "cached": [str(converted_path())]}
    runs = {source: [] for source in sources}
    for i in range(args.repeat):
        for source, arguments in sources.items():
            result = load_once(ws, cache, source, arguments, ws.logs / f"load-{source}-{i + 1}.log")
            runs[source].append(result)
            say(f"  {source} {i + 1}: import {result['import']:.2f} s, load {result['load']:.2f} s")
    return load_rows(runs), runs
