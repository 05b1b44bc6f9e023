from snippets import plotting


def draw():
    fig, ax = plotting.new_figure()
    ax.plot([0, 1, 2], [2, 0, 1], label="line")
    ax.legend()
    return fig


def test_svg_is_byte_identical_and_undated():
    first, second = plotting.to_svg(draw()), plotting.to_svg(draw())
    assert first == second
    assert b"<dc:date>" not in first and b"<svg" in first


def test_house_size_and_grids():
    fig, _ax = plotting.new_figure()
    assert tuple(fig.get_size_inches()) == (plotting.WIDTH, plotting.HEIGHT)
    fig, axes = plotting.new_figure(1, 2, height=2.0)
    assert len(axes) == 2 and fig.get_size_inches()[1] == 2.0


def test_a_label_the_font_cannot_draw_fails_naming_it():
    import pytest

    fig, ax = plotting.new_figure()
    ax.set_title("tokens: 東京")
    with pytest.raises(
        ValueError, match=r"the figure label 'tokens: 東京' has '東', which the plotting font lacks"
    ):
        plotting.to_svg(fig)
