"""Page weight: each built page's HTML and the distinct local files it makes the browser load."""

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from bench.rows import Row, against
from bench.targets import PAGE_MAX_BYTES


class _Assets(HTMLParser):
    """The URLs a browser fetches to show a page: images, scripts, stylesheets, icons, data."""

    LINKS = frozenset({"stylesheet", "icon", "preload", "modulepreload", "manifest"})
    ATTRIBUTES = ("src", "srcset", "data", "data-src")

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "link":
            if self.LINKS & set((attrs.get("rel") or "").lower().split()) and attrs.get("href"):
                self.urls.append(attrs["href"])
            return
        for name in self.ATTRIBUTES:
            value = attrs.get(name)
            if value and name == "srcset":
                self.urls.extend(part.split()[0] for part in value.split(",") if part.strip())
            elif value:
                self.urls.append(value)

    handle_startendtag = handle_starttag


def local_file(site: Path, page: Path, url: str) -> Path | None:
    """The file under `site` that `url`, found in `page`, names; None for anything off-site."""
    parts = urlsplit(url)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    base = site if parts.path.startswith("/") else page.parent
    target = (base / unquote(parts.path).lstrip("/")).resolve()
    root = site.resolve()
    return target if target.is_file() and root in target.parents else None


def page_weights(site: Path) -> list[dict]:
    """For each HTML page under `site`, sorted: {page, html, assets, files, total}, sizes in
    bytes; `assets` counts each distinct local file the page makes the browser load once."""
    weights = []
    for page in sorted(site.rglob("*.html")):
        parser = _Assets()
        parser.feed(page.read_text(errors="replace"))
        assets = {f for url in parser.urls if (f := local_file(site, page, url))}
        html = page.stat().st_size
        size = sum(f.stat().st_size for f in assets)
        weights.append(
            {
                "page": page.relative_to(site).as_posix(),
                "html": html,
                "assets": size,
                "files": len(assets),
                "total": html + size,
            }
        )
    return weights


def search_index_bytes(site: Path) -> int:
    """The size of the search index, which the search box fetches once per visit (0 if none)."""
    index = site / "search" / "search_index.json"
    return index.stat().st_size if index.exists() else 0


def weight_row(weights: list[dict]) -> Row:
    """The heaviest page with its assets, judged against the page-weight target."""
    heaviest = max(weights, key=lambda w: w["total"])
    return against(
        Row(
            "Heaviest page with its assets",
            [heaviest["total"]],
            "bytes",
            note=f"{heaviest['page']}, {heaviest['files']} files",
        ),
        "<=",
        PAGE_MAX_BYTES,
    )
