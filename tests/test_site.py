"""The site as a whole: strict builds, determinism, the warm path, and every way a build can fail."""

import json
import os
import re
import subprocess
import sys
import time

import pytest
from mkdocs.exceptions import Abort

from conftest import ROOT, build_site, empty_artifact_cache, project_with
from snippets import next_token
from state_simulators import artifacts, build, environment
from state_simulators.cache import CACHE_ENV

MKDOCS = [sys.executable, "-m", "mkdocs", "build", "--strict"]


def test_the_home_page_has_its_figure_and_its_numbers(built_site):
    html = (built_site / "index.html").read_text()
    assert 'src="figures/next-token.svg"' in html
    assert (built_site / "figures" / "next-token.svg").read_bytes().startswith(b"<?xml")
    assert "{{" not in html and "Paris" in html
    assert "next_token_distribution" in html and "check_temperature" in html  # the included snippet


def test_no_page_is_left_with_an_unreplaced_number_or_tex(built_site):
    for page in built_site.rglob("*.html"):
        # code (a block, or inline as where the contributing page shows the syntax) may show braces
        text = re.sub(r"<(pre|code)\b.*?</\1>", "", page.read_text(), flags=re.DOTALL)
        assert not re.search(r"\{\{\s*[\w-]+\.\w+\s*\}\}", text), page
        assert 'class="arithmatex"' not in text, page


OFFLINE = """
import socket
_connect = socket.socket.connect
LOCAL = ("127.0.0.1", "::1", "localhost")

def loopback_only(self, address):
    if isinstance(address, tuple) and address[0] not in LOCAL:
        raise OSError(f"network blocked by the test suite: {address}")
    return _connect(self, address)

_getaddrinfo = socket.getaddrinfo

def local_names_only(host, *args, **kwargs):
    if host not in LOCAL and host is not None:
        raise OSError(f"name lookup blocked by the test suite: {host}")
    return _getaddrinfo(host, *args, **kwargs)

socket.socket.connect = loopback_only
socket.getaddrinfo = local_names_only
"""


def sockets_blocked(folder, **extra):
    """Environment for a subprocess whose sockets reach nothing but loopback."""
    folder.mkdir()
    (folder / "sitecustomize.py").write_text(OFFLINE)
    return environment.offline_env(PYTHONPATH=os.pathsep.join([str(folder), str(ROOT)]), **extra)


def test_the_offline_environment_really_blocks(tmp_path):
    probe = "import socket; print(socket.socket.connect.__name__, socket.getaddrinfo.__name__)"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env=sockets_blocked(tmp_path / "offline"),
        capture_output=True,
        text=True,
    )
    assert done.stdout.split() == ["loopback_only", "local_names_only"]


