"""The sequence builder (sizes, noise schedule, determinism), the scorer and the baselines."""

import argparse

import numpy as np
import pytest
from rich.console import Console

from snippets.ascii import canvas as ac
from snippets.ascii.canvas import LEVEL, NOISE, RAMP, Recipe

RECIPE = Recipe()


def is_noise(c: str) -> bool:
    return c not in LEVEL


def test_alphabets_are_disjoint_and_printable():
    assert not set(RAMP) & set(NOISE)
    assert "`" not in NOISE and "\n" not in NOISE and " " not in NOISE
    assert all(33 <= ord(c) < 127 for c in NOISE)


def test_recipe_checks_its_schedule():
    with pytest.raises(ValueError, match="2 sizes but 1 noise"):
        Recipe(sizes=((4, 2), (6, 3)), noise=(0.5,))
    with pytest.raises(ValueError, match="context must be 1 to 1 steps, not 2"):
        Recipe(sizes=((4, 2), (6, 3)), noise=(0.5, 0.0), context=2)


@pytest.mark.parametrize("seed", [0, 3])
def test_each_step_has_its_size_and_exactly_its_share_of_noise(seed):
    sequence = ac.held_out_sequence(RECIPE, seed)
    assert len(sequence.clean) == len(sequence.noisy) == len(RECIPE.sizes)
    for clean, noisy, (columns, rows), share in zip(
        sequence.clean, sequence.noisy, RECIPE.sizes, RECIPE.noise
    ):
        assert len(clean) == len(noisy) == rows
        assert all(len(line) == columns for line in clean + noisy)
        assert not any(map(is_noise, "".join(clean)))
        changed = [(a, b) for a, b in zip("".join(clean), "".join(noisy)) if a != b]
        # Noise lands only where it replaced a picture character, and exactly on its share.
        assert all(is_noise(b) for _, b in changed)
        assert len(changed) == round(share * columns * rows)


def test_sizes_grow_and_noise_falls_to_a_clean_last_step():
    assert all(a[0] < b[0] and a[1] < b[1] for a, b in zip(RECIPE.sizes, RECIPE.sizes[1:]))
    assert list(RECIPE.noise) == sorted(RECIPE.noise, reverse=True) and RECIPE.noise[-1] == 0


def test_sequences_are_deterministic():
    assert ac.held_out_sequence(RECIPE, 1) == ac.held_out_sequence(RECIPE, 1)
    other = ac.held_out_sequence(RECIPE, 2)
    assert other.clean == ac.held_out_sequence(RECIPE, 1).clean
    assert other.noisy != ac.held_out_sequence(RECIPE, 1).noisy
    pictures = {"flat": np.full((40, 60), 0.5, np.float32)}
    assert ac.training_sequence(RECIPE, 5, pictures) == ac.training_sequence(RECIPE, 5, pictures)


def test_render_maps_dark_to_at_and_light_to_space():
    gradient = np.tile(np.linspace(0, 1, 100), (50, 1))  # black on the left, white on the right
    canvas = ac.render(gradient, 10, 2)
    assert canvas == ["@%#*+=-:. "] * 2
    assert ac.render(np.full((8, 8), 0.3), 4, 2) == ["@@@@"] * 2  # flat: no division by zero


def test_crop_keeps_the_aspect_and_can_mirror():
    picture = np.arange(100 * 200, dtype=np.float32).reshape(100, 200)
    window = ac.crop(picture, aspect=1.0)
    assert window.shape == (100, 100) and window[0, 0] == 50  # centred
    small = ac.crop(picture, aspect=2.0, scale=0.5, where=(0, 1), flip=True)
    assert small.shape == (50, 100)
    assert small[0, -1] == picture[50, 0]  # bottom-left window, mirrored


@pytest.mark.parametrize("name", (*ac.HELD_OUT_PICTURES, *ac.TRAINING_PICTURES))
def test_pictures_load_as_grey_levels(name):
    picture = ac.load_picture(name)
    assert picture.ndim == 2 and min(picture.shape) >= 90
    assert picture.min() == 0 and picture.max() == 1


def test_the_test_picture_is_held_out_of_training():
    assert ac.TEST_PICTURE in ac.HELD_OUT_PICTURES and len(ac.HELD_OUT_PICTURES) >= 3
    assert not set(ac.HELD_OUT_PICTURES) & set(ac.TRAINING_PICTURES)
    marker = {"only": np.zeros((64, 64), np.float32)}  # a black picture
    seen = {ac.training_sequence(RECIPE, seed, marker).clean[-1][0] for seed in range(30)}
    assert "@" * RECIPE.sizes[-1][0] in seen  # drawn from the given pictures …
    assert len(seen) > 1  # … or from procedural shapes, never from anything else


