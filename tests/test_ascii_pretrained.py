"""The pretrained model in context: per-row temperatures, batched generation, the run cache."""

import json
import shutil
from pathlib import Path

import pytest
import torch
import transformers

from snippets.ascii import pretrained as ap
from snippets.ascii.canvas import Recipe, held_out_sequence, hopeless, one_thread, prompt_text
from state_simulators import model as language_model

TINY = Recipe(sizes=((4, 2), (6, 3)), noise=(0.5, 0.0), context=1)
PROMPTS = ["The capital of France is", "Once upon a time, there was a little"]
ROOMY = (200, 10)  # a canvas size for which plain prose is never hopeless


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_SIMULATORS_CACHE", str(tmp_path))
    return tmp_path / "ascii-diffusion"


def test_row_temperatures_divide_each_row_and_greedy_keeps_the_top_token():
    scores = torch.tensor([[1.0, 3.0, 2.0], [1.0, 3.0, 2.0]])
    out = ap.RowTemperatures([0.5, None])(None, scores)
    assert out[0].tolist() == [2.0, 6.0, 4.0]
    assert out[1].tolist() == [float("-inf"), 0.0, float("-inf")]


@one_thread()
def library_ids(lm, prompts=PROMPTS, max_new_tokens=8, **sampling) -> list[list[int]]:
    """The new tokens of transformers' generate with its own temperature handling, for comparison."""
    batch = lm.tokenizer(prompts, return_tensors="pt", padding=True, padding_side="left")
    transformers.set_seed(3)
    with torch.no_grad():
        out = lm.model.generate(
            **batch, max_new_tokens=max_new_tokens, pad_token_id=lm.tokenizer.eos_token_id, **sampling
        )
    return out[:, batch.input_ids.shape[1] :].tolist()


def library_generate(lm, prompts=PROMPTS, max_new_tokens=8, **sampling) -> list[str]:
    ids = library_ids(lm, prompts, max_new_tokens, **sampling)
    return [lm.tokenizer.decode(row, skip_special_tokens=True) for row in ids]


def test_per_row_temperature_is_the_library_s_temperature(lm):
    ours = ap.continue_sequences(PROMPTS, [0.7, 0.7], 8, ROOMY, lm, seed=3)
    assert ours == library_generate(lm, do_sample=True, temperature=0.7, top_k=0, top_p=1.0)


def test_a_greedy_row_is_greedy_decoding(lm):
    ours = ap.continue_sequences(PROMPTS, [None, None], 8, ROOMY, lm, seed=3)
    assert ours == library_generate(lm, do_sample=False)


def test_writing_chunk_by_chunk_is_one_long_generate_while_every_row_writes_on(lm, monkeypatch):
    calls = []
    generate = lm.model.generate
    monkeypatch.setattr(lm.model, "generate", lambda **kw: calls.append(kw) or generate(**kw))
    ours = ap.continue_sequences(PROMPTS, [0.7, 0.7], 2 * ap.CHUNK, ROOMY, lm, seed=3)
    assert [c["max_new_tokens"] for c in calls] == [ap.CHUNK] * 2
    monkeypatch.undo()
    sampling = {"do_sample": True, "temperature": 0.7, "top_k": 0, "top_p": 1.0}
    assert ours == library_generate(lm, max_new_tokens=2 * ap.CHUNK, **sampling)


def test_a_row_that_stops_leaves_the_batch_and_the_others_write_on_unchanged(lm, monkeypatch):
    alone = library_generate(lm, max_new_tokens=2 * ap.CHUNK, do_sample=False)
    stop = alone[0][:5]  # a rule that ends the first row after its first few characters
    assert stop and not alone[1].startswith(stop)
    canvas_done = ap.CanvasDone.done
    monkeypatch.setattr(ap.CanvasDone, "done", lambda self, t: t.startswith(stop) or canvas_done(self, t))
    ours = ap.continue_sequences(PROMPTS, [None, None], 2 * ap.CHUNK, ROOMY, lm)
    assert ours[0].startswith(stop) and alone[0].startswith(ours[0])
    assert len(lm.tokenizer(ours[0], add_special_tokens=False).input_ids) < ap.CHUNK
    assert ours[1] == alone[1]


def test_a_row_gives_up_as_soon_as_its_canvas_is_hopeless(lm):
    [text] = ap.continue_sequences(PROMPTS[:1], [None], 30, (3, 1), lm)
    [ids] = library_ids(lm, PROMPTS[:1], 30, do_sample=False)
    texts = [lm.tokenizer.decode(ids[:n], skip_special_tokens=True) for n in range(1, 31)]
    first = next(t for t in texts if hopeless(t, 3, 1) or ap.FENCE in t)  # for any model
    assert text == first != texts[-1]


@pytest.mark.claim
def test_smollm2_closes_a_code_block_at_once_and_leaves_the_batch(lm):
    prompts = ["Here is the code:\n```python\nprint('hello')\n", PROMPTS[1]]
    ours = ap.continue_sequences(prompts, [None, None], 2 * ap.CHUNK, ROOMY, lm)
    alone = library_generate(lm, prompts, max_new_tokens=2 * ap.CHUNK, do_sample=False)
    assert ours[0] == ap.FENCE and alone[0].startswith(ap.FENCE + "\n")  # it stops at once
    assert ours[1] == alone[1] and len(lm.tokenizer(ours[1]).input_ids) == 2 * ap.CHUNK


