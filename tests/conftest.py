"""Shared fixtures: the model is loaded once per test session; the site is built once and served.

Two kinds of test: mechanics tests hold for any causal LM (they read depth and vocabulary from
the model's config); tests marked `claim` assert what the embedded SmolLM2-135M-Instruct does
(" Paris" first, 30 layers) and are skipped, with the reason printed, when
STATE_SIMULATORS_MODEL names another model.
"""

import functools
import http.server
import os
import shutil
import sys
import threading
from pathlib import Path

import pytest

from state_simulators import environment, sources
from state_simulators.cache import CACHE_ENV, ROOT
from state_simulators.model import MODEL_ENV

environment.set_offline()
OTHER_MODEL = os.environ.get(MODEL_ENV)
CHROMIUM = Path(os.environ.get("STATE_SIMULATORS_CHROMIUM", "/usr/bin/chromium"))
BROWSER_REQUIRED = os.environ.get("STATE_SIMULATORS_REQUIRE_BROWSER") == "1"
BROWSER_FIXTURES = {"page", "context", "browser"}


@pytest.fixture(scope="session")
def lm():
    from state_simulators.model import load

    return load()


def build_site(site_dir: Path, config_file: Path = ROOT / "mkdocs.yml") -> Path:
    """A strict MkDocs build, in this process (so figure code counts towards coverage). Its
    report (state_simulators.build.Report) lands beside the site, as `report.json`."""
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    from state_simulators.build import REPORT_ENV

    config = load_config(str(config_file), strict=True, site_dir=str(site_dir))
    config.plugins.on_startup(command="build", dirty=False)
    before = os.environ.get(REPORT_ENV)
    os.environ[REPORT_ENV] = str(site_dir.parent / "report.json")
    try:
        build(config)
    finally:
        config.plugins.on_shutdown()
        if before is None:
            del os.environ[REPORT_ENV]
        else:
            os.environ[REPORT_ENV] = before
    return site_dir


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The whole site, built strictly with the project's own cache."""
    return build_site(tmp_path_factory.mktemp("built") / "site")


@pytest.fixture(scope="session")
def site_url(built_site):
    """The built site served on 127.0.0.1 (a free port) for the browser tests."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(built_site))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    # Debian's chromium: playwright cannot download its own browser here. The flags keep
    # Chromium from reaching for Google's services, which this offline machine refuses.
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


def pytest_collection_modifyitems(config, items):
    if OTHER_MODEL:
        reason = f"CLAIM SKIPPED: asserts what SmolLM2-135M-Instruct does, and {MODEL_ENV}={OTHER_MODEL}"
        for item in items:
            if item.get_closest_marker("claim"):
                item.add_marker(pytest.mark.skip(reason=reason))
    if CHROMIUM.exists() or BROWSER_REQUIRED:
        return
    reason = f"BROWSER TESTS SKIPPED: no Chromium at {CHROMIUM} (apt-get install chromium)"
    for item in items:
        if BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.skip(reason=reason))


def pytest_terminal_summary(terminalreporter):
    if not CHROMIUM.exists() and not BROWSER_REQUIRED:
        terminalreporter.write_sep("!", f"browser tests were skipped: no Chromium at {CHROMIUM}", red=True)
    if OTHER_MODEL:
        terminalreporter.write_sep(
            "!", f"claims about the embedded model were skipped: {MODEL_ENV}={OTHER_MODEL}", yellow=True
        )


def twice_as_two_processes(cached_step):
    """Call a `functools.cache`d step twice with its in-memory cache cleared in between, as two
    processes would: the second call can only get its result from disk. Leaves the memory cache
    empty, so no other test sees these results. Returns (first, again)."""
    cached_step.cache_clear()
    try:
        first = cached_step()
        cached_step.cache_clear()
        return first, cached_step()
    finally:
        cached_step.cache_clear()


def project_with(folder: Path, pages: dict[str, str]) -> Path:
    """A copy of the site's configuration with only `pages` in docs/; returns its mkdocs.yml."""
    config = (ROOT / "mkdocs.yml").read_text()
    (folder / "mkdocs.yml").write_text(config[: config.index("\nnav:")])  # the nav names real pages
    environment.copy_project(folder, link=True, names=("hooks", "snippets", "state_simulators", "overrides"))
    (folder / "docs").mkdir()
    (folder / "docs" / "stylesheets").symlink_to(ROOT / "docs" / "stylesheets")
    for name, text in pages.items():
        (folder / "docs" / name).write_text(text)
    return folder / "mkdocs.yml"


empty_artifact_cache = environment.empty_artifact_cache


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A throwaway `snippets/` folder with the plotting helper and whatever a test writes there;
    the cache moves to a temporary folder."""
    import snippets

    pkg = tmp_path / "repo" / "snippets"
    pkg.mkdir(parents=True)
    for name in ("__init__.py", "plotting.py"):
        shutil.copy(sources.SNIPPETS / name, pkg / name)
    monkeypatch.setattr(sources, "SNIPPETS", pkg)
    monkeypatch.setattr(snippets, "__path__", [str(pkg), *snippets.__path__])
    for name in [n for n in sys.modules if n.startswith("snippets.")]:
        monkeypatch.delitem(sys.modules, name)  # restored after the test
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return pkg


# A page module with one figure and one facts group, for tests of what a build computes
LINE_AND_NUMBERS = """
from state_simulators.artifacts import facts, figure
from snippets.plotting import new_figure

@figure("line.svg")
def line():
    fig, ax = new_figure()
    ax.plot([0, 1], [0, 1])
    return fig

@facts("numbers")
def numbers():
    return {"one": "1"}
"""
