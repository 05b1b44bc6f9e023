import pytest
import torch

from other_models import TINY, tiny_lm
from snippets import batching
from state_simulators.model import LanguageModel


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny(request, lm):
    return tiny_lm(request.param, lm.tokenizer)


def test_texts_are_padded_after_their_tokens_and_masked():
    batch, mask = batching.right_padded([[5, 6, 7], [8]], pad_id=0)
    assert batch.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]


@pytest.mark.parametrize("sequences", [[], [[1], []]])
def test_nothing_to_pad_is_one_clear_error(sequences):
    with pytest.raises(ValueError, match="every text a token"):
        batching.right_padded(sequences, pad_id=0)


def check_batched_equals_alone(lm: LanguageModel):
    texts = ["The meeting is on Monday.", "A", "The keys are in the kitchen, or so she said."]
    sequences = [lm.tokenizer(t).input_ids for t in texts]
    hidden = batching.final_hidden_states(sequences, lm)
    assert hidden.shape == (len(texts), max(map(len, sequences)), lm.model.config.hidden_size)
    for row, ids in enumerate(sequences):
        alone = batching.final_hidden_states([ids], lm)[0]
        assert torch.allclose(hidden[row, : len(ids)], alone, atol=1e-4)


def test_a_batched_text_gets_the_hidden_states_it_gets_alone(lm):
    check_batched_equals_alone(lm)


def test_batching_holds_for_absolute_positions_and_untied_embeddings(tiny):
    check_batched_equals_alone(tiny)


def test_the_final_hidden_states_are_what_the_unembedding_reads(tiny):
    ids = tiny.tokenizer("One, two, three", return_tensors="pt").input_ids
    with torch.no_grad():
        logits = tiny.model(ids).logits[0]
        hidden = batching.final_hidden_states([ids[0].tolist()], tiny)[0]
        assert torch.allclose(tiny.model.get_output_embeddings()(hidden), logits, atol=1e-5)
