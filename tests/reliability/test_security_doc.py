"""SECURITY.md names the test behind each promise: every file and test it names exists, and it says what is
not covered."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "SECURITY.md"


def referenced_tests(text: str) -> list[tuple[str, str | None]]:
    """``(file, test or None)`` for each `tests/...py[::name]` and each `::name` (same file as the last one)."""
    refs, current = [], None
    for ref in re.findall(r"`((?:tests/[\w/]+\.py)?(?:::\w+)?)`", text):
        path, _, name = ref.partition("::")
        current = path or current
        assert current, f"{ref!r} comes before any test file in SECURITY.md"
        refs.append((current, name or None))
    return refs


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}


def test_every_test_named_in_security_md_exists():
    refs = referenced_tests(DOC.read_text())
    assert len(refs) >= 40
    missing = []
    for file, name in refs:
        path = ROOT / file
        if not path.is_file() or (name and name not in defined_tests(path)):
            missing.append(f"{file}::{name}" if name else file)
    assert missing == []


def test_every_promise_names_a_test_and_the_limits_are_stated():
    text = DOC.read_text()
    promises = re.findall(r"^- \*\*.+?(?=^- |^## |\Z)", text.split("## Not covered")[0], re.M | re.S)
    assert len(promises) >= 20
    assert [p.splitlines()[0] for p in promises if "tests/" not in p and "`::" not in p] == []
    assert "\n## Not covered\n" in text


def test_the_reference_parser_follows_a_file_across_continuations():
    text = "`tests/a/test_x.py::one`, `::two` then `tests/b/test_y.py` and `::three`"
    assert referenced_tests(text) == [
        ("tests/a/test_x.py", "one"),
        ("tests/a/test_x.py", "two"),
        ("tests/b/test_y.py", None),
        ("tests/b/test_y.py", "three"),
    ]
