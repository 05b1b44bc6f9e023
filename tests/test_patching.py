import numpy as np
import pytest
import torch

from conftest import twice_as_two_processes
from other_models import TINY, tiny_lm
from snippets import patching as pt
from snippets import stories
from snippets.intervals import bootstrap
from snippets.state_simulators import next_token_logprobs
from state_simulators.cache import CACHE_ENV


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, lm):
    return tiny_lm(request.param, lm.tokenizer)


@pytest.fixture(scope="module")
def example(lm):
    return pt.pair(stories.items()[2], lm.tokenizer)


def test_the_pair_lines_up_and_differs_only_in_the_correction(lm, example):
    corrected = example.item.prompt(stories.BY_NAME["corrected"])
    assert example.clean == lm.tokenizer(corrected).input_ids
    assert len(example.clean) == len(example.corrupt)
    differ = [i for i, (a, b) in enumerate(zip(example.clean, example.corrupt)) if a != b]
    assert example.span[0] <= min(differ) and max(differ) < example.span[1]
    groups = pt.position_groups(example)
    assert sorted(p for _, ps in groups.values() for p in ps) == list(
        range(example.span[0], len(example.clean))
    )


def test_every_story_finds_a_filler(lm):
    assert all(pt.pair(item, lm.tokenizer) for item in stories.items())


def test_no_filler_of_the_right_length_leaves_the_story_out(lm, monkeypatch):
    monkeypatch.setattr(pt, "FILLERS", ("It rained.",))
    assert pt.pair(stories.items()[0], lm.tokenizer) is None


def test_patching_everything_or_nothing_gives_the_two_runs(tiny, example):
    source = pt.residual_streams(example.clean, tiny)
    depth = tiny.model.config.num_hidden_layers
    assert source.shape[:2] == (depth + 1, len(example.clean))
    both = next_token_logprobs([example.clean, example.corrupt], tiny)
    every = list(range(len(example.corrupt)))
    patched = pt.patched_logprobs(example.corrupt, source, [(0, every), (0, [])], tiny)
    assert torch.allclose(patched, both, atol=1e-5)
    # the stream after the last layer, at the final position, is all the output reads
    final = pt.patched_logprobs(example.corrupt, source, [(depth, every[-1:])], tiny)
    assert torch.allclose(final[0], both[0], atol=1e-5)


def test_the_shared_prefix_gives_what_full_runs_give(tiny, example):
    source = pt.residual_streams(example.clean, tiny)
    start = example.span[0]
    patches = [(1, list(range(start, start + 3))), (2, [len(example.corrupt) - 1]), (0, [])]
    full = pt.patched_logprobs(example.corrupt, source, patches, tiny)
    shared = pt.patched_logprobs(example.corrupt, source, patches, tiny, start)
    assert torch.allclose(full, shared, atol=1e-4)
    assert not torch.allclose(full[0], full[2], atol=1e-4)  # a patch changes something
    with pytest.raises(ValueError, match="patch positions"):
        pt.patched_logprobs(example.corrupt, source, [(1, [0])], tiny, start)


def test_the_map_figure_and_facts_show_the_measured_numbers(tiny, monkeypatch):
    found = pt.run_patching(stories.items()[:2], tiny)
    depth = tiny.model.config.num_hidden_layers
    assert found.states == pt.states(tiny) and found.states[-1] == depth
    assert found.restored.shape == (2, len(found.states), len(pt.GROUPS))
    # at the embeddings the correction sentence patch is the clean run; after the last layer
    # the final position is
    assert found.restored[:, 0, 0] == pytest.approx(found.clean, abs=1e-5)
    assert found.restored[:, -1, 2] == pytest.approx(found.clean, abs=1e-5)
    monkeypatch.setattr(pt, "patching", lambda: found)
    image = pt.patching_figure().axes[0].images[0]
    assert np.allclose(image.get_array(), found.restored.mean(axis=0))
    facts = pt.patching_facts()
    assert facts["items"] == "2" and found.states == list(range(depth + 1))
    assert int(facts["final_first"]) in found.states


def test_the_page_patches_every_story_once_then_reads_it_from_disk(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    calls = []
    result = pt.PatchingResult([0, 1], np.full((2, 2, 3), 0.5), np.ones(2), np.zeros(2))
    monkeypatch.setattr(pt, "load", lambda: "the model")
    monkeypatch.setattr(pt, "run_patching", lambda items, lm: calls.append((items, lm)) or result)
    first, again = twice_as_two_processes(pt.patching)
    assert calls == [(stories.items(), "the model")]  # computed once, then read
    assert first.states == again.states == [0, 1] and np.array_equal(again.restored, result.restored)
    assert list(tmp_path.glob("patching/results.*.npz"))


@pytest.mark.claim
def test_the_correction_is_carried_at_its_own_positions_then_handed_to_the_last_token():
    found = pt.patching()
    assert len(found.clean) == len(stories.items()) and found.states == list(range(len(found.states)))
    assert bootstrap(found.corrupt).high < bootstrap(found.clean).low  # the correction matters
    facts = pt.patching_facts()
    span_last, final_first = int(facts["span_last"]), int(facts["final_first"])
    mean = found.restored.mean(axis=0)
    nearer_clean = np.abs(mean - found.clean.mean()) <= np.abs(mean - found.corrupt.mean())
    span, question, final = (pt.GROUPS.index(g) for g in pt.GROUPS)
    assert nearer_clean[: span_last + 1, span].all() and not nearer_clean[span_last + 1 :, span].any()
    assert nearer_clean[final_first:, final].all() and not nearer_clean[:final_first, final].any()
    assert final_first == span_last + 1  # handed over in one layer, late
    assert final_first > len(found.states) // 2
    assert not nearer_clean[:, question].any()  # "the question tokens never carry it"
    before, after = (bootstrap(found.restored[:, s, final]) for s in (final_first - 1, final_first))
    assert before.high < after.low  # the hand-over step is outside the noise, item as the unit
