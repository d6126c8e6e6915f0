"""What a newcomer looks for: a licence, the paper, a picture of the report, every command in the README."""

import re
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_license_is_the_apache_2_licence_pyproject_names():
    assert 'license = { text = "Apache-2.0" }' in (ROOT / "pyproject.toml").read_text()
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert "[LICENSE](LICENSE)" in README


def test_readme_links_the_paper():
    assert "https://arxiv.org/abs/2602.19254" in README


def test_readme_shows_the_committed_report_screenshot():
    shown = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", README)
    assert "docs/report.png" in shown
    path = ROOT / "docs" / "report.png"
    assert path.stat().st_size <= 300_000
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] >= 1280


def test_readme_describes_the_new_commands():
    for command in ("### `rses weights`", "rses data manifest"):
        assert command in README


def test_the_package_ships_its_py_typed_marker():
    """pyproject's package data promises ``py.typed`` (PEP 561): type checkers then read rses's hints."""
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()
    assert (ROOT / "rses" / "py.typed").is_file()
    import importlib.resources

    assert importlib.resources.files("rses").joinpath("py.typed").is_file()
