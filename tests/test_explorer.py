"""The explorer's data, and the page in a real browser against snippets/explorer.py."""

import json
import re

import pytest
import torch

from snippets import explorer as ex
from snippets.sampling import Samplers, survivors, warp
from state_simulators import includes

SHOWN = ex.SHOWN
SCENARIOS = [  # (prompt, setting, temperature last)
    ("story", Samplers(), False),
    ("story", Samplers(2.0, top_p=0.9), False),
    ("story", Samplers(2.0, min_p=0.1), False),
    ("fact", Samplers(0.7, top_k=5), False),
    ("cat", Samplers(1.5, top_k=200, top_p=0.95, min_p=0.05), False),
    ("weekend", Samplers(2.0, top_p=0.9), True),
    ("advice", Samplers(3.0, min_p=0.02), True),
    ("code", Samplers(0.05), False),
]


def test_compression_keeps_the_whole_vocabulary(lm):
    for z in ex.prompt_logits().values():
        entry = ex.compress(z, str)
        full = ex.expand(entry)
        assert full.numel() == z.numel()
        assert torch.equal(full, torch.sort(full, descending=True).values)
        assert full[ex.TOP] < full[ex.TOP - 1]  # the tail stays below the named tokens
        assert torch.allclose(
            full[: ex.TOP], torch.sort(z.double(), descending=True).values[: ex.TOP], atol=1e-4
        )
        assert entry["tokens"][0] == str(int(z.argmax()))


def test_the_stored_tail_changes_the_entropy_very_little(lm):
    assert ex.compression_error() < 0.005
    facts = ex.explorer_facts()
    assert float(facts["error"]) == pytest.approx(ex.compression_error(), abs=1e-4)
    assert facts["prompts"] == str(len(ex.PROMPTS))


def test_what_the_page_tells_readers_to_try_holds_for_any_model(lm):
    """Greedy keeps one token; temperature last cuts at T = 1; "others" grows with T."""
    for entry in ex.explorer_data()["prompts"]:
        assert ex.view(entry, Samplers(top_k=1))["survivors"] == 1
        rest = [
            1 - sum(ex.view(entry, Samplers(t))["probabilities"][:SHOWN]) for t in (0.5, 1.0, 1.5, 2.0, 3.0)
        ]
        assert rest == sorted(rest), entry["label"]
        last = ex.view(entry, Samplers(2.0, top_p=0.9), temperature_last=True)["survivors"]
        assert last == ex.view(entry, Samplers(1.0, top_p=0.9))["survivors"]


@pytest.mark.claim
def test_what_the_page_tells_readers_to_try(lm):
    """Top-p 0.9 at T = 2 lets thousands through on every prompt; min-p 0.1 not a tenth as many."""
    for entry in ex.explorer_data()["prompts"]:
        top_p = ex.view(entry, Samplers(2.0, top_p=0.9))["survivors"]
        assert top_p > 1000, entry["label"]
        assert ex.view(entry, Samplers(2.0, min_p=0.1))["survivors"] * 10 < top_p, entry["label"]
        rest = 1 - sum(ex.view(entry, Samplers(3.0))["probabilities"][:SHOWN])
        assert rest > 0.5, entry["label"]  # "others" swallows the probability
        last = ex.view(entry, Samplers(2.0, top_p=0.9), temperature_last=True)["survivors"]
        assert last < top_p


def test_view_is_the_samplers_on_the_expanded_logits(lm):
    entry = ex.explorer_data()["prompts"][1]
    setting = Samplers(1.5, top_k=100, top_p=0.9)
    shown = ex.view(entry, setting)
    logits = warp(ex.expand(entry), setting)
    assert shown["survivors"] == survivors(logits)
    assert shown["probabilities"] == torch.softmax(logits, dim=-1)[: ex.TOP].tolist()


def test_the_data_file_carries_the_sliders_starting_setting(lm):
    content = ex.explorer_data()
    assert content["samplers"] == ex.SLIDERS.to_json() and ex.explorer_json() == content
    assert Samplers(**content["samplers"]) == ex.SLIDERS
    assert content["vocab"] == lm.model.config.vocab_size
    others = {f"others_{label}_1" for label in ("weekend", "cat", "fact", "code")}
    assert set(ex.explorer_facts()) == {
        "prompts", "top", "bin", "kilobytes", "error", "checked", "shown", "others_table", "others_least_2"
    } | others  # fmt: skip


def test_the_page_draws_as_many_bars_as_python_counts():
    script = (includes.DOCS / "javascripts" / "explorer.js").read_text()
    assert re.search(r"var SHOWN = (\d+);", script).group(1) == str(ex.SHOWN)


def test_others_is_the_mass_outside_the_bars(lm):
    entry = ex.explorer_data()["prompts"][0]
    p = torch.softmax(ex.expand(entry) / 2.0, dim=-1)
    assert ex.others(entry, 2.0) == pytest.approx(float(p[ex.SHOWN :].sum()))
    table = ex.others_table().split("\n")
    assert len(table) == 2 + len(ex.PROMPTS)
    assert table[2].startswith(f"| {entry['label']} | {ex.others(entry, 1.0):.0%} |")


