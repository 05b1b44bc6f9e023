"""The tiny model: its text and places, the model, a short training run, its cache, generation."""

import io
import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

from snippets.ascii import tiny_model as tm
from snippets.ascii.canvas import TEST_PICTURE, Recipe, held_out_sequence
from snippets.ascii.tiny_model import NEWLINE, Config, Places, TinyModel
from state_simulators import model as language_model

SMALL = Recipe(sizes=((4, 2), (6, 3), (8, 4)), noise=(0.5, 0.25, 0.0), context=2)
CONFIG = Config(width=16, heads=2, layers=1, steps=3, batch=2)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_SIMULATORS_CACHE", str(tmp_path))
    return tmp_path / "ascii-diffusion"


def small_sequence(seed: int = 0):
    return held_out_sequence(SMALL, seed)


def test_text_round_trip_and_layout():
    sequence = small_sequence()
    text = tm.sequence_text(sequence)
    assert tm.decode(tm.encode(text)) == text
    assert text.split("\n\n")[:-1] == ["\n".join(canvas) for canvas in sequence.noisy]
    assert tm.sequence_text(sequence, 1) == "\n".join(sequence.noisy[0]) + "\n\n"
    assert tm.canvas_of("ab\ncd\n\nef\n") == ["ab", "cd"]
    assert tm.canvas_of("\n\n") == [] and tm.canvas_of("") == []


def test_places_follow_rows_and_canvases():
    ids = tm.encode("ab\ncd\n\nxyz\n")
    own, following = tm.places(ids, Recipe(sizes=((2, 2), (3, 1)), noise=(0.5, 0), context=1))
    assert own[0] == (0, 0.25, 0.25) and following[0] == (0, 0.75, 0.25)  # a → b
    assert following[2] == (0, 0.25, 0.75)  # the newline after "ab": next row starts
    assert own[6] == (0, 0.25, 1.25) and following[6] == (1, 0.5 / 3, 0.5)  # blank line
    assert following[-1] == (1, 0.5 / 3, 1.5)  # after the last row: below the canvas


def test_places_past_the_last_canvas_keep_its_size():
    walker = Places(SMALL)
    for _ in range(5):
        walker.advance(NEWLINE)
    assert walker.step == 5 and walker.here() == (2, 0.5 / 8, 0.5 / 4)  # five blank lines


def test_place_features_flag_the_ends_of_rows_and_canvases():
    features = tm.place_features(torch.tensor([[0.0, 0.5, 0.5], [0.0, 1.1, 1.2]]))
    assert features.shape == (2, 4 * tm.FREQUENCIES + 2)
    assert features[0, -2:].tolist() == [0, 0] and features[1, -2:].tolist() == [1, 1]


def model_and_batch(seed=0):
    torch.manual_seed(seed)
    model = TinyModel(CONFIG, SMALL).eval()
    texts = [tm.sequence_text(small_sequence(s)) for s in (0, 1)]
    return model, tm.batch_tensors(texts, SMALL)


def test_attention_is_biased_toward_the_same_place_and_never_sees_the_future():
    model = TinyModel(Config(width=16, heads=4, layers=1), SMALL)
    query = torch.tensor([[[1, 0.5, 0.5], [1, 0.1, 0.1]]])
    key = torch.tensor([[[0, 0.5, 0.5], [0, 0.9, 0.9]]])
    bias = model.bias(query, key)
    assert bias.shape == (1, 4, 2, 2)
    assert torch.all(bias[0, 0, 1] == 0)  # head 0 looks everywhere alike
    assert bias[0, 3, 1, 0] > bias[0, 3, 1, 1]  # a sharp head prefers the nearer place
    assert bias[0, 3, 0, 1] == float("-inf")  # the first token cannot see the second


