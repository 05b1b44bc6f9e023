"""The pretrained model in context: per-row temperatures, batched generation, the run cache."""

import json

import pytest
import torch
import transformers

from snippets import ascii_pretrained as ap
from snippets.ascii_canvas import Recipe, held_out_sequence, hopeless, one_thread

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
def library_generate(lm, prompts=PROMPTS, max_new_tokens=8, **sampling):
    """transformers' generate with its own temperature handling, for comparison."""
    lm.tokenizer.padding_side = "left"
    batch = lm.tokenizer(prompts, return_tensors="pt", padding=True)
    transformers.set_seed(3)
    with torch.no_grad():
        out = lm.model.generate(
            **batch, max_new_tokens=max_new_tokens, pad_token_id=lm.tokenizer.eos_token_id, **sampling
        )
    return [lm.tokenizer.decode(row, skip_special_tokens=True) for row in out[:, batch.input_ids.shape[1] :]]


def test_per_row_temperature_is_the_library_s_temperature(lm):
    ours = ap.continue_sequences(PROMPTS, [0.7, 0.7], 8, ROOMY, lm, seed=3)
    assert ours == library_generate(lm, do_sample=True, temperature=0.7, top_k=0, top_p=1.0)


def test_a_greedy_row_is_greedy_decoding(lm):
    ours = ap.continue_sequences(PROMPTS, [None, None], 8, ROOMY, lm, seed=3)
    assert ours == library_generate(lm, do_sample=False)
    assert ours[0].startswith(" Paris")


def test_writing_chunk_by_chunk_is_one_long_generate_while_every_row_writes_on(lm, monkeypatch):
    calls = []
    generate = lm.model.generate
    monkeypatch.setattr(lm.model, "generate", lambda **kw: calls.append(kw) or generate(**kw))
    ours = ap.continue_sequences(PROMPTS, [0.7, 0.7], 2 * ap.CHUNK, ROOMY, lm, seed=3)
    assert [c["max_new_tokens"] for c in calls] == [ap.CHUNK] * 2
    monkeypatch.undo()
    sampling = {"do_sample": True, "temperature": 0.7, "top_k": 0, "top_p": 1.0}
    assert ours == library_generate(lm, max_new_tokens=2 * ap.CHUNK, **sampling)


def test_a_row_that_stops_leaves_the_batch_and_the_others_write_on_unchanged(lm):
    prompts = ["Here is the code:\n```python\nprint('hello')\n", PROMPTS[1]]
    ours = ap.continue_sequences(prompts, [None, None], 2 * ap.CHUNK, ROOMY, lm)
    alone = library_generate(lm, prompts, max_new_tokens=2 * ap.CHUNK, do_sample=False)
    assert ours[0] == ap.FENCE and alone[0].startswith(ap.FENCE + "\n")  # it stops at once
    assert ours[1] == alone[1] and len(lm.tokenizer(ours[1]).input_ids) == 2 * ap.CHUNK


def test_a_row_that_draws_end_of_text_stops_there(lm):
    chat = ["<|im_start|>user\nSay hi.<|im_end|>\n<|im_start|>assistant\n"]
    [text] = ap.continue_sequences(chat, [None], 4 * ap.CHUNK, ROOMY, lm)
    assert ap.CHUNK < len(lm.tokenizer(text).input_ids) < 3 * ap.CHUNK  # a later chunk
    assert [text] == library_generate(lm, chat, max_new_tokens=4 * ap.CHUNK, do_sample=False)


def test_a_row_gives_up_once_its_canvas_is_hopeless(lm):
    [text] = ap.continue_sequences(PROMPTS[:1], [None], 30, (3, 1), lm)
    assert hopeless(text, 3, 1) == "a row > 6 chars"
    assert len(lm.tokenizer(text).input_ids) < 10  # stopped long before its 30 tokens


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


def test_the_cache_key_follows_the_recipe_and_the_runs():
    key = ap.cache_key(TINY, (1.0,), (0,))
    assert key == ap.cache_key(TINY, (1.0,), (0,))
    assert (
        len(
            {
                key,
                ap.cache_key(TINY, (0.7,), (0,)),
                ap.cache_key(TINY, (1.0,), (1,)),
                ap.cache_key(Recipe(), (1.0,), (0,)),
            }
        )
        == 4
    )
