"""The build hook's own logic, beyond what a build exercises."""

import importlib.util
import os
import sys

from conftest import ROOT


def load_hook():
    spec = importlib.util.spec_from_file_location("artifacts_hook", ROOT / "hooks" / "artifacts.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


def test_an_edited_snippet_is_reimported_on_the_next_serve_rebuild(monkeypatch):
    import snippets.next_token

    old = snippets.next_token
    hook = load_hook()
    saved = {name: m for name, m in sys.modules.items() if name.startswith("snippets")}
    for name in saved:
        monkeypatch.setitem(sys.modules, name, saved[name])  # restored after the test
    monkeypatch.setattr(sys.modules["snippets"], "next_token", old)
    hook.on_post_build(config=None)
    hook.forget_edited_snippets()
    assert "snippets.next_token" in sys.modules  # nothing edited: nothing forgotten

    monkeypatch.setattr(old, "__mtime__", os.stat(old.__file__).st_mtime_ns - 1)  # as if edited since
    hook.forget_edited_snippets()
    assert "snippets.next_token" not in sys.modules and "state_simulators.artifacts" in sys.modules
    assert importlib.import_module("snippets.next_token") is not old
