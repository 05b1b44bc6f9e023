"""The build's own logic, beyond what a whole build exercises: references, facts, the report,
and re-importing edited page code under `mkdocs serve`."""

import importlib
import os
import sys

import pytest

from state_simulators import build, freshness


def test_an_edited_snippet_is_reimported_on_the_next_serve_rebuild(monkeypatch):
    import snippets.next_token

    old = snippets.next_token
    saved = {name: m for name, m in sys.modules.items() if name.startswith("snippets")}
    for name in saved:
        monkeypatch.setitem(sys.modules, name, saved[name])  # restored after the test
    monkeypatch.setattr(sys.modules["snippets"], "next_token", old)
    freshness.remember_imported_snippets()
    assert freshness.forget_edited_snippets() == []  # nothing edited: nothing forgotten
    assert "snippets.next_token" in sys.modules

    monkeypatch.setattr(old, "__mtime__", os.stat(old.__file__).st_mtime_ns - 1)  # as if edited since
    assert "snippets.next_token" in freshness.forget_edited_snippets()
    assert "snippets.next_token" not in sys.modules and "state_simulators.artifacts" in sys.modules
    assert importlib.import_module("snippets.next_token") is not old


def test_pages_reference_declared_figures_only():
    made = build.Build()
    used = made.used({"a.md": "![x](figures/next-token.svg)", "b.md": "figures/next-token.svg"})
    assert used == {"figures/next-token.svg": ["a.md", "b.md"]}
    with pytest.raises(build.BuildError, match=r"c.md uses unknown figures/nope.svg"):
        made.used({"c.md": "![x](figures/nope.svg)"})


def test_facts_are_substituted_and_their_use_recorded(lm, tmp_path, monkeypatch):
    monkeypatch.setenv(build.REPORT_ENV, str(tmp_path / "report.json"))
    made = build.Build()
    text = made.page_markdown("Top: {{ home.top_token }} at {{home.top_p}}.", "a.md", tmp_path)
    assert "{{" not in text and text.startswith("Top: ")
    report = made.finish()
    assert report.facts_used == {"home": ["top_token", "top_p"]}
    assert build.Report.read(tmp_path / "report.json") == report
    assert [m.path for m in report.made] == ["facts/home"]


def test_a_report_round_trips(tmp_path):
    report = build.Report(made=[build.Made("figures/x.svg", True, 0.1, ["a.md"])], model_loaded=True)
    report.write(tmp_path / "r.json")
    assert build.Report.read(tmp_path / "r.json") == report


def test_the_report_goes_to_the_cache_unless_told(tmp_path, monkeypatch):
    monkeypatch.delenv(build.REPORT_ENV, raising=False)
    monkeypatch.setenv("STATE_SIMULATORS_CACHE", str(tmp_path))
    assert build.report_path() == tmp_path / "reports" / "last-build.json"


def test_numbers_go_into_prose_and_output_blocks_but_code_shows_what_is_written():
    markdown = (
        "A {{ g.a }} and `{{ g.a }}` inline.\n\n```python\nx = '{{ g.a }}'\n```\n\n"
        "~~~~bash\n{{ g.a }}\n~~~\nstill code\n~~~~\n```text\n{{ g.a }}\n```\nAfter: {{g.a}}\n"
    )
    out = build.substitute_prose(markdown, lambda m: "42")
    assert out == (
        "A 42 and `42` inline.\n\n```python\nx = '{{ g.a }}'\n```\n\n"
        "~~~~bash\n{{ g.a }}\n~~~\nstill code\n~~~~\n```text\n42\n```\nAfter: 42\n"
    )


def test_every_figure_gets_its_data_and_code_links_but_code_blocks_do_not(tmp_path):
    made = build.Build()
    figure = made.known["figures/next-token.svg"]
    markdown = (
        "![A bar chart](figures/next-token.svg)\n"
        "Right after.\n\n"
        '=== "Tab"\n\n    ![In a tab](figures/next-token.svg)\n\n'
        "```markdown\n![shown, not drawn](figures/next-token.svg)\n```\n"
        "Inline: ![x](figures/next-token.svg) is not a figure of its own.\n"
    )
    out = made.page_markdown(markdown, "a.md", tmp_path, "https://example.org/repo/")
    url = f"https://example.org/repo/blob/main/snippets/next_token.py#L{figure.line}"
    code = f"[`next_token.{figure.function}`]({url})"
    line = f"**Data** [next-token.json](figures/next-token.json) · **Code** {code}"
    assert out.count(line) == 2
    assert "\n" + line + "\n{: .ss-figure-sources }\n\nRight after." in out
    assert "\n    " + line + "\n    {: .ss-figure-sources }\n" in out
    assert "```markdown\n![shown, not drawn](figures/next-token.svg)\n```" in out
    plain = made.page_markdown("![A bar chart](figures/next-token.svg)\n", "a.md", tmp_path)
    assert f"**Code** `next_token.{figure.function}`\n" in plain  # no site repository: no link
    # a figure nobody declared gets no links (the build refuses the page in `used`)
    assert "**Data**" not in made.page_markdown("![x](figures/nope.svg)\n", "a.md", tmp_path)


def test_the_site_gets_each_figure_with_the_numbers_it_plots(lm):
    made = build.Build()
    found = dict(made.site_files({"a.md": "![x](figures/next-token.svg) and data/explorer.json"}))
    assert sorted(found) == ["data/explorer.json", "figures/next-token.json", "figures/next-token.svg"]
    assert build.data_file("figures/next-token.svg") == "figures/next-token.json"
    import json

    bars = json.loads(found["figures/next-token.json"])["axes"][0]["bars"]
    assert bars and all(h >= 0 for b in bars for h in b["height"] + b["width"])
