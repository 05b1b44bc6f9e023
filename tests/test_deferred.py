"""`mkdocs serve` without the wait: pages at once with placeholders, figures as they arrive."""

import socket
import subprocess
import sys
import time
import urllib.request
from xml.etree import ElementTree

import pytest

from conftest import LINE_AND_NUMBERS as MODULE
from conftest import empty_artifact_cache, project_with
from state_simulators import build, deferred, environment
from state_simulators.cache import CACHE_ENV

PAGE = "# A page\n\nFirst ![a line](figures/line.svg) and {{ numbers.one }}.\n"


def test_a_deferred_build_serves_placeholders_and_computes_nothing(package):
    (package / "numbers.py").write_text(MODULE)
    made = build.Build(defer=True)
    files = dict(made.site_files({"a.md": PAGE, "b.md": "# B\n\nNothing to compute."}))
    assert sorted(made.deferred) == ["facts/numbers", "figures/line.svg"] and made.needed == 2
    assert b"computing figures/line.svg" in files["figures/line.svg"]
    assert b"0 of 2 ready" in files["figures/line.svg"]
    ElementTree.fromstring(files["figures/line.svg"])  # a well-formed SVG
    assert files["figures/line.json"] == b'{"computing": "figures/line.svg"}'
    text = made.page_markdown(PAGE, "a.md", package)
    assert text.startswith("# A page\n\n!!! info \"Still computing: 2 of this page's")
    assert "and ….\n" in text
    assert "Still computing" not in made.page_markdown("# B\n\nNothing to compute.\n", "b.md", package)
    assert made.report.made == []  # nothing computed, nothing read
    # once computed (here by a normal build), nothing is deferred any more
    build.Build().site_files({"a.md": PAGE})
    again = build.Build(defer=True)
    again.site_files({"a.md": PAGE})
    assert again.deferred == {} and "1." in again.page_markdown(PAGE, "a.md", package)


def test_the_worker_signals_each_artifact_and_the_end(package, tmp_path, monkeypatch):
    (package / "numbers.py").write_text(MODULE)
    trigger = tmp_path / "trigger"
    monkeypatch.setenv(deferred.TRIGGER_ENV, str(trigger))
    made = build.Build()
    made.site_files({"a.md": PAGE})
    assert trigger.read_text() == "figures/line.svg"  # the last one it computed
    made.finish()
    assert trigger.read_text() == "finished"
    monkeypatch.delenv(deferred.TRIGGER_ENV)
    deferred.signal("nobody listens")  # outside a worker: nothing written
    assert trigger.read_text() == "finished"


def test_placeholders_escape_what_they_quote():
    svg = deferred.placeholder_svg('figures/<a&"b>.svg', "1 of 3")
    ElementTree.fromstring(svg)
    assert b"&lt;a&amp;&quot;b>" in svg
    assert deferred.escape('<&"') == "&lt;&amp;&quot;"


def test_a_worker_runs_once_at_a_time_and_reports_how_it_ended(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    worker = deferred.Worker()
    assert not worker.running and not worker.finished
    popen = subprocess.Popen

    def fake(command, *, env):
        assert command[1:4] == ["-m", "mkdocs", "build"] and env[deferred.TRIGGER_ENV]
        return popen(["sleep", "1"])  # a stand-in "build" that takes 1 s

    monkeypatch.setattr(deferred.subprocess, "Popen", fake)
    assert worker.start("mkdocs.yml") and worker.running and not worker.finished
    assert not worker.start("mkdocs.yml")  # one at a time
    worker.process.wait()
    assert worker.finished and not worker.running


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except OSError:
        return None


def test_serve_shows_the_page_at_once_and_the_figure_when_it_is_ready(tmp_path):
    """A real `mkdocs serve` with an empty artifact cache: the page is served before its
    figure exists (with the placeholder), and the figure replaces it without a restart."""
    config = project_with(tmp_path, {"index.md": "# Home\n\n![the next token](figures/next-token.svg)\n"})
    cache = empty_artifact_cache(tmp_path / "cache")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mkdocs", "serve", "-f", str(config), "-a", f"127.0.0.1:{port}"],
        env=environment.with_cache(cache),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        started, first = time.monotonic(), None
        while first is None and time.monotonic() - started < 60:
            first = fetch(url)
            time.sleep(0.3)
        assert first is not None and "Still computing" in first
        assert "computing figures/next-token.svg" in fetch(url + "figures/next-token.svg")
        figure = None
        while time.monotonic() - started < 180:
            figure = fetch(url + "figures/next-token.svg")
            if figure and "computing" not in figure:
                break
            time.sleep(1)
        assert figure and "<svg" in figure and "computing" not in figure
        assert "Still computing" not in fetch(url)
    finally:
        server.terminate()
        server.wait(timeout=30)
    if server.returncode not in (0, -15):
        pytest.fail(f"mkdocs serve ended with {server.returncode}")
