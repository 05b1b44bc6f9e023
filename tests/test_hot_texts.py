"""The high-temperature texts of docs/sampling.md: one seeded batch, trimmed at end-of-text, cached."""

import json

from conftest import twice_as_two_processes
from snippets import continuations, hot_texts
from snippets.sampling import Samplers
from tests.other_models import tiny_lm


def test_the_plan_crosses_every_prompt_setting_and_sample():
    plan = hot_texts.plan()
    assert len(plan) == len(hot_texts.PROMPTS) * len(hot_texts.SETTINGS) * hot_texts.SAMPLES
    assert len(set(plan)) == len(plan)
    assert len(hot_texts.PROMPTS) >= 5 and hot_texts.SAMPLES >= 20
    assert [s.cuts for s in hot_texts.SETTINGS] == ["no cut", "top-p 0.9", "min-p 0.1"]
    assert {s.temperature for s in hot_texts.SETTINGS} == {hot_texts.HOT}


def test_generate_runs_on_any_causal_lm(lm, monkeypatch):
    tiny = tiny_lm("gpt2", lm.tokenizer)
    monkeypatch.setattr(hot_texts, "PROMPTS", ("The cat", "Once upon a time"))
    monkeypatch.setattr(hot_texts, "SAMPLES", 2)
    monkeypatch.setattr(hot_texts, "NEW_TOKENS", 5)
    rows = hot_texts.generate(tiny)
    assert len(rows) == len(hot_texts.plan()) == 12
    for row in rows:
        assert len(row["ids"]) <= 5
        assert len(row["log_probs"]) == len(row["ids"]) and all(v <= 0 for v in row["log_probs"])
        assert row["text"] == tiny.tokenizer.decode(row["ids"])
        assert tiny.tokenizer.eos_token_id not in row["ids"]


def test_a_text_ends_at_end_of_text(lm, monkeypatch):
    eos = lm.tokenizer.eos_token_id
    drawn = [([5, 6, eos, 7], [-1.0, -2.0, -3.0, -4.0]), ([5, 6], [-1.0, -2.0])]
    monkeypatch.setattr(continuations, "continue_batch", lambda rows, new, lm: drawn)
    monkeypatch.setattr(hot_texts, "plan", lambda: [("a", Samplers(), 0), ("b", Samplers(), 0)])
    rows = hot_texts.generate(lm)
    assert [r["ids"] for r in rows] == [[5, 6], [5, 6]]
    assert [r["log_probs"] for r in rows] == [[-1.0, -2.0], [-1.0, -2.0]]


def test_texts_are_generated_once_then_read(lm, monkeypatch, tmp_path):
    plan = [("a", Samplers(), 0), ("a", Samplers(2.0), 1)]
    calls = []

    def generate(model):
        calls.append(model)
        return [{"ids": [i, i + 1], "text": f"x{i}", "log_probs": [-0.5, -1.5]} for i in range(2)]

    monkeypatch.setattr(hot_texts, "plan", lambda: plan)
    monkeypatch.setattr(hot_texts, "generate", generate)
    monkeypatch.setattr(hot_texts, "path", lambda: tmp_path / "texts.json")
    first, again = twice_as_two_processes(hot_texts.texts)
    assert again == first and len(calls) == 1
    assert len(json.loads((tmp_path / "texts.json").read_text())) == 2
    assert first[1] == hot_texts.Text("a", Samplers(2.0), 1, (1, 2), "x1", (-0.5, -1.5))


def test_the_cached_texts_are_the_models(lm):
    texts = hot_texts.texts()
    assert hot_texts.path().exists()
    assert [(t.prompt, t.setting, t.sample) for t in texts] == hot_texts.plan()
    for t in texts:
        assert len(t.log_probs) == len(t.token_ids) <= hot_texts.NEW_TOKENS
        assert t.text == lm.tokenizer.decode(list(t.token_ids))
