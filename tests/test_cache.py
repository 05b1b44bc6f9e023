import signal
import subprocess
import sys

import pytest

from state_simulators import cache


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv(cache.CACHE_ENV, str(tmp_path))
    assert cache.cache_dir("a", "b") == tmp_path / "a" / "b"
    assert (tmp_path / "a" / "b").is_dir()


def test_cache_dir_defaults_to_the_repo(monkeypatch):
    monkeypatch.delenv(cache.CACHE_ENV, raising=False)
    assert cache.cache_dir() == cache.ROOT / ".cache"


def test_sha256_file(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(b"abc")
    assert cache.sha256_file(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "sub" / "f.txt"
    cache.atomic_write(path, b"one")
    cache.atomic_write(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in path.parent.iterdir()) == ["f.txt"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / "f.txt"
    cache.atomic_write(path, b"old")
    with pytest.raises(TypeError):
        cache.atomic_write(path, "not bytes")
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def test_atomic_folder_replaces_a_complete_folder(tmp_path):
    target = tmp_path / "model"
    cache.atomic_folder(target, lambda tmp: (tmp / "a").write_text("1"))
    cache.atomic_folder(target, lambda tmp: (tmp / "b").write_text("2"))
    assert [p.name for p in target.iterdir()] == ["b"]
    assert [p.name for p in tmp_path.iterdir()] == ["model"]


def test_atomic_folder_interrupted_leaves_nothing_in_place(tmp_path):
    def fill(tmp):
        (tmp / "half").write_text("written")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cache.atomic_folder(tmp_path / "model", fill)
    assert list(tmp_path.iterdir()) == []


KILLED_WRITER = """
import os, sys, time
from pathlib import Path
from state_simulators.cache import atomic_folder, atomic_write

def stall(*args):
    print("filling", flush=True)
    time.sleep(60)

target = Path(sys.argv[1])
if sys.argv[2] == "folder":
    atomic_folder(target, lambda tmp: ((tmp / "weights").write_bytes(b"x" * 1000), stall()))
else:
    os.replace = stall  # killed after the bytes are written, before the rename
    atomic_write(target, b"complete")
"""


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_write_killed_midway_is_never_seen(tmp_path, kind):
    target = tmp_path / "artifact"
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(target), kind], stdout=subprocess.PIPE
    )
    assert writer.stdout.readline() == b"filling\n"
    writer.send_signal(signal.SIGKILL)
    writer.wait()
    assert not target.exists()
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert leftovers and all(
        name.startswith(".artifact.") and name.endswith(".partial") for name in leftovers
    )


@pytest.mark.parametrize("make_bad", ["file", "unwritable"])
def test_a_cache_folder_that_cannot_be_made_is_one_line_naming_the_fix(tmp_path, monkeypatch, make_bad):
    if make_bad == "file":
        (tmp_path / "blocker").write_text("")
        bad = tmp_path / "blocker" / "cache"
    else:
        bad = tmp_path / "cache"
        monkeypatch.setattr(
            cache.Path,
            "mkdir",
            lambda *a, **k: (_ for _ in ()).throw(PermissionError(13, "Permission denied")),
        )
    monkeypatch.setenv(cache.CACHE_ENV, str(bad))
    with pytest.raises(cache.CacheError) as error:
        cache.cache_dir("model")
    message = str(error.value)
    assert message.startswith(f"the cache folder {cache.CACHE_ENV}={bad} cannot be used")
    assert "point STATE_SIMULATORS_CACHE at a writable folder" in message and "\n" not in message


def test_the_commands_report_a_bad_cache_in_one_line(tmp_path):
    (tmp_path / "blocker").write_text("")
    env = {**__import__("os").environ, cache.CACHE_ENV: str(tmp_path / "blocker" / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "snippets", "fetch"], env=env, capture_output=True, text=True
    )
    assert (
        done.returncode == 1
        and done.stderr.startswith("error: the cache folder")
        and done.stderr.count("\n") == 1
    )
