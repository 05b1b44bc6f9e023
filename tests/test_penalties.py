"""The loop penalties: OpenAI's frequency and presence penalties against their definition written
out directly, and the settings that put transformers' own processors in front of a sampler."""

import pytest
import torch
import transformers

from snippets import penalties as pn
from snippets.sampling import GREEDY, Samplers


def openai_by_hand(generated: list[int], logits: list[float], frequency: float, presence: float):
    """The API reference's formula, one token at a time:
    mu[j] - c[j] * frequency - float(c[j] > 0) * presence."""
    out = []
    for j, mu in enumerate(logits):
        c = generated.count(j)
        out.append(mu - c * frequency - float(c > 0) * presence)
    return out


def test_frequency_and_presence_match_the_definition():
    torch.manual_seed(0)
    prompt = torch.randint(0, 11, (3, 4))
    penalty = pn.FrequencyPresencePenalty(frequency=0.7, presence=0.3)
    scores = torch.randn(3, 11)
    assert torch.equal(penalty(prompt, scores), scores)  # the first call: only the prompt, no penalty
    ids = prompt
    for _ in range(6):
        ids = torch.cat([ids, torch.randint(0, 11, (3, 1))], dim=1)
        scores = torch.randn(3, 11, dtype=torch.float64)
        ours = penalty(ids, scores.clone())
        for row in range(3):
            generated = ids[row, 4:].tolist()  # the prompt's tokens never count
            expected = openai_by_hand(generated, scores[row].tolist(), 0.7, 0.3)
            assert ours[row].tolist() == pytest.approx(expected, abs=1e-12)
    assert penalty.start == 4


def test_a_repeated_token_pays_per_occurrence_and_once_for_presence():
    penalty = pn.FrequencyPresencePenalty(frequency=1.0, presence=10.0)
    penalty(torch.tensor([[5]]), torch.zeros(1, 4))
    out = penalty(torch.tensor([[5, 2, 2, 2, 1]]), torch.zeros(1, 4))
    assert out.tolist() == [[0.0, -11.0, -13.0, 0.0]]


def test_the_setting_chains_transformers_processors_before_the_sampler():
    chain = pn.Penalised(Samplers(0.5), repetition=1.2, no_repeat=3, frequency=0.5, presence=0.1)
    types = [type(p) for p in chain.processors()]
    assert types == [
        transformers.RepetitionPenaltyLogitsProcessor,
        transformers.NoRepeatNGramLogitsProcessor,
        pn.FrequencyPresencePenalty,
        transformers.TemperatureLogitsWarper,
    ]
    assert [type(p) for p in pn.Penalised().processors()] == [transformers.TopKLogitsWarper]
    assert chain.label == (
        "T = 0.5, repetition penalty 1.2, no repeated 3-grams, frequency penalty 0.5, presence penalty 0.1"
    )
    assert pn.Penalised(repetition=1.2).label == "greedy, repetition penalty 1.2"
    assert pn.Penalised().greedy and not chain.greedy
    assert chain.at(None).sampler == GREEDY and chain.at(None).repetition == 1.2


def test_the_processors_act_as_their_definitions_say():
    ids = torch.tensor([[1, 2, 3, 1, 2]])
    scores = torch.tensor([[1.0, 2.0, -2.0, 4.0, 5.0]])
    blocked = pn.Penalised(no_repeat=3).processors()[0](ids, scores.clone())
    assert torch.isinf(blocked[0, 3]) and blocked[0, 3] < 0  # "1 2 3" already occurred
    assert torch.isfinite(blocked[0, [0, 1, 2, 4]]).all()
    penalised = pn.Penalised(repetition=2.0).processors()[0](ids, scores.clone())
    assert penalised.tolist() == [[1.0, 1.0, -4.0, 2.0, 5.0]]  # seen: positive / 2, negative x 2


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"repetition": 0.0}, "repetition penalty must be above 0"),
        ({"no_repeat": -1}, "no-repeat n-gram size must be at least 0"),
        ({"frequency": -0.5}, "frequency penalty must be at least 0"),
        ({"presence": -1.0}, "presence penalty must be at least 0"),
    ],
)
def test_impossible_settings_say_so_in_one_line(bad, message):
    with pytest.raises(ValueError, match=message):
        pn.Penalised(**bad)
