import json
import re

import numpy as np
import pytest
import torch

from snippets import attention as at
from snippets import attention_figures as af
from snippets.plotting import to_svg


@pytest.fixture(scope="module")
def found(lm):
    return at.head_scores()


def test_spoken_lists():
    assert af.spoken([]) == "none"
    assert af.spoken([7]) == "7"
    assert af.spoken([1, 2, 10]) == "1, 2 and 10"


def test_full_groups_needs_every_head_of_a_shared_key_value_head():
    is_head = np.zeros((3, 6), dtype=bool)
    is_head[1, 3:6] = True  # the whole second group at layer 1
    is_head[2, 0:2] = True  # two of the first group's three at layer 2
    assert af.full_groups(is_head, [0, 0, 0, 1, 1, 1]) == (
        "layer 1's key/value head 1 (query heads 3, 4 and 5)"
    )
    # without grouped-query attention a "group" is one head: nothing shared to report
    assert af.full_groups(is_head, [0, 1, 2, 3, 4, 5]) == "none"


def test_composition_says_where_the_previous_token_head_sits():
    is_induction = np.zeros((4, 2), dtype=bool)
    is_induction[2, 1] = True
    assert af.composition((1, 0), is_induction).startswith("sits below every induction head")
    assert af.composition((3, 0), is_induction) == "does not sit below every induction head"
    assert af.composition((0, 0), np.zeros((4, 2), dtype=bool)).startswith("does not")


def test_top_heads_are_the_best_means_in_order():
    scores = np.zeros((2, 3, 2))
    scores[:, 2, 1], scores[:, 0, 0], scores[0, 1, 1] = 0.9, 0.5, 0.2
    assert af.top_heads(scores, 3) == [(2, 1), (0, 0), (1, 1)]


def test_what_the_layers_before_the_writer_do_is_said_either_way():
    from snippets.intervals import Interval

    curve = [Interval(v, v, v, 2) for v in (0.1, 0.5, 0.6, 0.05)]
    assert af.before_writer(curve, 3).startswith("Layers 1 and 2 already give")
    assert af.before_writer(curve, 1) == "No layer before it gives the first position much weight"


def test_the_uniform_baseline():
    assert af.uniform_previous(3) == pytest.approx((1 / 2 + 1 / 3) / 2)


def test_the_figures_draw(lm):
    for draw in (af.sink_figure, af.head_scores_figure, af.correction_figure):
        assert to_svg(draw()).startswith(b"<?xml")


def test_the_facts_agree_with_the_scores(lm, found):
    facts = af.attention_facts()
    induction = found["induction"].mean(axis=0)
    assert int(facts["induction_heads"]) == int((induction >= af.INDUCTION_HEAD).sum())
    layer, head = af.top_heads(found["induction"], 1)[0]
    assert (facts["induction_best_layer"], facts["induction_best_head"]) == (str(layer), str(head))
    assert facts["heads_table"].count("\n") == 2 + 2 * af.TOP - 1
    assert int(facts["windows"]) == found["sink"].shape[0] >= 2
    assert int(facts["heads"]) == int(facts["kv_heads"]) * int(facts["group"])
    assert "{" not in "".join(facts.values())


def test_the_index_lists_every_view(lm):
    index = af.viewer_index()
    files = {af.story_view: "story", af.icl_view: "icl", af.code_view: "code", af.repeated_view: "repeated"}
    for make, label in files.items():
        assert make.artifact[1] == f"attention-{label}.json"
        assert make() == af.viewer(label)
    assert [v["label"] for v in index["views"]] == list(af.VIEWS)
    for view in index["views"]:
        entry = af.viewer(view["label"])
        assert view["tokens"] == len(entry["tokens"])
        assert view["title"] == entry["title"]


@pytest.mark.claim
def test_the_three_patterns_and_their_controls(found):
    layers = af.layer_intervals(found["sink"])
    control = af.layer_intervals(found["second"])
    # the first position is a sink at most layers, the second position never
    assert sum(i.low > 0.3 for i in layers) >= len(layers) // 2
    assert max(i.high for i in control) < 0.1
    # previous-token heads exist, far above a head that spreads its weight evenly
    best = af.head_interval(found["previous"], *af.top_heads(found["previous"], 1)[0])
    assert best.low > af.PREVIOUS_HEAD > 5 * af.uniform_previous(at.WINDOW)
    # induction heads exist, and the same offset without a repeat draws almost nothing
    layer, head = af.top_heads(found["induction"], 1)[0]
    assert af.head_interval(found["induction"], layer, head).low > 0.5
    assert af.head_interval(found["induction_control"], layer, head).high < 0.05
    is_induction = found["induction"].mean(axis=0) >= af.INDUCTION_HEAD
    assert found["induction_control"].mean(axis=0)[is_induction].max() < 0.05


