"""The interactive lens grid's data against the Python lenses, and the page in a real browser.

Every stored cell is compared with the lenses the page shows (snippets/logit_lens.py
`residual_stream`, `logit_lens`; snippets/tuned_lens.py `tuned_lens`), recomputed here."""

import functools
import json
import math
import random
import re

import pytest
import torch

from bench import weights
from snippets import lens_explorer as lx
from snippets import logit_lens as ll
from snippets import tuned_lens as tl
from snippets.next_token import show_token, token_text

P_HALF = 0.5 / lx.P_SCALE + 1e-6  # rounding to the nearest step: off by at most half of one
H_HALF = 0.5 / lx.ENTROPY_SCALE + 1e-6


@functools.lru_cache(maxsize=1)  # a prompt's lenses are large: keep one at a time
def python_lens(label: str) -> dict:
    """The lenses as the page's own code computes them, and what the grid must show."""
    from state_simulators.model import load

    lm, maps = load(), tl.translators()
    prompt = lx.PROMPTS[label]
    states, logits = ll.residual_stream(prompt, lm)
    ids = lm.tokenizer(prompt, return_tensors="pt").input_ids
    lenses = {
        "logit": ll.logit_lens(states, lm),
        "tuned": tl.tuned_lens(tl.residual_states(ids, lm)[:, 0], maps["weight"], maps["bias"], lm),
    }
    answers = logits.argmax(dim=-1)
    found = {"ids": ids[0].tolist(), "answers": answers.tolist(), "lenses": {}}
    for name, z in lenses.items():
        p = torch.softmax(z.double(), dim=-1)
        answer_z = z.gather(-1, answers.expand(len(z), -1)[..., None])
        found["lenses"][name] = {
            "p": p.float(),  # rounding to float32 moves a probability by far less than a step
            "top": z.topk(lx.TOP, dim=-1).indices,
            "entropy": torch.special.entr(p).sum(dim=-1) / math.log(2),
            "rank": (z > answer_z).sum(dim=-1) + 1,
        }
    return found


def grid(values: list[int], layers: int, positions: int, *rest: int) -> torch.Tensor:
    return torch.tensor(values).reshape(layers + 1, positions, *rest)


def test_encode_writes_runs_of_zeros_short_and_decodes_exactly():
    rng = random.Random(0)
    for _ in range(200):
        values = [rng.choice([0, 0, 0, 1, 7, 1000, 49151]) for _ in range(rng.randrange(0, 40))]
        assert lx.decode(lx.encode(values)) == values
    assert lx.encode([0, 0, 0, 5, 0, 12, 0, 0]) == "z3 5 0 12 z2"
    assert lx.encode([]) == "" and lx.decode("") == []


@pytest.mark.parametrize("label", list(lx.PROMPTS))
def test_every_cell_is_the_python_lens(lm, label):
    """For every layer and position of both lenses: the top tokens exactly, their
    probabilities, the final answer's probability within the stated step, its rank exactly,
    the entropy within its step; the final answers are the model's own top tokens."""
    stored, want = lx.prompt_file(label), python_lens(label)
    layers, positions = stored["layers"], stored["positions"]
    ids = torch.tensor(stored["ids"])
    assert [stored["tokens"][i] for i in range(len(ids))] == [token_text(lm.tokenizer, int(t)) for t in ids]
    assert ids[stored["inputs"]].tolist() == want["ids"]
    assert ids[stored["answers"]].tolist() == want["answers"]
    assert layers == lm.model.config.num_hidden_layers and positions == len(want["ids"])
    for name, lens in want["lenses"].items():
        data = stored["lenses"][name]
        top = ids[grid(lx.decode(data["top"]), layers, positions, lx.TOP)]
        assert torch.equal(top, lens["top"]), name
        top_p = grid(lx.decode(data["top_p"]), layers, positions, lx.TOP) / lx.P_SCALE
        assert (top_p - lens["p"].gather(-1, top)).abs().max() <= P_HALF
        answer = torch.tensor(want["answers"]).expand(layers + 1, -1)[..., None]
        answer_p = grid(lx.decode(data["answer_p"]), layers, positions) / lx.P_SCALE
        assert (answer_p - lens["p"].gather(-1, answer)[..., 0]).abs().max() <= P_HALF
        assert torch.equal(grid(lx.decode(data["answer_rank"]), layers, positions), lens["rank"])
        entropy = grid(lx.decode(data["entropy"]), layers, positions) / lx.ENTROPY_SCALE
        assert (entropy - lens["entropy"]).abs().max() <= H_HALF
        for token, text in zip(ids[data["targets"]], data["target_p"]):
            p = grid(lx.decode(text), layers, positions) / lx.P_SCALE
            assert (p - lens["p"][..., token]).abs().max() <= P_HALF


