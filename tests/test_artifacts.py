"""The artifact registry: declarations found without importing, computed once, cached, verified."""

import json
import sys

import pytest

from state_simulators import artifacts, keys

FIGURE_MODULE = """
from state_simulators.artifacts import figure, facts, data
from snippets.plotting import new_figure

@figure("tiny.svg")
def tiny():
    fig, ax = new_figure()
    ax.plot([0, 1], [1, 0])
    return fig

@data("tiny.json", depends=("snippets/table.txt",))
def tiny_data():
    return {"b": 2, "a": [1, 2]}

@facts("tiny", machine_dependent=True)
def tiny_facts():
    return {"answer": "42"}

def helper():  # not an artifact
    return 1
"""


@pytest.fixture
def package(package):
    """The throwaway `snippets/` folder with one module of artifacts."""
    (package / "tiny.py").write_text(FIGURE_MODULE)
    (package / "table.txt").write_text("v1")
    return package


def test_discover_reads_declarations_without_importing(package):
    found = artifacts.discover()
    assert set(found) == {"figures/tiny.svg", "data/tiny.json", "facts/tiny"}
    assert found["data/tiny.json"] == artifacts.Artifact(
        "data", "tiny.json", "snippets.tiny", "tiny_data", ("snippets/table.txt",), line=11
    )
    assert FIGURE_MODULE.splitlines()[11 - 1].startswith('@data("tiny.json"')
    assert found["facts/tiny"].machine_dependent and not found["figures/tiny.svg"].machine_dependent
    assert "snippets.tiny" not in sys.modules


def test_the_real_package_declares_the_home_figure():
    found = artifacts.discover()
    assert found["figures/next-token.svg"].module == "snippets.next_token"
    assert found["facts/home"].function == "home_facts"


def test_a_name_declared_twice_is_an_error(package):
    (package / "copy.py").write_text(FIGURE_MODULE)
    with pytest.raises(artifacts.ArtifactError, match=r"figures/tiny.svg is declared twice"):
        artifacts.discover()


@pytest.mark.parametrize(
    "declaration, what",
    [('@figure("a.svg", depends=FILES)', "depends="), ("@figure(NAME)", "the artifact's name")],
)
def test_a_declaration_that_is_not_a_literal_is_refused_in_one_line(package, declaration, what):
    (package / "named.py").write_text(
        f'FILES = ("x",)\nNAME = "a.svg"\n\n\n{declaration}\ndef f():\n    pass\n'
    )
    with pytest.raises(artifacts.ArtifactError, match=rf"snippets/named.py:5: {what} must be written out"):
        artifacts.discover()


def test_a_name_a_page_cannot_reference_is_refused_at_declaration(package):
    (package / "accents.py").write_text('@figure("año.svg")\ndef f():\n    pass\n')
    with pytest.raises(artifacts.ArtifactError, match=r"snippets/accents.py:1: @figure\('año.svg'\)"):
        artifacts.discover()


def test_produce_computes_once_then_reads_the_cache(package):
    found = artifacts.discover()
    svg, cached = artifacts.produce(found["figures/tiny.svg"])
    assert not cached and svg.startswith(b"<?xml") and b"<svg" in svg
    assert artifacts.produce(found["figures/tiny.svg"]) == (svg, True)
    content, _ = artifacts.produce(found["data/tiny.json"])
    assert json.loads(content) == {"a": [1, 2], "b": 2}
    assert json.loads(artifacts.produce(found["facts/tiny"])[0]) == {"answer": "42"}


def test_a_changed_input_adds_a_version_and_old_ones_are_pruned_by_use(package):
    tiny = artifacts.discover()["data/tiny.json"]
    for version in range(keys.KEEP + 2):
        (package / "table.txt").write_text(f"v{version}")
        assert not artifacts.produce(tiny)[1]
    kept = list(artifacts.cached_path(tiny).parent.glob("tiny.json.*"))
    assert len(kept) == keys.KEEP and artifacts.cached_path(tiny) in kept