def test_procedural_shapes_are_deterministic_and_varied():
    pictures = [ac.shapes_picture(np.random.default_rng(seed)) for seed in range(12)]
    assert np.array_equal(pictures[0], ac.shapes_picture(np.random.default_rng(0)))
    assert all(p.shape == (128, 128) and p.min() == 0 and p.max() == 1 for p in pictures)


# --- the scorer: known inputs, known scores ---------------------------------------------

TARGET = ("@@", "  ")
PREVIOUS = ("@",)


def test_a_perfect_canvas_scores_one():
    s = ac.score(list(TARGET), TARGET, PREVIOUS)
    assert (s.columns, s.rows, s.right_size) == (2, 2, True)
    assert s.accuracy == s.near == 1 and s.noise_left == 0
    assert s.copy == pytest.approx(2 * 1 / (5 + 1))  # difflib: 2 × matches / total length


def test_near_misses_and_noise_are_counted():
    s = ac.score(["@%", "x "], TARGET, PREVIOUS)
    assert s.accuracy == 0.5  # '@' and ' ' right
    assert s.near == 0.75  # '%' is one step from '@'; the noise 'x' is never near
    assert s.noise_left == 0.25 and s.right_size


def test_wrong_sizes_are_caught_and_extra_cells_do_not_count():
    s = ac.score(["@@@", "  ", "@@"], TARGET, PREVIOUS)
    assert (s.columns, s.rows, s.right_size) == (3, 3, False)
    assert s.accuracy == 1.0
    short = ac.score(["@@", " "], TARGET, PREVIOUS)
    assert not short.right_size and short.accuracy == 0.75


def test_an_empty_canvas_scores_zero():
    s = ac.score([], TARGET, PREVIOUS)
    assert (s.columns, s.rows, s.right_size, s.noise_left, s.accuracy, s.copy) == (0, 0, False, 0, 0, 0)


def test_a_verbatim_copy_has_copy_similarity_one():
    sequence = ac.held_out_sequence(RECIPE, 0)
    run = ac.make_run("copy", None, 0, "", ac.copy_previous(sequence), sequence)
    assert run.score.copy == 1.0 and not run.score.right_size
    assert run.decoding == "greedy"
    assert ac.make_run("m", 0.7, 0, "", [], sequence).decoding == "T = 0.7"


# --- the prompt and its parsing ------------------------------------------------------------


def test_prompt_shows_the_context_steps_and_opens_the_next():
    sequence = ac.held_out_sequence(RECIPE, 0)
    prompt = ac.prompt_text(sequence)
    assert prompt.startswith(ac.TITLE)
    assert prompt.endswith(f"Step {RECIPE.context + 1}:\n```\n")
    assert prompt.count("```") == 2 * RECIPE.context + 1
    for canvas in sequence.noisy[: RECIPE.context]:
        assert "\n".join(canvas) in prompt
    assert "\n".join(sequence.noisy[RECIPE.context]) not in prompt


@pytest.mark.parametrize(
    "text, canvas",
    [
        ("ab\ncd\n```\n\nStep 5:", ["ab", "cd"]),
        ("ab\ncd", ["ab", "cd"]),
        (" .\n\n", [" .", ""]),
        ("", []),
    ],
)
def test_parse_canvas(text, canvas):
    assert ac.parse_canvas(text) == canvas


# --- baselines -----------------------------------------------------------------------------


def hand_made(context: int) -> ac.Sequence:
    recipe = Recipe(sizes=((2, 1), (2, 1), (4, 2)), noise=(0.5, 0.5, 0.0), context=context)
    noisy = (("@x",), ("y ",), ("@@  ", "@@  "))
    return ac.Sequence(clean=(("@ ",), ("@ ",), ("@@  ", "@@  ")), noisy=noisy, recipe=recipe)


def test_stretch_repeats_each_character_over_its_area():
    assert ac.stretch_previous(hand_made(2)) == ["yy  ", "yy  "]


def test_stretch_and_denoise_fills_noise_from_earlier_steps():
    assert ac.stretch_and_denoise(hand_made(2)) == ["@@  ", "@@  "]
    recipe = Recipe(sizes=((2, 1), (4, 2)), noise=(0.5, 0.0), context=1)
    first = ac.Sequence(clean=(("@ ",), ("@@  ",) * 2), noisy=(("@x",), ("@@  ",) * 2), recipe=recipe)
    assert ac.stretch_and_denoise(first) == ["@@xx", "@@xx"]  # nothing earlier to fill from


