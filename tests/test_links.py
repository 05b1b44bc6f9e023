"""Every internal link and anchor in the built site resolves."""

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse


class Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.targets, self.ids = [], set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        for name in ("href", "src"):
            if attrs.get(name) and not (tag == "link" and attrs.get("rel") in ("canonical",)):
                self.targets.append(attrs[name])


def parse(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text())
    return links


def resolve(site: Path, page: Path, target: str) -> tuple[Path, str] | None:
    """The file and anchor a relative link points to; None for links off the site."""
    url = urlparse(target)
    if url.scheme or url.netloc or target.startswith(("mailto:", "data:", "javascript:")):
        return None
    base = site if url.path.startswith("/") else page.parent  # 404.html links from the site root
    path = (base / unquote(url.path).lstrip("/")).resolve() if url.path else page
    if path.is_dir():
        path = path / "index.html"
    return path, url.fragment


def test_every_internal_link_and_anchor_resolves(built_site):
    pages = sorted(built_site.rglob("*.html"))
    parsed = {page: parse(page) for page in pages}
    checked, broken = 0, []
    for page, links in parsed.items():
        for target in links.targets:
            resolved = resolve(built_site, page, target)
            if resolved is None:
                continue
            path, anchor = resolved
            checked += 1
            if not path.exists():
                broken.append(f"{page.relative_to(built_site)}: {target} (no such file)")
            elif anchor and path.suffix == ".html" and anchor not in (parsed.get(path) or parse(path)).ids:
                broken.append(f"{page.relative_to(built_site)}: {target} (no such anchor)")
    assert checked > 100 and broken == []


def test_the_checker_catches_a_broken_link(tmp_path):
    (tmp_path / "index.html").write_text('<a href="gone/">x</a><a href="#nowhere">y</a><p id="here"></p>')
    links = parse(tmp_path / "index.html")
    path, anchor = resolve(tmp_path, tmp_path / "index.html", links.targets[0])
    assert not path.exists()
    path, anchor = resolve(tmp_path, tmp_path / "index.html", links.targets[1])
    assert path == tmp_path / "index.html" and anchor not in links.ids
