import pytest

from snippets import stories


def test_items_are_deterministic_and_counterbalanced():
    items = stories.items()
    assert items == stories.items()
    assert len(items) == sum(len(v) for v in stories.VALUES.values()) * 2
    orders = {(i.kind, i.pair): set() for i in items}
    for item in items:
        orders[(item.kind, item.pair)].add((item.first, item.second))
        assert item.first in stories.VALUES[item.kind] and item.second in stories.VALUES[item.kind]
        assert item.name != item.asker
    for pair in orders.values():  # both orders of every pair
        (a, b), (c, d) = sorted(pair)
        assert (a, b) == (d, c)
    assert len({i.template for i in items}) == sum(len(t) for t in stories.TEMPLATES.values())
    assert len({i.name for i in items}) == len(stories.NAMES)


def last_mentioned(item, condition):
    story = item.prompt(condition).rsplit(" So ", 1)[0]
    first, second = story.rfind(f" {item.first}"), story.rfind(f" {item.second}")
    return "X" if first > second else "Y"


@pytest.mark.parametrize("condition", stories.CONDITIONS, ids=lambda c: c.name)
def test_each_condition_mentions_last_what_it_says(condition):
    for item in stories.items():
        prompt = item.prompt(condition)
        assert prompt.startswith(item.template[0].replace("{name}", item.name).format(v=item.first))
        assert prompt.endswith(" " + item.template[2].replace("{name}", item.name))
        assert "{" not in prompt
        assert last_mentioned(item, condition) == condition.last


def test_values_and_groups():
    item = stories.items()[0]
    assert (item.value("X"), item.value("Y")) == (item.first, item.second)
    assert item.group == f"{item.kind}-{item.pair}"
    with pytest.raises(KeyError):
        item.value("Z")
    assert stories.BY_NAME["corrected"].valid == "Y"
    assert stories.items()[1].group == item.group


@pytest.mark.claim
def test_every_value_is_one_token_after_a_space(lm):
    for values in stories.VALUES.values():
        for value in values:
            assert len(lm.tokenizer(f" {value}").input_ids) == 1, value
