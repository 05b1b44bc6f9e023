"""Every page links its code, its edit page and (a notebook page) its notebook; the notebook's
executed output is cached on the code it runs."""

import importlib.util
import json
import re
from pathlib import Path
from types import SimpleNamespace

import jupytext
import pytest
import yaml

from conftest import ROOT
from state_simulators import includes, keys, notebook_css, page_code, runner, sources

CONFIG = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=yaml.BaseLoader)  # tags as text
REPO = CONFIG["repo_url"]
PAGES = includes.pages()


def load_hook(name: str):
    spec = importlib.util.spec_from_file_location(f"{name}_hook", ROOT / "hooks" / f"{name}.py")
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    return hook


def built_page(site: Path, source: Path) -> str:
    return (site / source.stem / "index.html" if source.stem != "index" else site / "index.html").read_text()


def code_box(html: str) -> str:
    match = re.search(r'<div class="admonition abstract page-sources">(.*?)</div>', html, re.S)
    return match.group(1) if match else ""


@pytest.mark.parametrize("source", PAGES, ids=[p.name for p in PAGES])
def test_every_page_links_the_code_it_shows_its_tests_and_how_to_run_it(built_site, source):
    html = built_page(built_site, source)
    shown = page_code.shown_files(source.read_text(), notebook=source.suffix == ".py")
    box = code_box(html)
    assert bool(box) == bool(shown or source.suffix == ".py")
    for path in shown:
        assert f'href="{REPO}/blob/main/{path}"' in box, path
        test = page_code.test_file(path)
        assert (test is not None) == (f'href="{REPO}/blob/main/tests/' in box), path
        if test:
            assert f'href="{REPO}/blob/main/{test}"' in box, path
        name = path.removeprefix("snippets/").removesuffix(".py").replace("/", ".")
        assert (f"python -m snippets.{name}</code>" in box) == (name in runner.runnable_modules()), path


def test_the_data_for_the_box_names_files_tests_and_commands():
    text = '--8<-- "snippets/temperature.py:fit"\n--8<-- "state_simulators/model.py:load"\n'
    items = {item["path"]: item for item in page_code.items(text, "https://x/", notebook=False)}
    assert set(items) == {"snippets/temperature.py", "state_simulators/model.py"}
    assert items["snippets/temperature.py"]["command"] == "python -m snippets.temperature"
    assert items["state_simulators/model.py"]["command"] is None
    assert items["state_simulators/model.py"]["test_url"] == "https://x/blob/main/tests/test_model.py"


def test_test_files_mirror_the_code_files():
    assert page_code.test_file("snippets/temperature.py") == "tests/test_temperature.py"
    assert page_code.test_file("state_simulators/includes.py") == "tests/test_includes.py"
    assert page_code.test_file("snippets/no_such_module.py") is None


@pytest.mark.parametrize("source", PAGES, ids=[p.name for p in PAGES])
def test_every_page_has_edit_and_view_links_to_its_source(built_site, source):
    html = built_page(built_site, source)
    assert f'href="{REPO}/edit/main/docs/{source.name}" title="Edit this page"' in html
    assert f'href="{REPO}/raw/main/docs/{source.name}"' in html
    # The theme's repository box would fetch stars from api.github.com: it is overridden.
    assert 'data-md-component="source"' not in html and f'href="{REPO}"' in html


def test_a_notebook_page_offers_its_notebook(built_site):
    notebook = json.loads((built_site / "ascii-diffusion.ipynb").read_text())
    cells = jupytext.read(ROOT / "docs" / "ascii-diffusion.py").cells
    assert notebook["nbformat"] == 4 and len(notebook["cells"]) == len(cells)
    assert [c["cell_type"] for c in notebook["cells"]] == [c.cell_type for c in cells]
    html = built_page(built_site, ROOT / "docs" / "ascii-diffusion.py")
    # one download, in the code box, with the jupytext source it is made from named beside it
    assert html.count('href="../ascii-diffusion.ipynb"') == 1
    assert "<code>docs/ascii-diffusion.py</code>" in code_box(html)
    assert not (built_site / "ascii-diffusion" / "ascii-diffusion.py").exists()


def fake_jupyter(tmp_path, imports: str):
    notebook = tmp_path / "nb.py"
    notebook.write_text(f"# %%\n{imports}\n")
    plugin = SimpleNamespace(config={}, should_include=lambda file: file.abs_src_path.endswith(".py"))
    files = [SimpleNamespace(abs_src_path=str(notebook)), SimpleNamespace(abs_src_path="x.md")]
    config = SimpleNamespace(plugins={"mkdocs-jupyter": plugin})
    return plugin, files, config


