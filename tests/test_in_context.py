import numpy as np
import pytest
import torch

from conftest import twice_as_two_processes
from other_models import TINY, tiny_lm
from snippets import in_context as ic

TASK = {task.name: task for task in ic.TASKS}


def late(name: str):
    return ic.late_rate(ic.results()[name])


def test_tasks_do_what_their_examples_say():
    for task in ic.TASKS:
        x, y = task.example.split(",")[0].split(" → ")
        assert task.answer(x) == y, task.name
        assert len(set(task.inputs)) == len(task.inputs) > ic.K_MAX


def test_a_sequence_has_k_max_plus_one_different_examples_and_marks_their_answers(lm):
    task = TASK["swap two words"]
    ids, answers = ic.example_sequence(task, 3, lm)
    assert len(answers) == ic.K_MAX + 1
    text = lm.tokenizer.decode(ids)
    lines = text.strip("\n").split("\n")
    inputs = [line.split(" →")[0] for line in lines]
    assert len(set(inputs)) == len(inputs) == ic.K_MAX + 1
    for line, answer in zip(lines, answers):
        written = lm.tokenizer.decode([ids[p + 1] for p in answer])
        assert written == " " + task.answer(line.split(" →")[0])


def test_one_pass_over_the_sequence_equals_prompts_cut_off_after_k_examples(lm):
    ids, answers = ic.example_sequence(TASK["next letter"], 0, lm)
    with torch.no_grad():
        full = lm.model(torch.tensor([ids])).logits[0]
        for k in (0, 3, 9):
            position = answers[k][0]
            alone = lm.model(torch.tensor([ids[: position + 1]])).logits[0, -1]
            assert torch.allclose(full[position], alone, atol=1e-3)


def check_scorer_agrees_with_a_single_sequence(lm):
    task = TASK["invented labels"]
    correct, first = ic.score_task(task, sequences=2, lm=lm)
    assert correct.shape == first.shape == (2, ic.K_MAX + 1)
    for seed in (0, 1):  # the batch is right-padded: both rows must come out as if alone
        ids, answers = ic.example_sequence(task, seed, lm)
        with torch.no_grad():
            predicted = lm.model(torch.tensor([ids])).logits[0].argmax(-1)
        assert first[seed].tolist() == [int(predicted[a[0]]) for a in answers]
        expected = [all(predicted[p] == ids[p + 1] for p in a) for a in answers]
        assert correct[seed].tolist() == expected


def test_the_batched_scorer_agrees_with_a_single_sequence(lm):
    check_scorer_agrees_with_a_single_sequence(lm)


@pytest.mark.parametrize("kind", sorted(TINY))
def test_the_scorer_works_for_gpt2_style_and_untied_models(lm, kind):
    check_scorer_agrees_with_a_single_sequence(tiny_lm(kind, lm.tokenizer))


def test_rates_take_the_sequence_as_the_unit():
    outcomes = np.zeros((4, ic.K_MAX + 1), dtype=bool)
    outcomes[0, list(ic.LATE)] = True  # one sequence right at every pooled k, the rest never
    outcomes[1:, 0] = True  # k = 0 is not pooled
    late = ic.late_rate(outcomes)
    assert late.n == 4 and late.estimate == pytest.approx(0.25)
    assert late.low == 0 and 0.25 < late.high < 1  # resamples hold that sequence 0–4 times
    by_k = ic.rate_by_k(outcomes)
    assert len(by_k) == ic.K_MAX + 1 and by_k[0].estimate == 0.75
    assert by_k[1].low == by_k[1].high == 0  # all alike: an exact, zero-width interval
    assert ic.percent(late).startswith("25 % (95 % CI 0")


@pytest.mark.claim
def test_with_no_example_no_task_is_ever_answered_right():
    for name, correct in ic.results().items():
        assert not correct[:, 0].any(), name


@pytest.mark.claim
def test_what_the_model_learns_in_context():
    assert late("swap two words").low > TASK["swap two words"].guess  # above a coin toss
    assert ic.late_rate(ic.first_token_right(TASK["swap two words"])).low > 0.7
    assert late("next letter").low > late("skip a letter").high + 0.2
    assert late("skip a letter").estimate < 0.15  # a new cipher of the same shape: near guessing


@pytest.mark.claim
def test_what_the_model_does_not_learn_in_context():
    assert late("middle of three words").high < TASK["middle of three words"].guess
    chosen = ic.chosen_word(TASK["middle of three words"])
    assert ic.late_rate(chosen >= 0).low > 0.9  # it answers with one of the three words…
    assert ic.late_rate(chosen == 2).low > 0.5  # …mostly the last one
    labels = late("invented labels")
    assert labels.low < 0.5 < labels.high  # the mapping: a coin toss
    answered = ic.label_format()
    assert answered[:, 0].mean() < 0.1 and ic.late_rate(answered).low > 0.9  # the label set
    assert late("flipped labels").high < 0.5  # the prior wins over the examples


def test_the_figure_and_facts_show_the_results():
    found = ic.results()
    assert all(c.shape == (ic.SEQUENCES, ic.K_MAX + 1) for c in found.values())
    assert ic.SEQUENCES >= 40
    fig = ic.in_context_figure()
    panels = [ax for ax in fig.axes if ax.get_lines()]
    assert len(panels) == len(ic.TASKS)
    for ax, task in zip(panels, ic.TASKS):
        assert np.allclose(ax.get_lines()[1].get_ydata(), found[task.name].mean(axis=0))
        assert ax.collections  # the 95 % band
    facts = ic.icl_facts()
    assert facts["swap_late"] == late("swap two words").format(digits=0, scale=100, unit=" %")
    assert facts["labels_format_late"] == ic.percent(ic.late_rate(ic.label_format()))
    table = facts["table"].splitlines()
    assert len(table) == len(ic.TASKS) + 2  # header, rule, a row per task
    first = found[ic.TASKS[0].name]
    assert table[2].startswith(f"| {ic.TASKS[0].name} | 50% | {first[:, 0].mean():.0%} |")
    assert f"**{late(ic.TASKS[0].name).estimate:.0%}** (" in table[2]
    assert facts["queries"] == str(ic.SEQUENCES * (ic.K_MAX + 1))
    assert "params" not in facts  # the `model` group's


@pytest.mark.parametrize("by, letter, expected", [(1, "c", "d"), (2, "c", "e")])
def test_shift(by, letter, expected):
    assert ic.shift(by)(letter) == expected


def test_runs_are_computed_once_and_read_back(tmp_path, monkeypatch):
    from state_simulators.cache import CACHE_ENV

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    calls = []

    def fake(task, lm=None):
        calls.append(task.name)
        return np.eye(2, dtype=bool), np.arange(4).reshape(2, 2)

    monkeypatch.setattr(ic, "score_task", fake)
    monkeypatch.setattr(ic, "load", lambda: None)
    first, again = twice_as_two_processes(ic.runs)
    assert calls == [task.name for task in ic.TASKS]  # the second call read the cache
    for name in first:
        assert np.array_equal(again[name][0], np.eye(2, dtype=bool))
        assert np.array_equal(again[name][1], np.arange(4).reshape(2, 2))
