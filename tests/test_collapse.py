"""The collapse experiment: its mechanics on a tiny random model (fixed length, one row per greedy
prompt, transformers' own greedy and penalties), its measures on hand-made texts, its cache,
figures and tables on made-up rows, and (claims) what the embedded model's rows show."""

import json

import pytest
import torch

from conftest import twice_as_two_processes
from other_models import tiny_lm
from snippets import collapse as c
from snippets.continuations import left_padded
from snippets.intervals import bootstrap
from snippets.next_token import plain_sampling
from snippets.penalties import Penalised
from state_simulators.cache import CACHE_ENV
from state_simulators.model import LanguageModel

FEW = dict(list(c.PROMPTS.items())[:3])


@pytest.fixture
def small(monkeypatch):
    """Three prompts, two samples, 12 tokens, batches of 8 rows."""
    for name, value in (("PROMPTS", FEW), ("SAMPLES", 2), ("NEW_TOKENS", 12), ("CHUNK", 8)):
        monkeypatch.setattr(c, name, value)


@pytest.fixture(scope="module")
def tiny(lm):
    return tiny_lm("llama", lm.tokenizer)


def test_the_plan_has_greedy_once_and_each_temperature_per_sample(lm, small):
    plan = c.plan(lm.tokenizer)
    count = lambda condition: sum(row[0] == condition for row in plan)  # noqa: E731
    assert count(c.LADDER[0]) == count(c.FIXES[0]) == count(c.TEMPLATE) == 3
    assert count(c.LADDER[1]) == count(c.LADDER[2]) == 3 * 2
    chat = [p for cond, _, _, p in plan if cond.template]
    raw = [p for cond, _, _, p in plan if not cond.template]
    assert all(isinstance(p, str) for p in raw) and all(isinstance(p, tuple) for p in chat)
    text = lm.tokenizer.decode(chat[0])
    assert FEW["story"] in text and text != FEW["story"]


def test_a_model_without_a_chat_template_has_no_template_rows(lm, small, monkeypatch):
    monkeypatch.setattr(lm.tokenizer, "chat_template", None)
    assert not any(cond.template for cond, *_ in c.plan(lm.tokenizer))
    assert c.prompt_input("x", lm.tokenizer, False) == "x"


def test_every_row_is_exactly_new_tokens_long(tiny, small):
    rows = c.generate_all(tiny)
    assert len(rows) == len(c.plan(tiny.tokenizer))
    for row in rows:
        assert len(row.token_ids) == len(row.log_probs) == 12
        assert tiny.tokenizer.eos_token_id not in row.token_ids
        assert all(lp <= 0 for lp in row.log_probs)


def greedy_generate(lm: LanguageModel, prompts: list[str], **options) -> list[list[int]]:
    batch = left_padded(prompts, lm.tokenizer)
    with torch.no_grad():
        out = lm.model.generate(
            **batch, **plain_sampling(None, lm.tokenizer), max_new_tokens=12, min_new_tokens=12, **options
        )
    return out[:, batch["input_ids"].shape[1] :].tolist()


def test_greedy_and_penalised_rows_are_transformers_own(tiny, small, monkeypatch):
    """Each condition alone in a batch equals generate(do_sample=False) with the same option."""
    options = {
        c.LADDER[0]: {},
        c.FIXES[0]: {"repetition_penalty": 1.2},
        c.FIXES[1]: {"no_repeat_ngram_size": 3},
    }
    for condition, option in options.items():
        monkeypatch.setattr(c, "LADDER", (condition,))
        monkeypatch.setattr(c, "FIXES", ())
        monkeypatch.setattr(tiny.tokenizer, "chat_template", None)
        ours = [list(r.token_ids) for r in c.generate_all(tiny)]
        assert ours == greedy_generate(tiny, list(FEW.values()), **option), condition.label


