"""Fixtures of the harness tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness_kit import make_split


@pytest.fixture
def split12(tmp_path) -> Path:
    return make_split(tmp_path / "split", [f"s{i:02d}" for i in range(12)])


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "FAKE_EDIT_SLEEP", "FAKE_EDIT_LOG"):
        monkeypatch.delenv(name, raising=False)