@pytest.mark.claim
def test_a_correction_widens_the_gap_between_the_values_it_reads():
    found = at.correction_reads()
    gap = {c: found[c][:, 1].sum(axis=1) - found[c][:, 0].sum(axis=1) for c in at.CONDITIONS}
    # the later value is read more in both conditions, and more still when it corrects
    assert all(af.bootstrap(g).low > 0 for g in gap.values())
    assert af.bootstrap(gap["corrected"] - gap["mentioned, not a correction"]).low > 0
    # mostly because the overturned value is read less, not the correction more
    total = {c: found[c].sum(axis=2).mean(axis=0) for c in at.CONDITIONS}  # (first, second)
    corrected, mentioned = total["corrected"], total["mentioned, not a correction"]
    assert mentioned[0] - corrected[0] > corrected[1] - mentioned[1]


def decoded(built_site, label):
    return at.decode_weights(json.loads((built_site / "data" / f"attention-{label}.json").read_text()))


def readout(page) -> tuple[str, float]:
    current = page.get_attribute("#ss-attention", "data-current")
    return current, float(page.get_attribute("#ss-attention", "data-weight"))


def test_the_viewer_shows_the_weights_python_computes(page, site_url, built_site, lm):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(site_url + "attention/")
    page.wait_for_selector("#ss-attention[data-ready=true]")
    index = json.loads((built_site / "data" / "attention-index.json").read_text())
    # it opens where the page says: the strongest induction head, on the repeated tokens
    facts = af.attention_facts()
    label, layer, head, q, k = readout(page)[0].split()
    assert (label, layer, head) == ("repeated", facts["induction_best_layer"], facts["induction_best_head"])
    weights = decoded(built_site, "repeated")
    assert int(k) == int(np.argmax(weights[int(layer), int(head), int(q)]))
    # the keyboard: Home goes to the first key, arrows move, a key never passes the query
    page.focus("#ss-attention canvas.ss-at-map")
    for key in ("Home", "ArrowUp", "ArrowUp", "ArrowRight", "ArrowRight", "End", "ArrowRight"):
        page.keyboard.press(key)
    current, shown = readout(page)
    n = len(weights[0, 0])
    assert current.split()[3:] == [str(n - 3), str(n - 3)]
    exact = at.attention(torch.tensor([at.view_ids("repeated", lm)]), lm)[0].numpy()
    shown_step = 0.5 / at.SCALE + 0.0005  # the stored byte's rounding, then the readout's
    assert shown == pytest.approx(exact[int(layer), int(head), n - 3, n - 3], abs=shown_step)
    # another text, the mean over heads, a cell chosen with the mouse
    page.select_option("#ss-attention select[aria-label=text]", "story")
    page.wait_for_function("document.querySelector('#ss-attention').dataset.current.startsWith('story')")
    page.select_option("#ss-attention select[aria-label=layer]", "21")
    page.select_option("#ss-attention select[aria-label=head]", "-1")
    story = decoded(built_site, "story")
    canvas = page.locator("#ss-attention canvas.ss-at-map")
    box = canvas.bounding_box()
    label_px, cell = (float(canvas.get_attribute(f"data-{a}")) for a in ("label", "cell"))
    q, k = len(story[0, 0]) - 1, 4
    page.mouse.click(box["x"] + label_px + (k + 0.5) * cell, box["y"] + label_px + (q + 0.5) * cell)
    current, shown = readout(page)
    assert current == f"story 21 -1 {q} {k}"
    assert shown == pytest.approx(story[21, :, q, k].mean(), abs=0.0005)
    text = page.text_content(".ss-at-readout")
    tokens = af.viewer("story")["tokens"]
    assert re.search(rf"query “{re.escape(tokens[q].replace(' ', '␣'))}” \(position {q}\)", text)
    assert f"key “{tokens[k].replace(' ', '␣')}” (position {k})" in text
    # a small map selects its head
    page.click("#ss-attention .ss-at-heads button[data-head='4']")
    assert readout(page)[0] == f"story 21 4 {q} {k}"
    assert page.get_attribute("#ss-attention button[data-head='4']", "aria-pressed") == "true"
    # files are fetched as texts are chosen: the index and the two texts shown, not all four
    fetched = sorted(r.rsplit("/", 1)[1] for r in requests if "/data/attention-" in r)
    assert len(index["views"]) == 4
    assert fetched == ["attention-index.json", "attention-repeated.json", "attention-story.json"]
