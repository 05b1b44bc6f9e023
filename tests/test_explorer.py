"""The explorer's data, and the page in a real browser against snippets/explorer.py."""

import json
import re

import pytest
import torch

from snippets import explorer as ex
from snippets.sampling import survivors, warp

SHOWN = 12  # bars the page draws for named tokens (docs/javascripts/explorer.js)
SCENARIOS = [
    dict(prompt="story"),
    dict(prompt="story", temperature=2.0, p=0.9),
    dict(prompt="story", temperature=2.0, p_base=0.1),
    dict(prompt="fact", temperature=0.7, k=5),
    dict(prompt="cat", temperature=1.5, k=200, p=0.95, p_base=0.05),
    dict(prompt="weekend", temperature=2.0, p=0.9, last=True),
    dict(prompt="advice", temperature=3.0, p_base=0.02, last=True),
    dict(prompt="code", temperature=0.05),
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


def test_what_the_page_tells_readers_to_try(lm):
    """Top-p 0.9 at T = 2 lets thousands through on every prompt; min-p 0.1 not a tenth as many."""
    for entry in ex.explorer_data()["prompts"]:
        top_p = ex.view(entry, 2.0, p=0.9)["survivors"]
        assert top_p > 1000, entry["label"]
        assert ex.view(entry, 2.0, p_base=0.1)["survivors"] * 10 < top_p, entry["label"]
        assert ex.view(entry, 1.0, k=1)["survivors"] == 1
        rest = [1 - sum(ex.view(entry, t)["probabilities"][:SHOWN]) for t in (0.5, 1.0, 1.5, 2.0, 3.0)]
        assert rest == sorted(rest) and rest[-1] > 0.5, entry["label"]  # "others" swallows it
        last = ex.view(entry, 2.0, p=0.9, temperature_last=True)["survivors"]
        assert last == ex.view(entry, 1.0, p=0.9)["survivors"] < top_p


def test_view_is_the_samplers_on_the_expanded_logits(lm):
    entry = ex.explorer_data()["prompts"][1]
    shown = ex.view(entry, 1.5, k=100, p=0.9)
    logits = warp(ex.expand(entry), 1.5, 100, 0.9)
    assert shown["survivors"] == survivors(logits)
    assert shown["probabilities"] == torch.softmax(logits, dim=-1)[: ex.TOP].tolist()


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
    for scenario in SCENARIOS:
        page.select_option("#ss-ex-prompt", str(labels.index(scenario["prompt"])))
        set_range(page, "temperature", scenario.get("temperature", 1.0))
        for name, key in (("k", "k"), ("p", "p"), ("min-p", "p_base")):
            page.set_checked(f"#ss-ex-{name}-on", key in scenario)
            if key in scenario:
                set_range(page, name, scenario[key])
        page.set_checked("#ss-ex-last", scenario.get("last", False))
        # the settings as the page shows them, fed to Python
        temperature = float(page.text_content("#ss-ex-temperature-value"))
        assert temperature == scenario.get("temperature", 1.0)
        settings = {
            key: (int if key == "k" else float)(page.text_content(f"#ss-ex-{name}-value"))
            for name, key in (("k", "k"), ("p", "p"), ("min-p", "p_base"))
            if key in scenario
        }
        entry = data["prompts"][labels.index(scenario["prompt"])]
        want = ex.view(entry, temperature, temperature_last=scenario.get("last", False), **settings)

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