def test_the_notebook_cache_folder_is_keyed_on_the_code_the_notebook_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_SIMULATORS_CACHE", str(tmp_path / "cache"))
    hook = load_hook("notebook_cache")
    folders = []
    for imports in (
        "import snippets.temperature",
        "from snippets.layers import x",
        "import snippets.temperature",
    ):
        plugin, files, config = fake_jupyter(tmp_path, imports)
        hook.on_files(files, config=config)
        folders.append(Path(plugin.config["cache_dir"]))
    assert folders[0] == folders[2] != folders[1]
    assert folders[0].parent == tmp_path / "cache" / "notebooks" and folders[0].is_dir()
    # one mechanism: the notebooks' folder is a cached step keyed on the import closure
    assert len(sources.source_closure("snippets.layers")) > 1
    assert folders[1] == keys.step_path("notebooks", "executed", ["snippets.layers"])


def test_a_site_without_notebooks_leaves_the_cache_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("STATE_SIMULATORS_CACHE", str(tmp_path / "cache"))
    plugin, files, config = fake_jupyter(tmp_path, "")
    load_hook("notebook_cache").on_files(files[1:], config=config)
    assert "cache_dir" not in plugin.config and not (tmp_path / "cache" / "notebooks").exists()


def test_a_notebook_page_keeps_only_the_css_rules_that_can_match_it():
    weight = notebook_css
    css = (
        '@charset "UTF-8";/* .gone */.a .b{x:1}.a .gone,.a{y:2}.gone{z:3}'
        '.a:not(.absent) .b{n:1}.a[data-x="v.gone"]{m:1}.md-typeset__table .a{w:1}'
        "@media (max-width: 1px){.b{p:1}.gone{q:1}}@media print{.gone{r:1}}"
        "@keyframes spin{from{s:0}to{s:1}}"
    )
    kept = weight.purge(css, {"a", "b"})
    assert kept == (
        '@charset "UTF-8";.a .b{x:1}.a{y:2}.a:not(.absent) .b{n:1}.a[data-x="v.gone"]{m:1}'
        ".md-typeset__table .a{w:1}@media (max-width: 1px){.b{p:1}}@keyframes spin{from{s:0}to{s:1}}"
    )
    page = SimpleNamespace(file=SimpleNamespace(src_uri="nb.py"), meta={})
    html = f'<style>{css}</style><div class="a b"></div>'
    hook = load_hook("notebook_weight")
    assert (
        hook.on_page_content(html, page=page, config=None, files=None)
        == f'<style>{kept}</style><div class="a b"></div>'
    )
    assert page.meta == {"glightbox": False}  # its images are all skipped by the lightbox
    page.file.src_uri, page.meta = "page.md", {}
    assert hook.on_page_content(html, page=page, config=None, files=None) == html
    assert page.meta == {}


def test_a_notebook_page_keeps_only_the_custom_properties_something_reads():
    css = (
        ".x{--a: var(--b);--b: 1px;--c: 2px;--icon: url(data:image/svg+xml;base64,AA==);"
        "--d: var(--e)}.y{width: var( --a)}"
    )
    html = f'<style>{css}</style><p style="color: var(--f)"></p>'
    assert notebook_css.used_variables(html) == {"--a", "--b", "--f"}
    assert notebook_css.purge_page(html.replace("<p", '<p class="x y"')) == (
        "<style>.x{--a: var(--b);--b: 1px;}.y{width: var( --a)}</style>"
        '<p class="x y" style="color: var(--f)"></p>'
    )


def test_notebook_code_gets_the_themes_markup_and_loses_jupyters_copy_buttons():
    assert notebook_css.material_code('<div class="jp-Cell" id="cell-id=1ab-2">') == (
        '<div class="jp-Cell" id="cell-1ab-2">'
    )
    cell = (
        '<div class="zeroclipboard-container">\n<clipboard-copy for="cell-1">\n<div><svg></svg></div>\n'
        '</clipboard-copy>\n</div>\n<div class="highlight-ipynb hl-python extra"><pre data-search-exclude="">'
        '<span></span><span class="kn">import</span> x\n</pre></div>'
        '<div class="clipboard-copy-txt" data-search-exclude="" id="cell-1">import x\n</div>'
    )
    markdown = '<div class="highlight"><pre><span></span>ls\n</pre></div>'
    themed = '<div class="highlight"><pre><span></span><code>ls</code></pre></div>'
    assert notebook_css.material_code(cell + markdown + themed) == (
        '\n<div class="language-python highlight"><pre data-search-exclude=""><code><span></span>'
        '<span class="kn">import</span> x\n</code></pre></div>'
        '<div class="highlight"><pre><code><span></span>ls\n</code></pre></div>' + themed
    )


def test_the_notebook_page_is_light_and_its_classes_keep_their_rules(built_site):
    html = built_page(built_site, ROOT / "docs" / "ascii-diffusion.py")
    weight = notebook_css
    css = "".join(match.group(2) for match in weight.STYLE.finditer(html))
    assert len(css) < 50_000  # JupyterLab's whole stylesheet is about 575 kB
    for name in ("jp-Cell", "jp-InputArea", "jp-OutputArea-output", "jp-RenderedText"):
        assert f".{name}" in css and name in weight.used_classes(html), name
    # code is coloured by the theme's rules, not by the ones nbconvert inlines
    assert "highlight-ipynb" not in html and "kn" in weight.used_classes(html)
