"""The "predict, then reveal" questions: on every content page, closed until the reader clicks,
and the answers computed in snippets/questions.py.

Each question is a `??? question "Predict: …"` block (pymdownx.details), so the page loads
with the answer hidden; its answer's numbers are `{{ group.key }}` facts the build computed.
"""

import math
import re

import markdown
import pytest
import torch

from conftest import ROOT
from snippets import questions
from snippets.next_token import next_token_logits, show_token

CONTENT_PAGES = (
    "distributions",
    "temperature",
    "sampling",
    "explorer",
    "state-simulators",
    "kv-cache",
    "attention",
    "logit-lens",
    "layers-as-painters",
)
QUESTION = re.compile(r'^\?\?\?\+? question "Predict: ', re.MULTILINE)


@pytest.mark.parametrize("name", CONTENT_PAGES)
def test_each_content_page_asks_at_least_two_closed_questions(name):
    source = (ROOT / "docs" / f"{name}.md").read_text()
    asked = QUESTION.findall(source)
    assert len(asked) >= 2, f"docs/{name}.md asks {len(asked)} predict-then-reveal questions"
    assert all(not q.startswith("???+") for q in asked), f"docs/{name}.md opens a question at load"


def test_a_question_is_closed_at_load_and_reveals_computed_numbers(page, site_url):
    for name in CONTENT_PAGES:
        page.goto(f"{site_url}{name}/")
        questions = page.locator("article details.question")
        assert questions.count() >= 2, name
        for i in range(questions.count()):
            question = questions.nth(i)
            title = question.locator("summary").inner_text()
            assert title.startswith("Predict:"), (name, title)
            assert "{{" not in title, (name, title)
            assert question.get_attribute("open") is None, (name, title)
            answer = question.locator(":scope > :not(summary)").first
            assert not answer.is_visible(), f"{name}: the answer to {title!r} shows before a click"
            question.locator("summary").click()
            assert question.get_attribute("open") is not None, (name, title)
            assert answer.is_visible(), (name, title)
            revealed = question.inner_text()[len(title) :]
            assert re.search(r"\d", revealed), f"{name}: {title!r} reveals no number"
            assert "{{" not in revealed and "…" not in revealed, (name, title, revealed)


def test_min_p_survivors_are_the_tokens_within_p_base_of_the_best_at_that_temperature(lm):
    logits = next_token_logits(questions.STORY, lm).double()
    for temperature, p_base in ((questions.HOT, questions.MIN_P), (0.5, 0.3), (3.0, 0.05)):
        kept = questions.min_p_survivors(questions.STORY, temperature, p_base, lm)
        p = torch.softmax(logits / temperature, dim=-1)
        expected = int((p >= p_base * p.max()).sum())
        assert len(kept) == expected, (temperature, p_base)
        shares = [share for _, share in kept]
        assert shares == sorted(shares, reverse=True)
        assert math.isclose(sum(shares), 1.0, rel_tol=1e-4)
        ratio = p.max() / p[p >= p_base * p.max()].sum()
        assert math.isclose(shares[0], float(ratio), rel_tol=1e-3)
    assert kept[0][0] == lm.tokenizer.decode([int(logits.argmax())])


def test_min_p_survivors_name_the_fix_for_impossible_settings(lm):
    with pytest.raises(ValueError, match="min-p must be in"):
        questions.min_p_survivors(questions.STORY, 1.0, 1.5, lm)


@pytest.mark.parametrize("token", ["girl", "a`b", " `"])
def test_a_token_renders_as_one_code_span_whatever_it_holds(token):
    html = markdown.markdown(questions.code(token))
    assert html == f"<p><code>{token.strip()}</code></p>", html


def test_the_facts_list_every_survivor_in_the_page_s_order(lm):
    found = questions.questions_facts()
    kept = questions.min_p_survivors(questions.STORY, questions.HOT, questions.MIN_P)
    assert found["min_p_count"] == f"{len(kept):,}"
    assert found["min_p_tokens"].count("`") == 2 * len(kept)
    assert found["min_p_tokens"].startswith(f"`{show_token(kept[0][0])}`")
    assert found["story_prompt"] == questions.STORY and float(found["hot_t"]) == questions.HOT
