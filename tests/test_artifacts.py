import json
import shutil
import sys

import pytest

import snippets
from snippets import artifacts, model
from snippets.cache import CACHE_ENV

FIGURE_MODULE = """
from snippets.artifacts import figure, facts, data
from snippets.plotting import new_figure

@figure("tiny.svg")
def tiny():
    fig, ax = new_figure()
    ax.plot([0, 1], [1, 0])
    return fig

@data("tiny.json", depends=("snippets/table.txt",))
def tiny_data():
    return {"b": 2, "a": [1, 2]}

@facts("tiny")
def tiny_facts():
    return {"answer": "42"}

def helper():  # not an artifact
    return 1
"""


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A throwaway copy of the snippets package layout, with one module of artifacts."""
    root = tmp_path / "repo"
    pkg = root / "snippets"
    pkg.mkdir(parents=True)
    for name in ("__init__.py", "artifacts.py", "plotting.py", "cache.py", "model.py"):
        shutil.copy(artifacts.PACKAGE / name, pkg / name)
    (pkg / "tiny.py").write_text(FIGURE_MODULE)
    (pkg / "table.txt").write_text("v1")
    monkeypatch.setattr(artifacts, "PACKAGE", pkg)
    monkeypatch.setattr(snippets, "__path__", [str(pkg), *snippets.__path__])  # import snippets.tiny
    monkeypatch.delitem(sys.modules, "snippets.tiny", raising=False)
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return pkg


def test_discover_reads_declarations_without_importing(package):
    found = artifacts.discover()
    assert set(found) == {"figures/tiny.svg", "data/tiny.json", "facts/tiny"}
    assert found["data/tiny.json"] == artifacts.Artifact(
        "data", "tiny.json", "snippets.tiny", "tiny_data", ("snippets/table.txt",)
    )


def test_the_real_package_declares_the_home_figure():
    found = artifacts.discover()
    assert found["figures/next-token.svg"].module == "snippets.next_token"
    assert found["facts/home"].function == "home_facts"


def test_a_name_declared_twice_is_an_error(package):
    (package / "copy.py").write_text(FIGURE_MODULE)
    with pytest.raises(artifacts.ArtifactError, match=r"figures/tiny.svg is declared twice"):
        artifacts.discover()


def test_the_key_covers_imported_sources_data_files_and_the_model(package, monkeypatch):
    tiny = artifacts.discover()["data/tiny.json"]
    closure = {p.name for p in artifacts.source_closure("snippets.tiny")}
    assert closure == {"tiny.py", "plotting.py"}  # the build's own machinery is not a recipe
    key = artifacts.cache_key(tiny)
    assert artifacts.cache_key(tiny) == key
    (package / "table.txt").write_text("v2")
    assert artifacts.cache_key(tiny) != key
    key = artifacts.cache_key(tiny)
    (package / "plotting.py").write_text((package / "plotting.py").read_text() + "\n# restyled\n")
    assert artifacts.cache_key(tiny) == key  # a comment is not code
    (package / "plotting.py").write_text((package / "plotting.py").read_text() + "\nSTYLE = 2\n")
    assert artifacts.cache_key(tiny) != key  # an imported module changed
    key = artifacts.cache_key(tiny)
    monkeypatch.setattr(model, "fingerprint", lambda: "another model")
    assert artifacts.cache_key(tiny) != key


def test_imports_are_followed_in_every_spelling(package):
    (package / "a.py").write_text("import snippets.b\nfrom snippets import c\nimport os\n")
    (package / "b.py").write_text("from snippets.d import thing\n")
    (package / "c.py").write_text("")
    (package / "d.py").write_text("thing = 1\n")
    assert [p.name for p in artifacts.source_closure("snippets.a")] == ["a.py", "b.py", "c.py", "d.py"]


def test_produce_computes_once_then_reads_the_cache(package, monkeypatch):
    found = artifacts.discover()
    svg, cached = artifacts.produce(found["figures/tiny.svg"])
    assert not cached and svg.startswith(b"<?xml") and b"<svg" in svg
    assert artifacts.produce(found["figures/tiny.svg"]) == (svg, True)
    content, _ = artifacts.produce(found["data/tiny.json"])
    assert json.loads(content) == {"a": [1, 2], "b": 2}
    assert json.loads(artifacts.produce(found["facts/tiny"])[0]) == {"answer": "42"}


def test_a_changed_input_replaces_the_stale_entry(package, monkeypatch):
    tiny = artifacts.discover()["data/tiny.json"]
    artifacts.produce(tiny)
    (package / "table.txt").write_text("v2")
    _, cached = artifacts.produce(tiny)
    assert not cached
    assert len(list(artifacts.cached_path(tiny).parent.glob("tiny.json.*"))) == 1
