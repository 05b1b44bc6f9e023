"""Which `snippets/` files each declared artifact's cache key hashes, read from source.

    PYTHONPATH=<project> python bench/programs/closures.py

Run in a copy of the project (its `state_simulators` first on the path), so that it reads
that copy. Prints one JSON object: {"figures/x.svg": ["snippets/x.py", ...], ...}, the paths
relative to the project.
"""

import json

from state_simulators import artifacts, sources
from state_simulators.cache import ROOT


def closures() -> dict[str, list[str]]:
    return {
        path: [p.relative_to(ROOT).as_posix() for p in sources.source_closure(artifact.module)]
        for path, artifact in artifacts.discover().items()
    }


if __name__ == "__main__":
    print(json.dumps(closures()))