def test_the_last_position_is_what_the_page_tracks(lm):
    """At the last position of a prompt the grid holds the track of the page's earlier figure:
    the final answer, its rank through both lenses, its probability through the logit lens."""
    stored = lx.prompt_file("code")
    track = ll.track_answer(lx.PROMPTS["code"], lm)
    layers, positions = stored["layers"], stored["positions"]
    assert stored["tokens"][stored["answers"][-1]] == track["answer"]
    logit, tuned = stored["lenses"]["logit"], stored["lenses"]["tuned"]
    assert grid(lx.decode(logit["answer_rank"]), layers, positions)[:, -1].tolist() == track["rank"]
    p = grid(lx.decode(logit["answer_p"]), layers, positions)[:, -1] / lx.P_SCALE
    assert (p - torch.tensor(track["probability"])).abs().max() <= P_HALF + 1e-6
    ranks = tl.track_rank(lx.PROMPTS["code"], lm, tl.translators())
    assert grid(lx.decode(tuned["answer_rank"]), layers, positions)[:, -1].tolist() == ranks


@pytest.mark.parametrize("label", list(lx.PROMPTS))
def test_the_picker_lists_every_top_token_by_its_best_probability(lm, label):
    stored, want = lx.prompt_file(label), python_lens(label)
    ids = stored["ids"]
    for name, lens in want["lenses"].items():
        targets = [ids[i] for i in stored["lenses"][name]["targets"]]
        tops = {int(t) for t in lens["top"][..., 0].flatten()}
        assert sorted(targets) == sorted(tops)  # every top-1 token of the lens, once
        best = [float(lens["p"][..., t].max()) for t in targets]
        assert best == sorted(best, reverse=True), name


def test_the_data_functions_and_the_facts(lm):
    served = {k: v for k, v in lx.lens_grid_json().items() if k not in lx.header()}
    assert lx.prompt_data("grid", lm, tl.translators()) == served
    assert lx.lens_code_json()["prompt"] == lx.PROMPTS["code"] and lx.lens_story_json()["label"] == "story"
    head = lx.header()
    assert [p["src"] for p in head["prompts"]] == [f"lens-{label}.json" for label in lx.PROMPTS]
    assert head["vocab"] == lm.model.config.vocab_size and head["lens_names"] == ["logit", "tuned"]
    facts = lx.lens_explorer_facts()
    assert (
        facts["p_step"] == f"{100 / lx.P_SCALE:g} %" and float(facts["entropy_step"]) == 1 / lx.ENTROPY_SCALE
    )
    assert facts["prompts"] == str(len(lx.PROMPTS)) and facts["others"] == str(len(lx.PROMPTS) - 1)
    sizes = [lx.served_bytes(lx.prompt_file(label)) for label in lx.PROMPTS]
    assert facts["kb_grid"] == f"{sizes[0] / 1024:.0f}" and facts["kb_all"] == f"{sum(sizes) / 1024:.0f}"


def test_the_site_serves_the_files_byte_for_byte(built_site, lm):
    html = (built_site / "logit-lens" / "index.html").read_text()
    listed = re.search(r'id="ss-lens" data-src="([^"]+)"', html).group(1).split()
    assert listed == [f"../data/lens-{label}.json" for label in lx.PROMPTS]
    for label in lx.PROMPTS:
        served = (built_site / "data" / f"lens-{label}.json").read_bytes()
        fresh = json.dumps(lx.prompt_file(label), sort_keys=True, indent=1, ensure_ascii=False)
        assert served == fresh.encode(), label
    # the page with its assets, and every prompt's file (loaded only when the view opens and
    # when a prompt is chosen), within the budget for a page
    sizes = sum((built_site / "data" / f"lens-{label}.json").stat().st_size for label in lx.PROMPTS)
    page = next(w for w in weights.page_weights(built_site) if w["page"] == "logit-lens/index.html")
    assert page["total"] + sizes <= weights.PAGE_MAX_BYTES


# ---- the page in a real browser ----


def percent(text: str) -> float | None:
    """A probability as the page writes it: "12.3 %", or "< 0.05 %" for a stored 0 (None)."""
    return None if text.startswith("<") else float(text.rstrip(" %")) / 100


