"""What a cold build says while it computes: n of N, which artifact, time so far and left."""

import json
import logging

from conftest import LINE_AND_NUMBERS as MODULE
from state_simulators import artifacts, build, progress
from state_simulators.cache import CACHE_ENV


def test_durations_read_as_people_say_them():
    assert progress.duration(45.4) == "45 s"
    assert progress.duration(200) == "3 min"
    assert progress.duration(4000) == "1 h 7 min"


def test_each_line_counts_times_and_estimates_from_the_last_timings(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    now = [100.0]
    todo = ["figures/a.svg", "figures/b.svg", "facts/c"]
    run = progress.Progress(todo, timings={"figures/a.svg": 30, "figures/b.svg": 150}, clock=lambda: now[0])
    with caplog.at_level(logging.INFO, logger="mkdocs.state_simulators.progress"):
        first = run.starting("figures/a.svg")
    assert first == "computing 1 of 3: figures/a.svg (0 s so far; about 3 min left; 1 never timed here)"
    assert caplog.messages == [first]
    now[0] += 40
    run.finished("figures/a.svg", 40.04)
    second = run.starting("figures/b.svg")
    assert second == "computing 2 of 3: figures/b.svg (40 s so far; about 2 min left; 1 never timed here)"
    run.finished("figures/b.svg", 120)
    assert run.starting("facts/c").endswith("(40 s so far; 1 never timed here)")
    assert json.loads(progress.timings_path().read_text()) == {"figures/a.svg": 40.0, "figures/b.svg": 120}
    assert progress.read_timings() == {"figures/a.svg": 40.0, "figures/b.svg": 120}


def test_no_or_broken_timings_mean_no_estimate(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert progress.read_timings() == {}
    progress.timings_path().write_text("{not json")
    assert progress.read_timings() == {}


def test_a_build_says_what_it_computes_and_only_that(package, caplog):
    (package / "numbers.py").write_text(MODULE)
    page = {"a.md": "![a line](figures/line.svg) and {{ numbers.one }}", "b.md": "{{ numbers.one }}"}
    with caplog.at_level(logging.INFO, logger="mkdocs.state_simulators.progress"):
        made = build.Build()
        files = dict(made.site_files(page))
    lines = [m for m in caplog.messages if m.startswith("computing")]
    assert [line.split(" (")[0] for line in lines] == [
        "computing 1 of 2: facts/numbers",
        "computing 2 of 2: figures/line.svg",
    ]
    assert made.facts_used(page) == {"numbers": ["a.md", "b.md"]}
    assert {"figures/line.svg", "figures/line.json"} <= set(files)
    assert set(progress.read_timings()) == {"facts/numbers", "figures/line.svg"}
    assert artifacts.is_cached(made.known["figures/line.svg"])
    caplog.clear()
    build.Build().site_files(page)  # warm: nothing to compute, nothing said
    assert not [m for m in caplog.messages if m.startswith("computing")]
