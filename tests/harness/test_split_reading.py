"""A run checks only the samples it uses, and each file state once (``rses.data.manifest.verify_samples``)."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from harness_kit import make_split

import rses.data.manifest as manifest
from rses.errors import InvalidSampleError
from rses.runner import RunConfig, run_eval


def _run(split, out, **kw):
    return run_eval(
        RunConfig(method="identity", split=str(split), out=out, metrics=["mse_bg"], **kw), progress=False
    )


def _count_hashing(monkeypatch) -> list:
    calls = []
    real = manifest.sha256_file
    monkeypatch.setattr(manifest, "sha256_file", lambda path: calls.append(path) or real(path))
    return calls


def test_limit_checks_only_the_samples_it_runs(tmp_path):
    split = make_split(tmp_path / "split", ["a", "b", "c"])
    (tmp_path / "split" / "images" / "c.png").write_bytes(b"not the file the manifest hashed")
    result = _run(split, tmp_path / "two", limit=2)
    assert (result.n_ok, result.complete) == (2, True)
    with pytest.raises(InvalidSampleError, match=r"Sample 'c': source images/c.png has sha256"):
        _run(split, tmp_path / "all")
    assert not (tmp_path / "all").exists()  # refused before any work


def test_a_rerun_hashes_nothing_and_a_changed_file_is_still_caught(tmp_path, monkeypatch):
    split = make_split(tmp_path / "split", ["a", "b"])
    calls = _count_hashing(monkeypatch)
    _run(split, tmp_path / "first")
    assert len(calls) == 4  # two sources, two masks
    calls.clear()
    _run(split, tmp_path / "second")
    assert calls == []
    source = tmp_path / "split" / "images" / "b.png"
    st = os.stat(source)
    data = bytearray(source.read_bytes())
    data[-20] ^= 0xFF  # same size; the mtime is put back below, only the ctime moves
    source.write_bytes(bytes(data))
    os.utime(source, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(InvalidSampleError, match=r"Sample 'b': source images/b.png has sha256"):
        _run(split, tmp_path / "third")


def test_an_image_that_fails_to_decode_is_its_own_samples_failed_row(tmp_path):
    """Decoding runs on the prefetch thread: its error must land on the sample it belongs to."""
    import hashlib
    import json

    split = make_split(tmp_path / "split", ["a", "b", "c"])
    broken = tmp_path / "split" / "images" / "b.png"
    broken.write_bytes(broken.read_bytes()[:200])  # the header (size) reads, the pixels do not
    lines = [json.loads(line) for line in split.read_text().splitlines()]
    for record in lines:
        if record["id"] == "b":
            record["sha256"]["source"] = hashlib.sha256(broken.read_bytes()).hexdigest()
    split.write_text("".join(json.dumps(r) + "\n" for r in lines))
    result = _run(split, tmp_path / "run")
    assert (result.n_ok, result.n_failed) == (2, 1)
    table = pd.read_parquet(tmp_path / "run" / "samples.parquet").set_index("sample_id")
    assert table.loc["b", "status"] == "failed" and "b.png" in table.loc["b", "error"]
    assert set(table.loc[["a", "c"], "status"]) == {"ok"}
