"""Put first on the Python path of every build that `make bench` times (bench/workspace.py).

Python imports `sitecustomize` in every process it starts: each one (MkDocs, and the notebook's
kernel, which runs in a process of its own) leaves `<pid>.start` in $BENCH_PROBE_DIR when it
starts and `<pid>.json` ({"argv": [...], "imported": ["torch", ...]}) when it exits, naming
which of torch and transformers it had imported. Without $BENCH_PROBE_DIR it does nothing.
"""

import atexit
import json
import os
import sys

HEAVY = ("torch", "transformers")
RECORDS = os.environ.get("BENCH_PROBE_DIR")


def _report() -> None:
    imported = sorted(name for name in HEAVY if name in sys.modules)
    with open(os.path.join(RECORDS, f"{os.getpid()}.json"), "w") as f:
        json.dump({"argv": sys.argv, "imported": imported}, f)


if RECORDS:
    open(os.path.join(RECORDS, f"{os.getpid()}.start"), "w").close()
    atexit.register(_report)