def check_probability(text: str, p: float, where):
    shown = percent(text)
    if shown is None:
        assert p < 0.5 / lx.P_SCALE + 1e-9, where
    else:
        assert abs(shown - p) <= P_HALF + 1e-9, where


def read_selection(page) -> dict:
    attrs = page.eval_on_selector(
        "#ss-lens", "el => Object.fromEntries([...el.attributes].map(a => [a.name, a.value]))"
    )
    return {k[5:]: v for k, v in attrs.items() if k.startswith("data-") and k != "data-src"}


def check_readout(page, label: str, lens: str, mode: str, target: int | None, layer: int, position: int, lm):
    """What the page shows for the selected cell, against the Python lens."""
    want = python_lens(label)["lenses"][lens]
    vocab = lm.model.config.vocab_size
    where = (label, lens, mode, target, layer, position)
    selection = read_selection(page)
    assert (selection["prompt"], selection["lens"], selection["mode"]) == (label, lens, mode), where
    assert (int(selection["layer"]), int(selection["position"])) == (layer, position), where
    items = page.locator("#ss-lens-top li")
    tokens = items.locator(".ss-lens-tok").all_text_contents()
    top = want["top"][layer, position].tolist()
    assert tokens == [show_token(token_text(lm.tokenizer, t)) for t in top], where
    for text, t in zip(items.locator(".ss-lens-p").all_text_contents(), top):
        check_probability(text, float(want["p"][layer, position, t]), where)
    cell = page.locator(f'.ss-lens-cell[data-layer="{layer}"][data-position="{position}"]')
    assert cell.text_content() == tokens[0]
    assert cell.get_attribute("aria-selected") == "true" and cell.get_attribute("tabindex") == "0"
    shade = float(cell.evaluate("c => c.style.getPropertyValue('--v')"))
    value = page.text_content("#ss-lens-value")
    answer = python_lens(label)["answers"][position]
    label_text = page.text_content("#ss-lens-value-label")
    if mode == "probability":
        token = answer if target is None else target
        p = float(want["p"][layer, position, token])
        check_probability(value, p, where)
        assert show_token(token_text(lm.tokenizer, token)) in label_text, where
        assert abs(shade - p) <= P_HALF + 1e-4, where
    elif mode == "rank":
        rank = int(want["rank"][layer, position])
        assert int(value.replace(",", "")) == rank, where
        assert show_token(token_text(lm.tokenizer, answer)) in label_text, where
        assert abs(shade - (1 - math.log(rank) / math.log(vocab))) <= 1e-4, where
    else:
        bits = float(want["entropy"][layer, position])
        assert abs(float(value.removesuffix(" bits")) - bits) <= H_HALF + 1e-9, where
        assert abs(shade - bits / math.log2(vocab)) <= H_HALF / math.log2(vocab) + 1e-4, where


def choose(page, label: str, lens: str, mode: str):
    labels = list(lx.PROMPTS)
    page.select_option("#ss-lens-prompt", str(labels.index(label)))
    page.wait_for_function(f"document.getElementById('ss-lens').dataset.prompt === '{label}'")
    page.check(f"#ss-lens-lens-{lens}")
    page.check(f"#ss-lens-mode-{mode}")


def cell(page, layer: int, position: int):
    return page.locator(f'.ss-lens-cell[data-layer="{layer}"][data-position="{position}"]')


def open_view(page, site_url, requests):
    page.on("request", lambda r: requests.append(r.url))
    page.goto(site_url + "logit-lens/", wait_until="networkidle")
    assert not [url for url in requests if "/data/lens-" in url]  # not loaded before it is near
    page.locator("#ss-lens").scroll_into_view_if_needed()
    page.wait_for_selector("#ss-lens[data-ready=true]")
    assert [url for url in requests if "/data/lens-" in url] == [site_url + "data/lens-grid.json"]


