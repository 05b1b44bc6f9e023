"""`python -m state_simulators.verify`: an independent recompute stamps what it reproduces."""

import json

import pytest

from state_simulators import artifacts, verify
from test_artifacts import FIGURE_MODULE

NOISY = """
import random
from state_simulators.artifacts import data

@data("noisy.json")
def noisy():
    return random.random()
"""


@pytest.fixture
def package(package):
    (package / "tiny.py").write_text(FIGURE_MODULE)
    (package / "table.txt").write_text("v1")
    (package / "noisy.py").write_text(NOISY)
    return package


def test_what_is_reproduced_is_stamped_and_what_differs_is_dropped(package, capsys):
    found = artifacts.discover()
    for path in ("figures/tiny.svg", "data/noisy.json"):
        artifacts.produce(found[path])
    assert verify.main(["--json"]) == 1
    out, err = capsys.readouterr()
    checks = {c["path"]: c["status"] for c in json.loads(out)}
    assert checks == {
        "figures/tiny.svg": "verified now",
        "data/noisy.json": "differs",
        "data/tiny.json": "not built",
        "facts/tiny": "exempt",
    }
    assert "data/noisy.json differs when recomputed" in err and err.count("\n") == 1
    assert not artifacts.cached_path(found["data/noisy.json"]).exists()  # not served again
    assert verify.main(["figures/tiny.svg"]) == 0
    assert "verified before  figures/tiny.svg" in capsys.readouterr().out


def test_an_unknown_artifact_is_a_usage_error(package, capsys):
    with pytest.raises(SystemExit) as stop:
        verify.main(["figures/nope.svg"])
    assert stop.value.code == 2 and "unknown artifacts: figures/nope.svg" in capsys.readouterr().err