def test_penalties_change_greedy_text(tiny, small, monkeypatch):
    monkeypatch.setattr(c, "LADDER", (c.LADDER[0], c.Condition(Penalised(presence=100.0))))
    monkeypatch.setattr(c, "FIXES", ())
    monkeypatch.setattr(tiny.tokenizer, "chat_template", None)
    rows = c.generate_all(tiny)
    for row in rows[3:]:  # a huge presence penalty: no token twice
        assert len(set(row.token_ids)) == len(row.token_ids)


def test_window_measures_on_a_hand_made_loop(monkeypatch):
    loop = [1, 2, 3, 4] * 4  # 13 4-grams, the last 9 repeat
    assert c.repeats_by_window(loop, width=4) == [0.0, 1.0, 1.0, 1.0]
    row = c.Row("greedy", "story", 0, tuple(loop), (-1.0, -3.0) * 8)
    assert c.measure(row) == {
        "repeated 4-grams": pytest.approx(9 / 13),
        "distinct 2-grams": pytest.approx(4 / 15),
        "mean ln p": -2.0,
    }


def fake_generations(template: bool = True) -> c.Generations:
    """Made-up rows: greedy loops, higher temperatures vary more; one row per greedy prompt."""
    rows = []
    for condition in (*c.LADDER, *c.FIXES, *([c.TEMPLATE] if template else [])):
        for k, name in enumerate(c.PROMPTS):
            for s in range(condition.samples):
                period = 2 + k % 3 if condition.setting.greedy else 40 + s + k
                ids = tuple((i % period) + 10 * k for i in range(c.NEW_TOKENS))
                rows.append(c.Row(condition.label, name, s, ids, (-0.5 - 0.01 * k - 0.1 * s,) * c.NEW_TOKENS))
    return c.Generations(tuple(rows), 12.3, template)


@pytest.fixture
def faked(monkeypatch):
    monkeypatch.setattr(c, "generations", fake_generations)
    entropies = {False: [1.0 + k for k in range(10)], True: [0.5 + k for k in range(10)]}
    monkeypatch.setattr(c, "entropies", lambda: entropies)


