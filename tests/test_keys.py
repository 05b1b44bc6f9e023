"""One key for every cached result: the import closure of its code, data files, model, libraries."""

import os
import time

import pytest

from state_simulators import keys, model, sources
from test_artifacts import FIGURE_MODULE


@pytest.fixture
def package(package):
    (package / "tiny.py").write_text(FIGURE_MODULE)
    (package / "table.txt").write_text("v1")
    return package


def test_the_key_covers_imported_sources_data_files_and_the_model(package, monkeypatch):
    closure = {p.name for p in sources.source_closure("snippets.tiny")}
    assert closure == {"tiny.py", "plotting.py"}  # the machinery is not in snippets/: never a recipe
    key = keys.dependency_key("t", ["snippets.tiny"], ("snippets/table.txt",))
    assert keys.dependency_key("t", ["snippets.tiny"], ("snippets/table.txt",)) == key
    (package / "table.txt").write_text("v2")
    assert keys.dependency_key("t", ["snippets.tiny"], ("snippets/table.txt",)) != key
    key = keys.dependency_key("t", ["snippets.tiny"])
    (package / "plotting.py").write_text((package / "plotting.py").read_text() + "\n# restyled\n")
    assert keys.dependency_key("t", ["snippets.tiny"]) == key  # a comment is not code
    monkeypatch.setattr(model, "fingerprint", lambda: "another model")
    assert keys.dependency_key("t", ["snippets.tiny"]) != key
    assert keys.dependency_key("t", ["snippets.tiny"], model=False) == keys.dependency_key(
        "t", ["snippets.tiny"], model=False
    )


def test_editing_a_module_imported_indirectly_changes_the_key(package):
    (package / "step.py").write_text("from snippets import middle\n")
    (package / "middle.py").write_text("from .leaf import VALUE\n")  # a relative import
    (package / "leaf.py").write_text("VALUE = 1\n")
    key = keys.dependency_key("step", ["snippets.step"], model=False)
    (package / "leaf.py").write_text("VALUE = 2\n")
    assert keys.dependency_key("step", ["snippets.step"], model=False) != key


def test_imports_are_followed_in_every_spelling(package):
    (package / "a.py").write_text("import snippets.b\nfrom snippets import c\nimport os\n")
    (package / "b.py").write_text("from snippets.d import thing\n")
    (package / "c.py").write_text("")
    (package / "d.py").write_text("thing = 1\n")
    (package / "sub").mkdir()
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "e.py").write_text("from ..c import x\nfrom . import f\n")
    (package / "sub" / "f.py").write_text("")
    assert [p.name for p in sources.source_closure("snippets.a")] == ["a.py", "b.py", "c.py", "d.py"]
    assert [p.name for p in sources.source_closure("snippets.sub.e")] == [
        "c.py",
        "__init__.py",
        "e.py",
        "f.py",
    ]


def test_comments_layout_and_the_main_block_do_not_count(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text("def f(x):\n    return x + 1\n")
    noisy = tmp_path / "noisy.py"
    noisy.write_text(
        "def f( x ):  # why\n\n    return (x\n            + 1)\n\n\n"
        'if __name__ == "__main__":\n    print(f(1))\n'
    )
    changed = tmp_path / "changed.py"
    changed.write_text("def f(x):\n    return x + 2\n")
    plain, noisy, changed = (sources.code_dump(p) for p in (plain, noisy, changed))
    assert plain == noisy != changed


def test_a_step_keeps_its_most_recently_used_versions(package):
    def step(version: int):
        (package / "table.txt").write_text(f"v{version}")
        return keys.step_path("steps", "result", ["snippets.tiny"], files=("snippets/table.txt",))

    paths = []
    for version in range(keys.KEEP):
        paths.append(step(version))
        paths[-1].write_text(str(version))
        os.utime(paths[-1], (time.time() - 100 + version,) * 2)
    assert step(0) == paths[0]  # used again: now the most recent
    for version in range(keys.KEEP, keys.KEEP + 2):
        step(version).write_text(str(version))
    # each new version prunes before it is written: KEEP older ones and the newest stay
    assert paths[0].exists() and not paths[1].exists() and paths[2].exists()
    assert len(list(paths[0].parent.iterdir())) == keys.KEEP + 1


@pytest.mark.parametrize("name", ["result.0123456789abcdef0123.json", "result.0123456789abcdef0123"])
def test_prune_recognises_versions_only(tmp_path, name):
    (tmp_path / name).write_text("")
    (tmp_path / "result.svg.0123456789abcdef0123").write_text("")  # another label's
    assert keys.prune(tmp_path, "result", keep=0) == [tmp_path / name]


def test_a_package_and_its_relative_imports_have_module_names(package):
    (package / "sub").mkdir()
    (package / "sub" / "__init__.py").write_text("from . import leaf\n")
    (package / "sub" / "leaf.py").write_text("")
    assert sources.module_name(package / "sub" / "__init__.py") == "snippets.sub"
    assert [p.name for p in sources.source_closure("snippets.sub")] == ["__init__.py", "leaf.py"]


def test_prune_removes_folder_versions_and_their_stamps(tmp_path):
    old, new = tmp_path / "model.0123456789abcdef0123", tmp_path / "model.abcdefabcdefabcdefab"
    for folder in (old, new):
        (folder / "weights").mkdir(parents=True)
    (tmp_path / f"{old.name}.verified").write_text("")
    os.utime(old, (1, 1))
    assert keys.prune(tmp_path, "model", keep=1) == [old]
    assert sorted(p.name for p in tmp_path.iterdir()) == [new.name]


def test_cached_arrays_computes_once_and_always_returns_what_is_stored(tmp_path):
    import numpy as np

    runs = []
    path = tmp_path / "step.abc.npz"

    def compute():
        runs.append(1)
        return {"ints": np.arange(3), "words": np.array(["a", "b"])}

    first = keys.cached_arrays(path, compute)
    again = keys.cached_arrays(path, compute)
    assert runs == [1] and path.exists()
    assert first.keys() == again.keys() == {"ints", "words"}
    assert np.array_equal(again["ints"], np.arange(3)) and list(first["words"]) == ["a", "b"]