def test_every_artifact_is_reproduced_by_an_independent_offline_process(built_site, tmp_path):
    """Determinism, once per artifact version: a second process recomputes what no earlier run
    verified, sockets blocked, and stamps it; what is already stamped is not recomputed."""
    done = subprocess.run(
        [sys.executable, "-m", "state_simulators.verify", "--json"],
        cwd=ROOT,
        env=sockets_blocked(tmp_path / "offline"),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    checks = {c["path"]: c["status"] for c in json.loads(done.stdout)}
    print({status: sum(1 for s in checks.values() if s == status) for status in set(checks.values())})
    used = {made.path for made in build.Report.read(built_site.parent / "report.json").made}
    assert used and all(checks[path] in ("verified now", "verified before", "exempt") for path in used)


def test_a_warm_build_is_offline_and_computes_nothing(built_site, tmp_path):
    report = tmp_path / "report.json"
    env = sockets_blocked(tmp_path / "offline", **{build.REPORT_ENV: str(report)})
    started = time.perf_counter()
    done = subprocess.run(
        [*MKDOCS, "-d", str(tmp_path / "site")], cwd=ROOT, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr[-3000:]
    made = build.Report.read(report)
    assert made.made and all(m.cached for m in made.made)
    assert not made.model_loaded and made.imported == []
    print(f"warm build: {seconds:.1f} s")


def plotted_groups(svg: str) -> dict[str, int]:
    """What an SVG that matplotlib wrote draws, outside the axes' own ticks: lines,
    collections and images, counted by the ids matplotlib gives their groups."""
    from xml.etree import ElementTree

    tree = ElementTree.fromstring(svg)
    counts = {"lines": 0, "collections": 0, "images": 0}

    def walk(node, in_axis):
        ident = node.get("id", "")
        in_axis = in_axis or ident.startswith(("matplotlib.axis", "legend"))
        if not in_axis and node.tag.endswith("}g") and ident.startswith("line2d_"):
            counts["lines"] += 1
        elif not in_axis and node.tag.endswith("}g") and re.fullmatch(r"\w*(Collection|Mesh)_\d+", ident):
            counts["collections"] += 1
        elif node.tag.endswith("}image"):  # an image, or a mesh that matplotlib rasterised
            counts["images"] += 1
        for child in node:
            walk(child, in_axis)

    walk(tree, False)
    return counts


def test_every_figure_has_its_data_and_code_and_the_data_is_what_it_draws(built_site):
    known = artifacts.discover()
    figures = 0
    for html in built_site.rglob("*.html"):
        text = html.read_text()
        for name in re.findall(r'<img[^>]+src="[./]*figures/([\w.-]+)\.svg"', text):
            figures += 1
            artifact = known[f"figures/{name}.svg"]
            after = text[text.index(f"figures/{name}.svg") :]
            sources = re.search(r'<p class="ss-figure-sources">(.*?)</p>', after, re.S).group(1)
            assert f'figures/{name}.json"' in sources, (html, name)
            module = artifact.module.replace(".", "/") + ".py"
            assert f"/blob/main/{module}#L{artifact.line}" in sources, (html, name)
            assert artifact.function in sources
            source_line = (ROOT / module).read_text().splitlines()[artifact.line - 1]
            assert source_line.startswith(("@figure(", "@ figure(")) and name in source_line
            plotted = json.loads((built_site / "figures" / f"{name}.json").read_text())
            svg = (built_site / "figures" / f"{name}.svg").read_text()
            counts = plotted_groups(svg)
            axes = plotted["axes"]
            assert counts["lines"] == sum(len(a["lines"]) for a in axes), name
            images = sum(len(a["images"]) for a in axes)
            collections = sum(len(a["collections"]) for a in axes)
            assert images <= counts["images"] <= images + sum(a["colorbar"] for a in axes), name
            assert counts["collections"] + counts["images"] == collections + images, name
    assert figures >= len([a for a in known.values() if a.kind == "figure"]) - 1


def test_next_from_home_walks_every_idea_before_the_pages_about_the_site(built_site):
    """The footer's "Next" link is the reading order: the argument first, the site's own
    pages (Run it locally, How this site works, …) only after the last idea."""
    import yaml

    config = (ROOT / "mkdocs.yml").read_text()
    about = yaml.safe_load(config[config.index("\nnav:") :])["nav"][-1]["About this site"]
    about_pages = {page.removesuffix(".md") + "/" for entry in about for page in entry.values()}
    walked, here = [], ""
    while found := re.search(
        r'<a href="([^"]+)" class="md-footer__link md-footer__link--next"',
        (built_site / here / "index.html").read_text(),
    ):
        here = os.path.normpath(os.path.join(here, found.group(1))) + "/"
        walked.append(here)
    first_about = next(i for i, page in enumerate(walked) if page in about_pages)
    assert set(walked[first_about:]) == about_pages, walked
    assert walked[0] == "distributions/" and len(walked[:first_about]) >= 8, walked


CODE_BEFORE_EVIDENCE = 20  # lines of unfolded code a section may show before its first figure


def code_before_first_figure(html: str) -> dict[str, int]:
    """Per section (h2) that has a figure: lines of code shown, not folded, before the figure."""
    from html.parser import HTMLParser

    class Sections(HTMLParser):
        def __init__(self):
            super().__init__()
            self.found, self.title, self.lines, self.seen = {}, None, 0, False
            self.folded, self.in_pre, self.in_title, self.text = 0, False, False, ""
            self.output = False

        def handle_starttag(self, tag, attrs):
            if tag == "h2":
                self.title, self.lines, self.seen, self.in_title = "", 0, False, True
            self.folded += tag == "details"
            classes = dict(attrs).get("class") or ""
            if "highlight" in classes.split():  # generated output (a `text` block) is evidence
                self.output = "language-" not in classes or "language-text" in classes
            self.in_pre, self.text = (True, "") if tag == "pre" else (self.in_pre, self.text)
            src = dict(attrs).get("src") or ""
            if tag == "img" and "figures/" in src and self.title is not None and not self.seen:
                self.seen, self.found[self.title] = True, self.lines

        def handle_endtag(self, tag):
            self.in_title = self.in_title and tag != "h2"
            self.folded -= tag == "details"
            if tag == "pre":
                self.in_pre = False
                if self.title is not None and not (self.seen or self.folded or self.output):
                    self.lines += self.text.count("\n") + 1

        def handle_data(self, data):
            self.title = self.title + data if self.in_title else self.title
            self.text = self.text + data if self.in_pre else self.text

    parser = Sections()
    parser.feed(html)
    return parser.found


def test_evidence_follows_its_claim_without_a_wall_of_code(built_site):
    """Long code is folded (`??? example "The code: …"`), so a section's figure comes soon
    after the claim it supports."""
    walls = {}
    for html in built_site.glob("*/index.html"):
        for section, lines in code_before_first_figure(html.read_text()).items():
            if lines > CODE_BEFORE_EVIDENCE:
                walls[f"{html.parent.name}: {section.strip()}"] = lines
    assert walls == {}
    code = "<div class='language-python highlight'><pre>1\n2\n3</pre></div>"
    assert code_before_first_figure(f"<h2>A</h2>{code}<img src='figures/a.svg'>") == {"A": 3}
    output = "<h2>C</h2><div class='highlight'><pre>1\n2</pre></div><img src='figures/c.svg'>"
    assert code_before_first_figure(output) == {"C": 0}
    folded = f"<h2>B</h2><details>{code}</details><img src='figures/b.svg'>"
    assert code_before_first_figure(folded) == {"B": 0}


def test_every_facts_key_is_used_by_a_page(built_site):
    report = build.Report.read(built_site.parent / "report.json")
    unused = {}
    for artifact in artifacts.discover().values():
        if artifact.kind == "facts":
            keys = json.loads(artifacts.produce(artifact)[0])
            unused[artifact.name] = sorted(set(keys) - set(report.facts_used.get(artifact.name, [])))
    assert {group: names for group, names in unused.items() if names} == {}


def test_math_renders_as_mathml(tmp_path):
    config = project_with(tmp_path, {"index.md": "Inline $p_i = e^{z_i/T}$ and\n\n$$\\sum_i p_i = 1$$\n"})
    html = (build_site(tmp_path / "site", config) / "index.html").read_text()
    assert html.count("<math") == 2 and 'display="block"' in html and "<msub>" in html


def build_fails(caplog, site_dir, config, message):
    """The build stops, and what it logged (the one line a reader sees) matches `message`."""
    with pytest.raises(Abort):
        build_site(site_dir, config)
    assert re.search(message, caplog.text), caplog.text


# Failure drills: each provokes a fault and checks the build stops with a message naming it.


@pytest.mark.parametrize(
    "markdown, message",
    [
        ("![x](figures/nope.svg)", r"index.md uses unknown figures/nope.svg: declare it"),
        (
            '```python\n--8<-- "snippets/nope.py"\n```',
            r"index.md includes snippets/nope.py, but .* does not exist",
        ),
        (
            '```python\n--8<-- "snippets/next_token.py:nope"\n```',
            r"index.md includes snippets/next_token.py:nope, but .* has no section '# --8<-- \[start:nope\]'",
        ),
        (
            "```python\n--8<--\nsnippets/nope.py\n--8<--\n```",
            r"index.md includes snippets/nope.py, but .* does not exist",
        ),
        ("{{ nope.key }}", r"index.md uses \{\{ nope.key \}\} but no @facts\(\"nope\"\) is declared"),
        ("{{ home.nope }}", r"index.md uses \{\{ home.nope \}\} but facts 'home' has only: .*top_p"),
    ],
)
def test_a_broken_reference_fails_the_build_naming_page_and_target(tmp_path, caplog, markdown, message):
    config = project_with(tmp_path, {"index.md": markdown})
    build_fails(caplog, tmp_path / "site", config, message)


def test_a_figure_function_that_raises_fails_the_build_naming_both(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv(CACHE_ENV, str(empty_artifact_cache(tmp_path / "cache")))

    def broken():
        raise RuntimeError("drill")

    monkeypatch.setattr(next_token, "next_token_figure", broken)
    config = project_with(tmp_path, {"guide.md": "![alt](figures/next-token.svg)"})
    build_fails(
        caplog,
        tmp_path / "site",
        config,
        r"figures/next-token.svg \(used by guide.md\) failed in "
        r"snippets.next_token.next_token_figure: RuntimeError: drill",
    )
    assert not list((tmp_path / "cache" / "artifacts" / "figures").glob("next-token.svg*"))


def test_a_link_to_a_missing_page_fails_the_strict_build(tmp_path, caplog):
    config = project_with(tmp_path, {"index.md": "[gone](missing.md)"})
    build_fails(
        caplog,
        tmp_path / "site",
        config,
        r"'index.md' contains a link 'missing.md', but the target is not found",
    )


def test_a_notebook_cell_that_raises_fails_the_build(tmp_path, caplog):
    notebook = "# %% [markdown]\n# # Drill\n\n# %%\nraise RuntimeError('this cell fails on purpose')\n"
    config = project_with(tmp_path, {"index.md": "# Home\n", "ascii-diffusion.py": notebook})
    with pytest.raises(Exception, match="this cell fails on purpose"):  # nbclient's CellExecutionError
        build_site(tmp_path / "site", config)
    assert "Error reading page 'ascii-diffusion.py'" in caplog.text  # what `mkdocs build` prints
    assert not (tmp_path / "site" / "ascii-diffusion" / "index.html").exists()


@pytest.mark.parametrize(
    "code, markdown, message",
    [
        (
            "# --8<-- [start:open]\nx = 1\n",
            '```python\n--8<-- "bad.py:open"\n```',
            r"index.md includes bad.py:open, but bad.py:1: section 'open' is never closed",
        ),
        ("x = 1\n", "| a | b |\n|---|---|\n| $P(A|B)$ | 1 |\n", r"index.md: TeX left in the page's text"),
        ("x = 1\n", "$$\n\\foo{x}\n$$\n", r"index.md: cannot render the formula '\\\\foo\{x\}' faithfully"),
    ],
)
def test_broken_code_or_maths_fails_the_build_naming_the_page(tmp_path, caplog, code, markdown, message):
    config = project_with(tmp_path, {"index.md": markdown})
    (tmp_path / "bad.py").write_text(code)
    build_fails(caplog, tmp_path / "site", config, message)


def test_aligned_maths_renders_as_rows(tmp_path):
    config = project_with(
        tmp_path, {"index.md": "$$\n\\begin{aligned} a &= b + c \\\\ d &= e \\end{aligned}\n$$\n"}
    )
    html = (build_site(tmp_path / "site", config) / "index.html").read_text()
    assert html.count("<mtr>") == 2 and "<mi>&amp;</mi>" not in html