@pytest.mark.claim
def test_others_swallows_the_probability_on_open_prompts_first(lm):
    """What the page says: open prompts' "others" bar is large already at T = 1, the factual
    ones' small; at T = 1.5 not yet every prompt's is above half; at T = 2 every prompt's is."""
    entries = {entry["label"]: entry for entry in ex.explorer_data()["prompts"]}
    for label in ("weekend", "cat"):
        assert ex.others(entries[label], 1.0) > 0.5, label
    for label in ("fact", "code"):
        assert ex.others(entries[label], 1.0) < 0.1, label
    assert min(ex.others(e, 1.5) for e in entries.values()) < 0.5
    assert min(ex.others(e, 2.0) for e in entries.values()) > 0.5


def test_the_site_serves_what_the_code_computes(built_site, lm):
    served = json.loads((built_site / "data" / "explorer.json").read_text())
    fresh = ex.explorer_json()
    assert {k: v for k, v in served.items() if k != "prompts"} == {
        k: v for k, v in fresh.items() if k != "prompts"
    }
    for a, b in zip(served["prompts"], fresh["prompts"]):
        assert (a["label"], a["prompt"], a["tokens"]) == (b["label"], b["prompt"], b["tokens"])
        assert a["logits"] == pytest.approx(b["logits"], abs=1e-3)
        assert sum(n for _, n in a["tail"]) == sum(n for _, n in b["tail"]) == served["vocab"] - ex.TOP


def set_range(page, name, value):
    page.eval_on_selector(
        f"#ss-ex-{name}",
        "(el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }",
        str(value),
    )


def number(text):
    return float(re.sub(r"[^0-9.\-]", "", text))


def test_the_explorer_page_computes_what_python_computes(page, site_url, built_site):
    data = json.loads((built_site / "data" / "explorer.json").read_text())
    labels = [entry["label"] for entry in data["prompts"]]
    errors, requests = [], []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("request", lambda r: requests.append(r.url))
    page.goto(site_url + "explorer/")
    page.wait_for_selector("#ss-explorer[data-ready=true]")
    # the sliders start where the data file says, every cut switched off
    start = Samplers(**json.loads(page.get_attribute("#ss-explorer", "data-samplers")))
    assert start == Samplers(data["samplers"]["temperature"])
    assert int(page.text_content("#ss-ex-k-value")) == data["samplers"]["top_k"]
    assert float(page.text_content("#ss-ex-min-p-value")) == data["samplers"]["min_p"]
    for label, setting, last in SCENARIOS:
        scenario = (label, setting.label, last)
        page.select_option("#ss-ex-prompt", str(labels.index(label)))
        set_range(page, "temperature", setting.temperature)
        for name, value in (("k", setting.top_k), ("p", setting.top_p), ("min-p", setting.min_p)):
            page.set_checked(f"#ss-ex-{name}-on", value is not None)
            if value is not None:
                set_range(page, name, value)
        page.set_checked("#ss-ex-last", last)
        # the setting as the page holds it, in Samplers' own form, fed to Python
        shown_setting = Samplers(**json.loads(page.get_attribute("#ss-explorer", "data-samplers")))
        assert shown_setting == setting, scenario
        assert float(page.text_content("#ss-ex-temperature-value")) == setting.temperature
        entry = data["prompts"][labels.index(label)]
        want = ex.view(entry, shown_setting, temperature_last=last)

        shown_entropy = number(page.text_content("#ss-ex-entropy"))
        assert shown_entropy == pytest.approx(want["entropy"], abs=0.0006), scenario
        shown_survivors = page.text_content("#ss-ex-survivors").split(" of ")
        assert int(shown_survivors[0].replace(",", "")) == want["survivors"], scenario
        assert int(shown_survivors[1].replace(",", "")) == data["vocab"]
        shown = page.locator(".ss-ex-bar[data-rank] .ss-ex-p").all_text_contents()
        assert len(shown) == SHOWN
        for i, text in enumerate(shown):
            if want["kept"][i]:
                assert number(text) == pytest.approx(100 * want["probabilities"][i], abs=0.0051), (
                    scenario,
                    i,
                )
            else:
                assert text == "cut", (scenario, i)
        others = page.text_content("#ss-ex-rest .ss-ex-token")
        assert int(others.split()[0].replace(",", "")) == want["survivors"] - sum(want["kept"][:SHOWN])
        rest = 1 - sum(want["probabilities"][:SHOWN])
        assert number(page.text_content("#ss-ex-rest .ss-ex-p")) == pytest.approx(100 * rest, abs=0.0051)

    # greedy: with top-k 1 every draw is the top token
    page.set_checked("#ss-ex-k-on", True)
    set_range(page, "k", 1)
    for _ in range(5):
        page.click("#ss-ex-draw")
    draws = page.locator(".ss-ex-draw").evaluate_all("nodes => nodes.map(n => n.dataset.rank)")
    assert draws == ["1"] * 5
    assert errors == []
    assert all(url.startswith(site_url) for url in requests)
