"""The mechanics on a model of another architecture: a tiny random GPT-2-shaped model (absolute
positions, untied unembedding) with the embedded tokenizer runs the reader's commands, the
mechanics tests and a strict build of the whole site. Claims about SmolLM2 are skipped there."""

import subprocess
import sys

import pytest

from conftest import OTHER_MODEL, ROOT
from other_models import gpt2_folder
from state_simulators import build, environment
from state_simulators.model import MODEL_ENV

pytestmark = pytest.mark.skipif(bool(OTHER_MODEL), reason="the suite already runs on another model")
# The core of the mechanics: the commands, the distribution, samplers, lens and cache.
MECHANICS = (
    "test_cli.py",
    "test_next_token.py",
    "test_sampling.py",
    "test_logit_lens.py",
    "test_kv_cache.py",
)


@pytest.fixture(scope="module")
def env(lm):
    return environment.offline_env(**{MODEL_ENV: str(gpt2_folder(lm.tokenizer)), "PYTHONPATH": str(ROOT)})


def run(command: list[str], env: dict, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, **kwargs)


@pytest.mark.parametrize(
    "argv",
    [
        ["next", "The capital of France is", "--top", "3"],
        ["tokens", "Hello"],
        ["generate", "Hi", "--max-new-tokens", "4"],
    ],
)
def test_the_commands_run_on_it(env, argv):
    done = run([sys.executable, "-m", "snippets", *argv], env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip()


def test_the_mechanics_tests_pass_on_it(env):
    files = [f"tests/{name}" for name in MECHANICS]
    done = run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=", *files], env
    )
    assert done.returncode == 0, done.stdout[-4000:]
    summary = done.stdout.strip().splitlines()[-1]
    assert " passed" in summary and "failed" not in summary, summary
    assert "claims about the embedded model were skipped" in done.stdout


def test_a_strict_build_of_the_site_works_on_it(env, tmp_path):
    report = tmp_path / "report.json"
    done = run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
        {**env, build.REPORT_ENV: str(report)},
    )
    assert done.returncode == 0, done.stderr[-4000:]
    made = build.Report.read(report).made
    assert made and (tmp_path / "site" / "index.html").is_file()
    print(f"{sum(not m.cached for m in made)} of {len(made)} artifacts computed for the tiny model")
