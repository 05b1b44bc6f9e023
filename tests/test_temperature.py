"""The claims of docs/temperature.md, on the model's real logits and the shared batch."""

import itertools
import math

import pytest
import torch
import transformers

from snippets import continuations as c
from snippets import temperature as t
from snippets.next_token import plain_sampling
from snippets.sampling import GREEDY, apply_temperature, entropy_bits

GRID = (0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 3.0, 10.0)


def test_the_ranking_never_changes(lm):
    for name, z in t.all_logits().items():
        best = torch.topk(z, 1000).indices
        for temperature in GRID:
            assert torch.equal(torch.topk(apply_temperature(z, temperature), 1000).indices, best), name


def test_entropy_rises_with_temperature_on_every_prompt(lm):
    for name, curve in t.entropy_curves().items():
        assert all(b >= a - 1e-9 for a, b in itertools.pairwise(curve)), name
        assert curve[-1] > curve[0] + 5, name
    # and beyond the figure: towards log2 V, from 0
    for z in t.all_logits().values():
        assert entropy_bits(apply_temperature(z, 1000.0)) == pytest.approx(math.log2(z.numel()), abs=0.02)
        assert float(t.probabilities(z, 0.001).max()) > 0.99  # T -> 0: all on the top token


def test_the_derivative_of_entropy_is_the_variance_over_t_cubed(lm):
    z = t.all_logits()["a story"].double()
    for temperature in (0.5, 1.0, 2.0):
        p = torch.softmax(z / temperature, dim=-1)
        variance = float((p * z**2).sum() - (p * z).sum() ** 2)
        h = 1e-4
        nats = lambda tt: entropy_bits(z / tt) * 0.6931471805599453  # noqa: E731
        slope = (nats(temperature + h) - nats(temperature - h)) / (2 * h)
        assert slope == pytest.approx(variance / temperature**3, rel=1e-3)


def test_a_lower_temperature_raises_every_ratio_to_the_power_one_over_t(lm):
    z = t.all_logits()["a fact"]
    p1, p_half = t.probabilities(z, 1.0).double(), t.probabilities(z, 0.5).double()
    first, second = torch.topk(z, 2).indices
    assert float(p_half[first] / p_half[second]) == pytest.approx(
        float(p1[first] / p1[second]) ** 2, rel=1e-4
    )
    assert p_half[first] > p1[first]
    f = t.temperature_facts()
    assert float(f["first_logit_half"]) == pytest.approx(2 * float(f["first_logit"]), abs=0.1)
    assert float(f["ratio_half"]) == pytest.approx(float(f["ratio"]) ** 2, rel=0.05, abs=1)


@pytest.mark.claim
def test_the_worked_example_is_paris(lm):
    assert t.temperature_facts()["first"] == "Paris"


def test_a_tiny_temperature_is_greedy(lm):
    """Sampling at T = 0.01 with transformers reproduces the greedy rows of the batch."""
    batch = lm.tokenizer(list(c.PROMPTS), return_tensors="pt", padding=True, padding_side="left")
    transformers.set_seed(0)
    with torch.no_grad():
        out = lm.model.generate(**batch, max_new_tokens=24, **plain_sampling(0.01, lm.tokenizer))
    for prompt, new in zip(c.PROMPTS, out[:, batch.input_ids.shape[1] :]):
        (greedy,) = [r for r in c.experiment() if r.prompt == prompt and r.setting == GREEDY]
        assert new.tolist() == list(greedy.token_ids[:24])


@pytest.mark.claim
def test_the_other_tokens_gain_as_t_rises(lm):
    z = t.all_logits()["a story"]
    others = [1 - float(t.probabilities(z, temperature).topk(8).values.sum()) for temperature in t.SHOWN]
    assert others == sorted(others) and others[0] < 0.01 and others[-1] > 0.5


def test_figures_draw_the_measured_numbers(lm):
    fig = t.temperature_distribution_figure()
    assert len(fig.axes[0].patches) == 9 * len(t.SHOWN)
    fig = t.entropy_by_temperature_figure()
    assert [list(line.get_ydata()) for line in fig.axes[0].lines[: len(t.ALL_PROMPTS)]] == list(
        t.entropy_curves().values()
    )
    assert not hasattr(t, "loss_by_temperature_figure")  # the best-temperature evidence moved


def test_facts(lm):
    f = t.temperature_facts()
    assert float(f["t1_min_bits"]) < float(f["t1_max_bits"])
    assert f["story_bits_1"] == f"{entropy_bits(t.all_logits()['a story']):.1f}"
    # the model's size is in the `model` group; what no page quotes is not computed
    assert not {"vocab", "params", "uniform_bits", "story_bits_1_5", "prose_loss_2", "repeats_t1"} & set(f)


def test_tables_are_markdown_tables(lm):
    f = t.temperature_facts()
    prompts = f["prompts_table"].split("\n")
    assert prompts[:2] == ["| name | prompt |", "|---|---|"]
    assert prompts[2] == f"| a fact | `{t.ALL_PROMPTS['a fact']}` |"
    assert len(prompts) == 2 + len(t.ALL_PROMPTS)


def test_the_temperatures_are_drawn_from_light_to_dark():
    """One bar colour a temperature shown, each darker (lower luminance) than the cooler one."""
    from matplotlib.colors import to_rgb

    luminance = [0.2126 * r + 0.7152 * g + 0.0722 * b for r, g, b in map(to_rgb, t.HEAT)]
    assert len(t.HEAT) == len(t.SHOWN)
    assert all(a > b for a, b in itertools.pairwise(luminance)), luminance