def test_intervals_take_the_prompt_as_the_unit(faked):
    value = c.interval(c.LADDER[1], "mean ln p")
    assert value.n == len(c.PROMPTS)
    per_prompt = [-0.5 - 0.01 * k - 0.1 * (c.SAMPLES - 1) / 2 for k in range(len(c.PROMPTS))]
    assert value.estimate == pytest.approx(sum(per_prompt) / len(per_prompt))
    assert value.low < value.estimate < value.high
    windows = c.window_intervals(c.LADDER[0])
    assert len(windows) == -(-(c.NEW_TOKENS - 3) // c.WINDOW) and windows[0].n == len(c.PROMPTS)
    same = c.paired_difference(c.LADDER[0], c.FIXES[0], "repeated 4-grams")
    assert (same.estimate, same.low, same.high) == (0, 0, 0)


def test_figures_and_tables_show_the_intervals(faked):
    fig = c.low_temperature_collapse_figure()
    assert len(fig.axes) == 3 and "95 % CI" in fig._suptitle.get_text()
    line = fig.axes[2].lines[0]
    assert list(line.get_ydata()) == [c.interval(cond, "mean ln p").estimate for cond in c.LADDER]
    fig = c.repetition_by_position_figure()
    assert len(fig.axes[0].lines) == len(c.LADDER) and len(fig.axes[0].collections) == len(c.LADDER)
    f = c.collapse_facts()
    ladder = f["ladder_table"].split("\n")
    assert ladder[0] == "| setting | n prompts × samples | repeated 4-grams | distinct 2-grams | mean ln p |"
    assert ladder[2].startswith("| greedy | 10 × 1 | ") and ladder[3].startswith("| T = 0.5 | 10 × 20 | ")
    assert len(f["fixes_table"].split("\n")) == 2 + 1 + len(c.FIXES)
    assert f["repeats_greedy"] == c.cell(c.interval(c.LADDER[0], "repeated 4-grams"), "repeated 4-grams")
    assert {"repeats_t0_5", "distinct_t1", "lnp_t1", "presence_repeats_change"} <= set(f)
    template = f["template_table"].split("\n")
    assert template[2].startswith("| next-token entropy (bits) | 5.50 (95 % CI ")
    assert template[2].endswith(" | -0.50 (95 % CI -0.50–-0.50) |")
    assert c.collapse_timing_facts()["seconds"] == "12"


def test_without_a_template_the_section_says_so_in_one_line(monkeypatch, lm):
    monkeypatch.setattr(c, "generations", lambda: fake_generations(template=False))
    line = c.template_table()
    assert "\n" not in line and line.endswith("has no chat template: nothing to compare.")


def test_the_rows_are_cached_as_one_step(tmp_path, monkeypatch):
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    made = []
    rows = list(fake_generations().rows[:3])
    monkeypatch.setattr(c, "generate_all", lambda lm: made.append(1) or rows)
    monkeypatch.setattr(c, "load", lambda: type("LM", (), {"tokenizer": None})())
    first, again = twice_as_two_processes(c.generations)
    assert made == [1] and first.rows == again.rows == tuple(rows) and not first.template
    (path,) = (tmp_path / "collapse").glob("generations.*.json")
    assert len(json.loads(path.read_bytes())["rows"]) == 3


def test_next_token_entropy_raw_and_in_the_template(lm):
    """One forward per prompt; the raw prompt's entropy is the next-token page's."""
    from snippets.next_token import next_token_logits
    from snippets.sampling import entropy_bits

    values = c.entropies()
    assert len(values[False]) == len(values[True]) == len(c.PROMPTS)
    story = c.PROMPTS["story"]
    assert values[False][0] == pytest.approx(entropy_bits(next_token_logits(story, lm)), abs=1e-6)
    assert values[True][0] == c.next_token_entropy(story, True, lm) != values[False][0]


@pytest.mark.claim
def test_greedy_and_t_0_5_loop_t_1_does_not_and_greedy_loops_grow_along_the_text():
    greedy, half, one = (c.interval(cond, "repeated 4-grams") for cond in c.LADDER)
    assert greedy.n == half.n == one.n == len(c.PROMPTS) == 10  # the prompt is the unit
    assert one.high < half.low and one.high < greedy.low  # T = 1 is apart from both
    assert greedy.low < half.high  # "where two intervals overlap… cannot tell them apart"
    windows = c.window_intervals(c.LADDER[0])
    assert windows[0].high < windows[-1].low  # the loops build up along the text
    lnp = [c.interval(cond, "mean ln p").estimate for cond in c.LADDER]
    assert lnp == sorted(lnp, reverse=True)  # the loops are the model's likeliest texts


@pytest.mark.claim
def test_penalties_break_loops_except_the_presence_penalty():
    changes = {fix.label: c.paired_difference(c.LADDER[0], fix, "repeated 4-grams") for fix in c.FIXES}
    repetition, no_repeat, frequency, presence = changes.values()
    assert repetition.high < 0 and no_repeat.high < 0 and frequency.high < 0
    assert presence.low < 0 < presence.high  # "no clear effect"
    for fix in c.FIXES[:3]:  # each fix that works pays in log-probability
        assert c.paired_difference(c.LADDER[0], fix, "mean ln p").high < 0
    for name in c.MEASURES:  # "the template changes neither measure clearly"
        difference = c.paired_difference(c.LADDER[0], c.TEMPLATE, name)
        assert difference.low < 0 < difference.high, name
    raw, chat = c.entropies()[False], c.entropies()[True]
    entropy = bootstrap([b - a for a, b in zip(raw, chat)])
    assert entropy.low < 0 < entropy.high and entropy.estimate > 0  # "if anything, less certain"
