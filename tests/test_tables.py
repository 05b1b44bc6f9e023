import pytest

from snippets.tables import escape_cell, markdown_table


def test_a_table_has_a_header_an_alignment_row_and_one_line_per_row():
    table = markdown_table(["token", "p"], [["Paris", "0.77"], ["the", "0.06"]], ["left", "right"])
    assert table.splitlines() == ["| token | p |", "|:---|---:|", "| Paris | 0.77 |", "| the | 0.06 |"]


def test_cells_escape_pipes_backslashes_and_newlines():
    assert escape_cell("a|b\\c\nd") == "a\\|b\\\\c d"
    assert markdown_table(["x"], [["P(A|B)"]]).splitlines()[-1] == "| P(A\\|B) |"


def test_a_row_of_the_wrong_width_is_refused():
    with pytest.raises(ValueError, match="every row needs 2 cells"):
        markdown_table(["a", "b"], [["1"]])
