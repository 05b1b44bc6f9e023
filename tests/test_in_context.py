import numpy as np
import pytest
import torch

from other_models import TINY, tiny_lm
from snippets import in_context as ic

TASK = {task.name: task for task in ic.TASKS}


def late(name: str) -> float:
    return ic.late_accuracy(ic.results()[name])


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


@pytest.mark.claim
def test_with_no_example_no_task_is_ever_answered_right():
    for name, curve in ic.results().items():
        assert curve[0] == 0, name


@pytest.mark.claim
def test_what_the_model_learns_in_context():
    assert late("swap two words") > TASK["swap two words"].guess  # above a coin toss
    assert ic.late_accuracy(ic.first_token_right(TASK["swap two words"])) > 0.7
    assert late("next letter") > late("skip a letter") + 0.3
    assert late("skip a letter") < 0.15  # a new cipher of the same shape: near guessing


@pytest.mark.claim
def test_what_the_model_does_not_learn_in_context():
    assert late("middle of three words") < TASK["middle of three words"].guess
    chosen = ic.chosen_word(TASK["middle of three words"])[:, list(ic.LATE)]
    assert (chosen >= 0).mean() > 0.9  # it answers with one of the three words…
    assert (chosen == 2).mean() > 0.5  # …mostly the last one
    assert 0.35 < late("invented labels") < 0.65  # the mapping: a coin toss
    labels = ic.label_format()
    assert labels[0] < 0.1 and ic.late_accuracy(labels) > 0.9  # the label set: learned
    assert late("flipped labels") < 0.4  # the prior wins over the examples


def test_the_figure_and_facts_show_the_results():
    found = ic.results()
    fig = ic.in_context_figure()
    panels = [ax for ax in fig.axes if ax.get_lines()]
    assert len(panels) == len(ic.TASKS)
    for ax, task in zip(panels, ic.TASKS):
        assert np.allclose(ax.get_lines()[1].get_ydata(), found[task.name])
    facts = ic.icl_facts()
    assert facts["swap_late"] == f"{late('swap two words'):.0%}"
    assert facts["labels_format_late"] == f"{ic.late_accuracy(ic.label_format()):.0%}"
    table = facts["table"].splitlines()
    assert len(table) == len(ic.TASKS) + 2  # header, rule, a row per task
    assert table[2].startswith(f"| {ic.TASKS[0].name} | 50% | {found[ic.TASKS[0].name][0]:.0%} |")
    assert facts["queries"] == str(ic.SEQUENCES * (ic.K_MAX + 1))
    assert "params" not in facts  # the `model` group's


@pytest.mark.parametrize("by, letter, expected", [(1, "c", "d"), (2, "c", "e")])
def test_shift(by, letter, expected):
    assert ic.shift(by)(letter) == expected
