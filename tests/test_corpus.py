import pytest

from snippets import corpus


def test_the_text_has_six_chapters_split_into_parts_that_do_not_overlap():
    assert list(corpus.chapters()) == ["I", "II", "III", "IV", "V", "VI"]
    fit, held_out = corpus.text("fit"), corpus.text("held_out")
    assert fit.startswith("Down the Rabbit-Hole") and held_out.startswith("Advice from a Caterpillar")
    assert "Caterpillar and Alice" not in fit and "Down the Rabbit-Hole" not in held_out
    assert "GUTENBERG" not in fit + held_out  # licence header and footer removed


def test_windows_are_equal_length_raw_text_token_ids(lm):
    ids = corpus.windows(lm.tokenizer, "held_out", length=64)
    assert ids.shape[1] == 64 and ids.shape[0] >= 2
    plain = lm.tokenizer(corpus.text("held_out"), add_special_tokens=False)["input_ids"]
    assert ids.flatten().tolist() == plain[: ids.numel()]  # no BOS, nothing skipped


def test_an_unknown_part_or_too_long_a_window_is_refused_in_one_line(lm):
    with pytest.raises(ValueError, match="use one of fit, held_out"):
        corpus.text("test")
    with pytest.raises(ValueError, match="use windows shorter than"):
        corpus.windows(lm.tokenizer, "held_out", length=100_000)