def test_the_grid_shows_what_the_python_lens_computes(page, site_url, built_site, lm):
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_viewport_size({"width": 1280, "height": 900})
    open_view(page, site_url, requests)
    layers = lm.model.config.num_hidden_layers
    positions = {label: len(python_lens(label)["ids"]) for label in lx.PROMPTS}

    # it starts at the model's own prediction: the top layer, the last position
    check_readout(page, "grid", "logit", "probability", None, layers, positions["grid"] - 1, lm)

    # hover, in each lens and colour
    for lens, mode, layer, position in (
        ("logit", "probability", layers // 2, 3),
        ("tuned", "rank", layers - 2, positions["grid"] - 1),
        ("tuned", "entropy", 0, 1),
        ("logit", "rank", layers - 1, 4),
    ):
        choose(page, "grid", lens, mode)
        cell(page, layer, position).hover()
        check_readout(page, "grid", lens, mode, None, layer, position, lm)

    # the keyboard: a tap/click focuses a cell; the arrows move the focused cell
    choose(page, "code", "tuned", "entropy")
    cell(page, 2, 1).click()
    check_readout(page, "code", "tuned", "entropy", None, 2, 1, lm)
    for key in ("ArrowUp", "ArrowUp", "ArrowUp", "ArrowRight", "ArrowRight", "ArrowLeft"):
        page.keyboard.press(key)
    check_readout(page, "code", "tuned", "entropy", None, 5, 2, lm)
    focused = page.evaluate("[document.activeElement.dataset.layer, document.activeElement.dataset.position]")
    assert focused == ["5", "2"]
    ring = page.evaluate("getComputedStyle(document.activeElement).boxShadow")
    assert ring != "none" and "3px" in ring  # the focus ring
    for key, (layer, position) in (
        ("End", (5, positions["code"] - 1)),
        ("PageUp", (layers, positions["code"] - 1)),
        ("ArrowUp", (layers, positions["code"] - 1)),  # stays on the grid
        ("Home", (layers, 0)),
        ("ArrowLeft", (layers, 0)),
        ("PageDown", (0, 0)),
        ("ArrowDown", (0, 0)),
    ):
        page.keyboard.press(key)
        check_readout(page, "code", "tuned", "entropy", None, layer, position, lm)
    page.keyboard.press("ArrowRight")
    check_readout(page, "code", "tuned", "entropy", None, 0, 1, lm)

    # the picker: in both lenses, tokens by their best probability; pick the best one
    choose(page, "story", "tuned", "probability")
    for lens in ("tuned", "logit"):
        page.check(f"#ss-lens-lens-{lens}")
        want = python_lens("story")["lenses"][lens]
        options = page.locator("#ss-lens-target option").all_text_contents()
        stored = lx.prompt_file("story")
        targets = [stored["ids"][i] for i in stored["lenses"][lens]["targets"]]
        assert len(options) == 1 + len(targets)
        for text, token in zip(options[1:], targets):
            shown, best = text.split(" \u2014 best ")
            assert shown == show_token(token_text(lm.tokenizer, token))
            check_probability(best.split(" (")[0], float(want["p"][..., token].max()), (lens, token))
        page.select_option("#ss-lens-target", index=1)
        assert int(read_selection(page)["target"]) == stored["lenses"][lens]["targets"][0]
        layer, position = layers - 3, positions["story"] - 2
        cell(page, layer, position).click()
        check_readout(page, "story", lens, "probability", targets[0], layer, position, lm)
        # the rank is of the final answer, whatever the picker says
        page.check("#ss-lens-mode-rank")
        assert page.is_disabled("#ss-lens-target")
        check_readout(page, "story", lens, "rank", None, layer, position, lm)
        page.check("#ss-lens-mode-probability")

    assert errors == []
    assert all(url.startswith(site_url) for url in requests)
    assert {url for url in requests if "/data/lens-" in url} == {
        site_url + f"data/lens-{label}.json" for label in lx.PROMPTS
    }


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_on_a_phone_the_grid_scrolls_in_its_own_box(page, site_url, built_site, scheme):
    page.set_viewport_size({"width": 390, "height": 844})
    page.emulate_media(color_scheme=scheme)
    open_view(page, site_url, [])
    assert page.evaluate("document.body.dataset.mdColorScheme") == (
        "slate" if scheme == "dark" else "default"
    )
    box = page.eval_on_selector(".ss-lens-scroll", "e => [e.scrollWidth, e.clientWidth]")
    assert box[0] > box[1]  # wider than the screen: it scrolls inside its box…
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # …not the page
    target = page.locator(".ss-lens-cell").first.bounding_box()
    assert target["width"] >= 44 and target["height"] >= 24  # touch targets
    label_size = page.eval_on_selector(".ss-lens-input", "e => parseFloat(getComputedStyle(e).fontSize)")
    assert label_size >= 11
    # the keys move the focused cell out to the right, and the box scrolls to keep it in view
    cell(page, 0, 0).click()
    assert page.eval_on_selector(".ss-lens-scroll", "e => e.scrollLeft") == 0
    page.keyboard.press("End")
    assert read_selection(page)["position"] == str(len(python_lens("grid")["ids"]) - 1)
    assert page.eval_on_selector(".ss-lens-scroll", "e => e.scrollLeft") > 0
