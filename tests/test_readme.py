"""The README says what a newcomer needs, and everything it points to exists."""

import re
import struct

from conftest import ROOT

README = (ROOT / "README.md").read_text()
SCREENSHOT = ROOT / "docs" / "assets" / "screenshot.png"
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")


def test_it_names_the_commands_and_settings_a_newcomer_needs():
    for needed in ("make serve", "make test", "make build", "make page", "python -m snippets"):
        assert needed in README, needed
    assert "STATE_SIMULATORS_MODEL" in README and "docs/contributing.md" in README


def test_the_screenshot_is_a_small_png_of_a_desktop_page():
    data = SCREENSHOT.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) < 300_000
    width, height = struct.unpack(">II", data[16:24])  # the IHDR chunk comes first
    assert width == 1280 and 400 <= height <= 1600
    assert "](docs/assets/screenshot.png)" in README


def relative_links(path) -> list[str]:
    targets = LINK.findall(path.read_text())
    return [t for t in targets if not re.match(r"[a-z]+:|#", t)]


def test_every_relative_link_resolves_to_a_file():
    for document in (ROOT / "README.md", ROOT / "CONTRIBUTING.md"):
        links = relative_links(document)
        assert links, document.name
        for target in links:
            assert (document.parent / target.split("#")[0]).is_file(), f"{document.name}: {target}"


def test_contributing_md_points_to_the_page_instead_of_repeating_it():
    pointer = (ROOT / "CONTRIBUTING.md").read_text()
    assert relative_links(ROOT / "CONTRIBUTING.md") == ["docs/contributing.md"]
    assert len(pointer.splitlines()) < 10