def test_a_module_edited_after_its_import_is_read_again_before_it_computes(package):
    facts = artifacts.discover()["facts/tiny"]
    assert json.loads(artifacts.produce(facts)[0]) == {"answer": "42"}  # imported and stamped
    module = package / "tiny.py"
    module.write_text(FIGURE_MODULE.replace('"42"', '"43"'))  # saved while the process lives
    assert json.loads(artifacts.produce(facts)[0]) == {"answer": "43"}  # not the stale "42"
    assert json.loads(artifacts.cached_path(facts).read_text()) == {"answer": "43"}


def edit_while_rendering(package, monkeypatch) -> None:
    """From now on, the module is edited (saved again) while each artifact is being computed."""
    render = artifacts.render

    def edited_meanwhile(artifact):
        content = render(artifact)
        (package / "tiny.py").write_text(FIGURE_MODULE + "\n\ndef later():\n    return 2\n")
        return content

    monkeypatch.setattr(artifacts, "render", edited_meanwhile)


def test_a_result_whose_code_changed_while_it_ran_is_shown_but_not_cached(package, monkeypatch):
    facts = artifacts.discover()["facts/tiny"]
    edit_while_rendering(package, monkeypatch)
    before = artifacts.cached_path(facts)
    assert artifacts.produce(facts) == (b'{\n "answer": "42"\n}', False)
    assert not before.exists() and not artifacts.cached_path(facts).exists()


def test_a_figure_is_cached_with_the_numbers_it_plots(package):
    tiny = artifacts.discover()["figures/tiny.svg"]
    svg, _ = artifacts.produce(tiny)
    plotted = json.loads(artifacts.figure_bytes(tiny))
    assert plotted["axes"][0]["lines"][0]["y"] == [1, 0]
    assert svg == artifacts.compute(tiny)  # what an independent recompute checks: the SVG
    # an entry whose data went missing is computed again, not served without it
    artifacts.data_path(tiny).unlink()
    assert artifacts.produce(tiny) == (svg, False)
    assert artifacts.data_path(tiny).exists()
    assert artifacts.produce(artifacts.discover()["data/tiny.json"])[1] is False
    assert not artifacts.data_path(artifacts.discover()["data/tiny.json"]).exists()


def test_a_figure_whose_code_changed_while_it_ran_has_no_data_to_serve(package, monkeypatch):
    tiny = artifacts.discover()["figures/tiny.svg"]
    edit_while_rendering(package, monkeypatch)
    with pytest.raises(artifacts.ArtifactError, match="changed while it was computed; build again"):
        artifacts.figure_bytes(tiny)


def test_the_cache_key_covers_the_compute_step(package, monkeypatch):
    tiny = artifacts.discover()["figures/tiny.svg"]
    key = artifacts.cache_key(tiny)
    monkeypatch.setattr(artifacts, "compute_source", lambda: "def compute(): changed")
    assert artifacts.cache_key(tiny) != key


def test_verification_is_a_stamp_beside_the_entry(package):
    found = artifacts.discover()
    figure = found["figures/tiny.svg"]
    artifacts.produce(figure)
    assert not artifacts.is_verified(figure)
    artifacts.verified_path(figure).write_text("")
    assert artifacts.is_verified(figure)
    assert artifacts.is_verified(found["facts/tiny"])  # machine-dependent: exempt


def test_switching_models_back_and_forth_recomputes_nothing_twice(package, monkeypatch):
    from state_simulators import model

    figure = artifacts.discover()["figures/tiny.svg"]
    cached = []
    for name in ("embedded", "another", "embedded", "another"):
        monkeypatch.setattr(model, "fingerprint", lambda name=name: name)
        cached.append(artifacts.produce(figure)[1])
    assert cached == [False, False, True, True]  # the other model's entry was not pruned
