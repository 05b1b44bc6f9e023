"""Formulas become MathML, or fail naming the formula; TeX left in a page is caught."""

import pytest

from state_simulators import mathml

# What the site's pages and their contributors write: each must convert with nothing left as text.
SUPPORTED = [
    r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}",
    r"H(p) = -\sum_i p_i \log_2 p_i",
    r"\operatorname{softmax}(z)_i",
    r"\mathbb{E}[x] \approx \hat{y}",
    r"\begin{aligned} a &= b + c \\ d &= e \end{aligned}",
    r"\begin{align*} a &= b \\ c &= d \end{align*}",
    r"\begin{gathered} a = b \\ c = d \end{gathered}",
    r"\begin{cases} 1 & x > 0 \\ 0 & \text{otherwise} \end{cases}",
    r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
    r"\text{RMSNorm}(x) = \frac{x}{\sqrt{\tfrac{1}{d}\sum_i x_i^2 + \epsilon}}",
    r"\lvert x \rvert \le \lVert x \rVert_2",
    r"x \mapsto W_U\, \mathrm{norm}(h_\ell)",
]
UNSUPPORTED = [r"\foo{x}", r"a \\ b", r"\begin{eqnarray} a &=& b \end{eqnarray}"]


@pytest.mark.parametrize("tex", SUPPORTED)
def test_common_constructs_render_with_nothing_left_as_text(tex):
    out = mathml.to_mathml(tex, display=True)
    assert out.startswith("<math") and 'display="block"' in out
    assert "&amp;" not in out and "\\" not in out


def test_aligned_rows_become_a_table():
    out = mathml.to_mathml(r"\begin{aligned} a &= b \\ d &= e \end{aligned}", display=True)
    assert out.count("<mtr>") == 2 and "<mi>&" not in out


@pytest.mark.parametrize("tex", UNSUPPORTED)
def test_what_cannot_render_faithfully_is_refused_naming_the_formula(tex):
    with pytest.raises(mathml.MathError, match="cannot render the formula"):
        mathml.to_mathml(tex, display=False)


def test_a_page_converts_inline_and_display_math():
    page = '<p><span class="arithmatex">\\(x^2\\)</span></p><div class="arithmatex">\\[y\\]</div>'
    out = mathml.convert_page(page)
    assert out.count("<math") == 2 and 'display="block"' in out and "arithmatex" not in out


@pytest.mark.parametrize(
    "html, found",
    [
        ("<td>$P(A</td><td>B)$</td>", True),
        ("<p>see \\(x\\) here</p>", True),
        ("<p>costs $5</p>", False),
        ("<pre><code>echo $HOME</code></pre>", False),
        ("<p><math><mi>x</mi></math></p>", False),
    ],
)
def test_tex_left_in_the_text_is_found(html, found):
    assert (mathml.leftover_tex(html) is not None) == found


def test_tex_the_converter_cannot_parse_is_refused_naming_it():
    with pytest.raises(mathml.MathError, match=r"cannot render the formula 'x\^': "):
        mathml.to_mathml("x^", display=False)