@pytest.mark.claim
def test_a_row_that_draws_end_of_text_stops_there(lm):
    chat = ["<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n"]
    [text] = ap.continue_sequences(chat, [None], 4 * ap.CHUNK, ROOMY, lm)
    assert ap.CHUNK < len(lm.tokenizer(text).input_ids) < 3 * ap.CHUNK  # a later chunk
    assert [text] == library_generate(lm, chat, max_new_tokens=4 * ap.CHUNK, do_sample=False)


def test_the_token_budget_gives_half_as_much_again_as_the_target(lm):
    target = "\n".join(held_out_sequence(TINY, 0).clean[1]) + "\n```"
    assert ap.token_budget(TINY, lm) == 3 * len(lm.tokenizer(target).input_ids) // 2


def test_runs_are_generated_once_then_read_from_the_cache(lm, cache):
    runs = ap.pretrained_runs(TINY, temperatures=(1.0, None), seeds=(0, 1), lm=lm)
    assert [(r.decoding, r.seed) for r in runs] == [("T = 1", 0), ("T = 1", 1), ("greedy", 0), ("greedy", 1)]
    assert all(r.model == lm.name for r in runs)
    [path] = cache.glob("pretrained-*.json")
    assert json.loads(path.read_text())["model"] == lm.name
    assert ap.pretrained_runs(TINY, temperatures=(1.0, None), seeds=(0, 1)) == runs


def test_the_cache_follows_the_recipe_the_runs_and_the_language_model(cache, monkeypatch):
    path = ap.runs_path(TINY, (1.0,), (0,))
    assert path == ap.runs_path(TINY, (1.0,), (0,)) and path.parent == cache
    others = {
        ap.runs_path(TINY, (0.7,), (0,)),
        ap.runs_path(TINY, (1.0,), (1,)),
        ap.runs_path(Recipe(), (1.0,), (0,)),
    }
    assert path not in others and len(others) == 3
    monkeypatch.setattr(language_model, "fingerprint", lambda: "another language model")
    assert ap.runs_path(TINY, (1.0,), (0,)) != path


def test_editing_code_the_generation_imports_indirectly_changes_its_cache(package):
    shutil.copytree(Path(ap.__file__).parent, package / "ascii", ignore=shutil.ignore_patterns("__pycache__"))
    path = ap.runs_path(TINY, (1.0,), (0,))
    canvas = package / "ascii" / "canvas.py"  # pretrained imports it; nobody names it
    canvas.write_text(canvas.read_text() + "\n# a comment is not code\n")
    assert ap.runs_path(TINY, (1.0,), (0,)) == path
    canvas.write_text(canvas.read_text().replace('TITLE = "ASCII art', 'TITLE = "ASCII drawings'))
    assert ap.runs_path(TINY, (1.0,), (0,)) != path


def test_token_pieces_cut_the_text_where_the_tokenizer_does(lm):
    row = "%@@@@@#=--=-==-=+---========"
    pieces = ap.token_pieces(row, lm.tokenizer)
    assert "".join(pieces) == row
    assert len(pieces) == len(lm.tokenizer(row, add_special_tokens=False).input_ids)


@pytest.mark.claim
def test_smollm2_reads_a_run_of_a_character_as_one_token(lm):
    assert ap.token_pieces("========", lm.tokenizer) == ["========"]
    assert len(ap.token_pieces("%@@@@@#=--=-==-=+---========", lm.tokenizer)) < 28 / 1.5


def test_the_chat_prompt_wraps_the_steps_and_opens_the_answer_with_the_next_step(lm):
    sequence = held_out_sequence(TINY, 0)
    prompt = ap.chat_prompt(sequence, lm.tokenizer)
    plain = prompt_text(sequence)
    if lm.tokenizer.chat_template is None:  # another model may have none
        assert prompt is None
        return
    assert prompt.endswith("Step 2:\n```\n") and plain.endswith("Step 2:\n```\n")
    assert plain.removesuffix("Step 2:\n```\n") in prompt  # the title and steps, unchanged
    assert "Write step 2" in prompt


class NoTemplate:
    chat_template = None


def test_a_model_without_a_chat_template_gets_no_chat_runs(lm, cache, monkeypatch):
    assert ap.chat_prompt(held_out_sequence(TINY, 0), NoTemplate()) is None
    monkeypatch.setattr(ap, "chat_prompt", lambda sequence, tokenizer: None)
    assert ap.chat_runs(TINY, temperatures=(None,), seeds=(0,), lm=lm) == []
    [path] = cache.glob("chat-*.json")
    assert json.loads(path.read_text())["texts"] is None
    assert ap.chat_runs(TINY, temperatures=(None,), seeds=(0,), lm=lm) == []  # from the cache


def test_chat_runs_are_generated_with_the_template_and_named_apart(lm, cache):
    if lm.tokenizer.chat_template is None:
        pytest.skip("the configured model has no chat template")
    runs = ap.chat_runs(TINY, temperatures=(None,), seeds=(0,), lm=lm)
    assert [(r.decoding, r.seed) for r in runs] == [("greedy", 0)]
    assert runs[0].model == f"{lm.name}, chat template"
    prompt = ap.chat_prompt(held_out_sequence(TINY, 0), lm.tokenizer)
    budget = ap.token_budget(TINY, lm)
    [text] = ap.continue_sequences([prompt], [None], budget, TINY.sizes[1], lm)
    assert runs[0].text == text