def test_a_layout_s_bias_is_computed_once_and_is_the_bias():
    model, (_, own, following) = model_and_batch()
    first = model.layout_bias(following[:1], own[:1], 0)
    assert torch.equal(first, model.bias(following[:1], own[:1], 0))
    assert model.layout_bias(following[:1].clone(), own[:1].clone(), 0) is first  # remembered
    shorter = model.layout_bias(following[:1, :9], own[:1, :9], 0)
    assert torch.equal(shorter, model.bias(following[:1, :9], own[:1, :9], 0))
    assert not torch.equal(model.layout_bias(following[:1], own[:1], 1), first)  # an offset


@pytest.mark.parametrize("cached", [0, 30])
def test_attention_piece_by_piece_is_attention_in_one_call(cached):
    torch.manual_seed(0)
    queries = 2 * tm.PIECE + 50  # three pieces, the last one short
    q = torch.randn(2, 3, queries, 8)
    k, v = torch.randn(2, 3, cached + queries, 8), torch.randn(2, 3, cached + queries, 8)
    position = torch.arange(queries)[:, None] + cached
    future = torch.arange(cached + queries)[None, :] > position
    bias = torch.randn(1, 3, queries, cached + queries).masked_fill(future, float("-inf"))
    whole = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    assert torch.allclose(tm.attend(q, k, v, bias), whole, atol=1e-6)


def test_incremental_decoding_gives_the_same_logits_as_one_pass():
    model, (ids, own, following) = model_and_batch()
    with torch.no_grad():
        full, _ = model(ids, own, following)
        head, cache = model(ids[:, :20], own[:, :20], following[:, :20])
        logits = [head]
        for t in range(20, ids.shape[1]):
            step, cache = model(ids[:, t : t + 1], own[:, t : t + 1], following[:, t : t + 1], cache)
            logits.append(step)
    assert torch.allclose(torch.cat(logits, 1), full, atol=1e-5)


def test_a_batch_with_different_layouts_equals_row_by_row():
    model, _ = model_and_batch()
    texts = ["ab\ncd\n\n", "abc\nd\n\n"]  # same length, different rows
    ids, own, following = tm.batch_tensors(texts, SMALL)
    with torch.no_grad():
        together, _ = model(ids, own, following)
        apart = [model(ids[i : i + 1], own[i : i + 1], following[i : i + 1])[0] for i in (0, 1)]
    assert torch.allclose(together, torch.cat(apart), atol=1e-6)


def test_training_is_short_seeded_and_recorded():
    model, record = tm.train(SMALL, CONFIG, progress=False)
    again, _ = tm.train(SMALL, CONFIG, progress=False)
    assert len(record["losses"]) == CONFIG.steps and record["seconds"] > 0
    assert all(0 < loss < 10 for loss in record["losses"])
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    assert (
        0 < tm.parameter_count(TinyModel(CONFIG, SMALL)) < tm.parameter_count(TinyModel(Config(), Recipe()))
    )


def test_the_progress_bar_goes_live_to_the_terminal_and_finished_to_a_notebook(monkeypatch, capsys):
    tm.train(SMALL, CONFIG, progress=True)  # under pytest, as in a notebook, stderr is replaced
    assert capsys.readouterr().err.count("training the tiny model: 100%") == 1
    monkeypatch.setattr("sys.stderr", sys.__stderr__)  # a plain script: the bar is drawn live
    tm.train(SMALL, CONFIG, progress=True)


def test_the_terminal_is_the_notebook_stream_s_file_descriptor(monkeypatch, tmp_path):
    class KernelStream(io.StringIO):  # like ipykernel's OutStream: fileno() is the terminal
        def fileno(self):
            return handle.fileno()

    with open(tmp_path / "terminal", "w") as handle:
        monkeypatch.setattr("sys.stderr", KernelStream())
        stream = tm.terminal()
        stream.write("drawn on the terminal")
        stream.flush()
    assert (tmp_path / "terminal").read_text() == "drawn on the terminal"
    monkeypatch.setattr("sys.stderr", io.StringIO())  # no file descriptor at all
    assert tm.terminal() is sys.__stderr__


