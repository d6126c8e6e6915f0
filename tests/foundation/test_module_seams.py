"""The seams of the runner and trainer split (issue #21): one way to make an editor, the shared file helpers,
old import paths kept for one release, and no import that runs upward."""

import ast
import hashlib
import os
from pathlib import Path

import pytest

import regionroute.train
import rses.runner
from rses.editing import build_editor, get_editor
from rses.errors import RsesError, UsageError
from rses.io import cache_root, dir_lock, link_or_copy, sha256_file

ROOT = Path(__file__).resolve().parents[2]


def test_get_editor_and_build_editor_make_the_same_editor():
    from baselines.folder import FolderConfig

    config = FolderConfig(edits=str(ROOT / "tests"))
    a, b = get_editor("folder", config), build_editor("folder", {"edits": str(ROOT / "tests")})
    assert type(a) is type(b) and a.config_dict() == b.config_dict() and a.config_hash() == b.config_hash()
    with pytest.raises(UsageError, match="not both"):
        build_editor("folder", {"edits": "x"}, config=config)
    with pytest.raises(UsageError, match=r"no config field\(s\) \['nope'\]; valid fields"):
        build_editor("folder", {"nope": 1})


def test_link_or_copy_replaces_atomically_and_names_a_missing_source(tmp_path):
    (tmp_path / "a").write_text("new")
    (tmp_path / "b").write_text("old")
    link_or_copy(tmp_path / "a", tmp_path / "b")
    assert (tmp_path / "b").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]  # no temporary left
    link_or_copy(tmp_path / "a", tmp_path / "deep" / "er" / "c")
    assert (tmp_path / "deep" / "er" / "c").read_text() == "new"
    with pytest.raises(FileNotFoundError):
        link_or_copy(tmp_path / "missing", tmp_path / "d")
    assert not (tmp_path / "d").exists()


def test_dir_lock_refuses_a_second_holder_naming_the_first(tmp_path):
    lock = tmp_path / "run" / ".lock"
    with dir_lock(lock, "part all"):
        assert lock.read_text() == f"pid {os.getpid()}"
        with pytest.raises(RsesError, match=rf"running part all in .*held by pid {os.getpid()}"):
            with dir_lock(lock, "part all"):
                pass  # pragma: no cover


def test_sha256_file_and_cache_root(tmp_path, monkeypatch):
    data = os.urandom(3 << 20)  # several read chunks
    (tmp_path / "f").write_bytes(data)
    assert sha256_file(tmp_path / "f", chunk=1 << 20) == hashlib.sha256(data).hexdigest()
    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path))
    assert cache_root() == tmp_path
    monkeypatch.delenv("RSES_CACHE_DIR")
    assert cache_root() == Path.home() / ".cache" / "rses"


@pytest.mark.parametrize("module", [rses.runner, regionroute.train])
def test_old_import_paths_still_give_every_moved_name(module):
    for name in module.__all__:
        assert getattr(module, name) is not None, name
    assert rses.runner.build_editor is build_editor


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize(
    ("top", "allowed"),
    [
        ("rses.runner", {"rses/cli", "rses/report", "rses/suites.py"}),
        ("regionroute.train", {"rses/cli"}),
    ],
)
def test_no_lower_module_imports_the_loop_modules(top, allowed):
    """Only the command layer (the CLI, the report, suites) may import the loops; nothing they use does."""
    offenders = []
    for folder in ("rses", "regionroute", "baselines"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel.replace("/", ".")[:-3] == top or any(rel.startswith(a) for a in allowed):
                continue
            if top in _imports(path):
                offenders.append(rel)
    assert offenders == []