def test_baselines_score_as_expected_on_the_held_out_picture():
    runs = ac.baseline_runs(RECIPE, (0, 1))
    assert [r.model for r in runs] == [name for name in ac.BASELINES for _ in (0, 1)]
    assert {r.decoding for r in runs} == {"—"}
    by = {r.model: r.score for r in runs}
    assert by["copy the last step"].copy == 1.0
    assert by["stretch the last step"].right_size
    assert by["stretch and denoise"].noise_left < by["stretch the last step"].noise_left
    assert {r.picture for r in runs} == {ac.TEST_PICTURE}


def test_baselines_on_other_pictures_are_scored_against_those_pictures():
    pictures = ac.HELD_OUT_PICTURES[1:]
    runs = ac.baseline_runs(RECIPE, (0,), pictures)
    assert [r.picture for r in runs] == [p for p in pictures for _ in ac.BASELINES]
    for run in runs:
        sequence = ac.held_out_sequence(RECIPE, 0, run.picture)
        if run.model == "the true step":
            assert list(run.canvas) == list(sequence.clean[RECIPE.context])
            assert run.score.accuracy == 1.0
    assert ac.held_out_sequence(RECIPE, 0, pictures[0]).clean != ac.held_out_sequence(RECIPE, 0).clean


def test_cache_labels_name_the_kind_and_tell_parameters_apart():
    label = ac.cache_label("runs", RECIPE, (1.0, None), (0, 1))
    assert label == ac.cache_label("runs", Recipe(), (1.0, None), (0, 1))
    assert label.startswith("runs-") and label.replace("-", "").isalnum()
    others = {
        ac.cache_label("runs", RECIPE, (1.0,), (0, 1)),
        ac.cache_label("runs", RECIPE, (1.0, None), (0,)),
        ac.cache_label("runs", Recipe(context=2), (1.0, None), (0, 1)),
        ac.cache_label("model", RECIPE, (1.0, None), (0, 1)),
    }
    assert label not in others and len(others) == 4


def test_one_thread_restores_the_thread_count():
    import torch

    before = torch.get_num_threads()
    with ac.one_thread():
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_repetition_counts_windows_written_before():
    assert ac.repetition("abcdefghij") == 0
    assert ac.repetition("+" * 107) == 99 / 100  # every window after the first is a repeat
    assert ac.repetition("abcdefg") == 0  # too short for a single window
    # "abababab" and "babababa", then each of them again, three times in all
    assert ac.score(["ab" * 6], TARGET, PREVIOUS).repeats == 3 / 5
    assert ac.repetition("abab", width=2) == 1 / 3  # ab, ba, ab again


@pytest.mark.parametrize(
    "text, reason",
    [
        ("@@\n  \n", None),
        ("@@\n  \n@@\n  ", None),  # one row too many is still allowed …
        ("@@\n  \n@@\n  \n", "> 3 rows"),  # … two are not
        ("@@@@", None),
        ("@@@@@", "a row > 4 chars"),
        ("@@\n```\n" + "x" * 50, None),  # what follows the end of the canvas does not count
    ],
)
def test_hopeless(text, reason):
    assert ac.hopeless(text, 2, 2) == reason


def test_ending_names_how_a_run_ended():
    assert ac.ending("@@\n  \n```", 2, 2, "```") == "end of canvas"
    assert ac.ending("@@@@@", 2, 2, "```") == "gave up: a row > 4 chars"
    assert ac.ending("@@\n  ", 2, 2, "```") == "out of room"
    sequence = ac.held_out_sequence(RECIPE, 0)
    assert ac.make_run("m", None, 0, "x", ["x"], sequence).ended == ""
    assert ac.make_run("m", None, 0, "x", ["x"], sequence, end="```").ended == "out of room"


def test_the_demo_prints_every_step_of_a_sequence_with_its_noise():
    console = Console(record=True, width=120)
    ac.demo(argparse.Namespace(seed=1), console)
    text = console.export_text()
    sequence = ac.held_out_sequence(RECIPE, 1)
    assert text.count("step ") == len(RECIPE.sizes) and "75% noise" in text
    assert "\n".join(sequence.noisy[-1]) in text
    parser = argparse.ArgumentParser()
    ac.add_arguments(parser)
    assert parser.parse_args([]).seed == 0