def test_the_page_model_has_a_few_hundred_thousand_parameters():
    assert 200_000 < tm.parameter_count(TinyModel(Config(), Recipe())) < 500_000


def test_the_cache_follows_the_recipe_settings_and_runs_but_not_the_language_model(cache, monkeypatch):
    folder, runs = tm.model_folder(SMALL, CONFIG), tm.runs_path(SMALL, CONFIG)
    assert folder == tm.model_folder(SMALL, CONFIG) and folder.parent == cache
    other_recipe = Recipe(sizes=SMALL.sizes, noise=(0.6, 0.25, 0.0), context=2)
    other_config = Config(width=16, heads=2, layers=1, steps=4, batch=2)
    assert folder not in {tm.model_folder(other_recipe, CONFIG), tm.model_folder(SMALL, other_config)}
    assert runs != tm.runs_path(SMALL, CONFIG, temperatures=(1.0,))
    assert runs != tm.runs_path(SMALL, CONFIG, seeds=(0,))
    assert runs != tm.runs_path(SMALL, CONFIG, pictures=tm.PICTURES[:1])
    monkeypatch.setattr(language_model, "fingerprint", lambda: "another language model")
    assert (tm.model_folder(SMALL, CONFIG), tm.runs_path(SMALL, CONFIG)) == (folder, runs)


def test_editing_code_the_training_imports_indirectly_changes_its_cache(package):
    shutil.copytree(Path(tm.__file__).parent, package / "ascii", ignore=shutil.ignore_patterns("__pycache__"))
    folder, runs = tm.model_folder(SMALL, CONFIG), tm.runs_path(SMALL, CONFIG)
    canvas = package / "ascii" / "canvas.py"  # tiny_model imports it; nobody names it
    canvas.write_text(canvas.read_text() + "\n# a comment is not code\n")
    assert (tm.model_folder(SMALL, CONFIG), tm.runs_path(SMALL, CONFIG)) == (folder, runs)
    canvas.write_text(canvas.read_text() + "\nRAMP = RAMP[::-1]\n")
    assert tm.model_folder(SMALL, CONFIG) != folder and tm.runs_path(SMALL, CONFIG) != runs


def test_a_cached_model_loads_back_identically(cache):
    model, record = tm.trained(SMALL, CONFIG, progress=False)
    assert record["cached"] is False
    folder = tm.model_folder(SMALL, CONFIG)
    assert json.loads((folder / "record.json").read_text())["config"]["steps"] == CONFIG.steps
    again, record_again = tm.trained(SMALL, CONFIG, progress=False)
    assert record_again["cached"] is True and record_again["losses"] == record["losses"]
    fresh, _ = tm.train(SMALL, CONFIG, progress=False)
    for name, tensor in fresh.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name]), name
        assert torch.equal(tensor, again.state_dict()[name]), name
    assert [p.name for p in cache.iterdir()] == [folder.name]


def test_training_in_a_second_process_gives_the_same_model_and_runs(cache, monkeypatch):
    monkeypatch.setattr(tm, "_background", {})
    process = tm.start_in_background(SMALL, CONFIG)
    model, record = tm.trained(SMALL, CONFIG, progress=False)  # waits for the process
    assert process.exitcode == 0 and not process.is_alive()
    assert record["cached"] is False  # trained during this run, if by another process
    here, _ = tm.train(SMALL, CONFIG, progress=False)
    for name, tensor in here.state_dict().items():
        assert torch.equal(tensor, model.state_dict()[name]), name
    written = [
        tm.generate(here, [held_out_sequence(SMALL, s, p) for s in tm.SEEDS], [t] * 5, list(tm.SEEDS))
        for i, p in enumerate(tm.PICTURES)
        for t in (tm.OTHER_TEMPERATURES if i else tm.TEMPERATURES)
    ]  # every picture, held out and trained on, in one batch: the same as picture by picture
    assert [r.text for r in tm.tiny_runs(SMALL, CONFIG)] == [t for row in written for t in row]
    assert tm.start_in_background(SMALL, CONFIG) is None  # all cached: nothing to do


