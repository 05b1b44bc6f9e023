import os

from state_simulators import environment
from state_simulators.cache import CACHE_ENV, ROOT


def test_the_offline_variables_are_set_without_overriding(monkeypatch):
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    environment.set_offline()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TOKENIZERS_PARALLELISM"] == "true"


def test_an_offline_environment_adds_to_this_one():
    env = environment.offline_env(EXTRA="x")
    assert env["EXTRA"] == "x" and env["HF_HUB_OFFLINE"] == "1" and env["PATH"] == os.environ["PATH"]


def test_a_copy_of_the_project_builds_like_the_project(tmp_path):
    copy = environment.copy_project(tmp_path / "copy")
    assert sorted(p.name for p in copy.iterdir()) == sorted(environment.PROJECT)
    assert (copy / "snippets" / "next_token.py").read_bytes() == (
        ROOT / "snippets" / "next_token.py"
    ).read_bytes()
    assert not list(copy.rglob("__pycache__"))
    linked = environment.copy_project(tmp_path / "linked", link=True, names=("docs",))
    assert (linked / "docs").resolve() == ROOT / "docs"


def test_an_empty_artifact_cache_shares_only_the_slow_caches(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "real"))
    folder = environment.empty_artifact_cache(tmp_path / "empty", shared=environment.MODEL_CACHES)
    assert sorted(p.name for p in folder.iterdir()) == sorted(environment.MODEL_CACHES)
    assert all((folder / name).resolve() == tmp_path / "real" / name for name in environment.MODEL_CACHES)
    assert environment.with_cache(folder)[CACHE_ENV] == str(folder)