def test_a_failure_in_the_second_process_is_raised_where_its_result_is_needed(cache, monkeypatch):
    monkeypatch.setattr(tm, "_background", {})
    broken = Config(width=16, heads=3, layers=1, steps=1, batch=1)  # 16 wide, in 3 heads?
    tm.start_in_background(SMALL, broken)
    with pytest.raises(RuntimeError, match="background process failed"):
        tm.tiny_runs(SMALL, broken)


def test_generation_is_seeded_and_stops_at_a_blank_line():
    model, _ = model_and_batch()
    sequences = [small_sequence(0), small_sequence(1)]
    greedy = tm.generate(model, sequences, [None, None], [0, 1])
    assert greedy == tm.generate(model, sequences, [None, None], [5, 6])  # seeds unused
    sampled = tm.generate(model, sequences, [1.0, 1.0], [0, 1])
    assert sampled == tm.generate(model, sequences, [1.0, 1.0], [0, 1])
    assert sampled != tm.generate(model, sequences, [1.0, 1.0], [2, 3])
    # each row has its own temperature and its own random numbers, whatever the others do
    mixed = tm.generate(model, sequences * 2, [1.0, 1.0, None, None], [0, 1, 0, 1])
    assert mixed == sampled + greedy
    columns, rows = SMALL.sizes[SMALL.context]
    assert all(len(text) <= 3 * ((columns + 1) * rows + 1) // 2 for text in sampled)
    with torch.no_grad():  # a model that only ever writes newlines ends at once
        model.head.weight.zero_()
        model.head.bias.fill_(0).data[NEWLINE] = 10
    assert tm.generate(model, sequences, [None, None], [0, 1]) == ["\n\n", "\n\n"]


def test_generation_stops_when_out_of_room(monkeypatch):
    model, _ = model_and_batch()
    with torch.no_grad():  # a model that only ever writes "@", and is never stopped early
        model.head.weight.zero_()
        model.head.bias.fill_(0).data[tm.INDEX["@"]] = 10
    monkeypatch.setattr(tm, "hopeless", lambda *args: None)
    columns, rows = SMALL.sizes[SMALL.context]
    [text] = tm.generate(model, [small_sequence()], [None], [0])
    assert text == "@" * (3 * ((columns + 1) * rows + 1) // 2)


def test_tiny_runs_are_scored_and_cached(cache):
    pictures = tm.PICTURES[:2]
    runs = tm.tiny_runs(SMALL, CONFIG, temperatures=(1.0, None), seeds=(0, 1), pictures=pictures)
    grid = [("T = 1", 0), ("T = 1", 1), ("greedy", 0), ("greedy", 1)]
    assert [(r.picture, r.decoding, r.seed) for r in runs] == [(p, *g) for p in pictures for g in grid]
    assert all(r.model == tm.NAME for r in runs)
    # each run is scored against its own picture
    assert (
        runs[0].score
        == tm.make_run(
            tm.NAME, 1.0, 0, runs[0].text, runs[0].canvas, held_out_sequence(SMALL, 0, pictures[0]), "\n\n"
        ).score
    )
    assert tm.tiny_runs(SMALL, CONFIG, temperatures=(1.0, None), seeds=(0, 1), pictures=pictures) == runs
    assert len(list(cache.glob("tiny-runs-*.json"))) == 1
    assert runs[0].picture == TEST_PICTURE == tm.PICTURES[0]


def test_the_tiny_model_is_scored_on_every_picture_and_trains_on_none_held_out():
    assert set(tm.PICTURES) == set(tm.HELD_OUT_PICTURES) | set(tm.TRAINING_PICTURES)
    assert not set(tm.HELD_OUT_PICTURES) & set(tm.TRAINING_PICTURES)
