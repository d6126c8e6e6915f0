"""`rses weights` reports the same weight checks `rses eval` applies: a known trunk is verified, a random
AlexNet under the LPIPS name is refused (eval would stop on it), not listed as found."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from rses.cli import main

ALEX = Path(os.environ.get("RSES_TEST_LPIPS_WEIGHTS", "/nonexistent/alexnet-owt-7be5be79.safetensors"))
needs_trunk = pytest.mark.skipif(not ALEX.is_file(), reason="the shared AlexNet trunk is not on this machine")


def run(capsys, *args):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out = capsys.readouterr()
    return info.value.code, " ".join(out.out.split()), out.err


@needs_trunk
def test_weights_command_verifies_the_lpips_trunk_and_refuses_a_random_one(capsys, tmp_path, monkeypatch):
    from safetensors.numpy import load_file, save_file

    monkeypatch.setenv("RSES_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    code, out, _ = run(
        capsys, "weights", "--method", "identity", "--metrics", "lpips", "--lpips-weights", str(ALEX)
    )
    assert code == 0 and "verified: known sha256" in out
    fake = tmp_path / "alexnet-owt-7be5be79.safetensors"
    rng = np.random.default_rng(0)
    save_file(
        {k: rng.normal(0, 0.05, v.shape).astype(np.float32) for k, v in load_file(str(ALEX)).items()},
        str(fake),
    )
    code, out, _ = run(
        capsys, "weights", "--method", "identity", "--metrics", "lpips", "--lpips-weights", str(fake)
    )
    assert code == 1
    assert "refused" in out and "--skip-weight-check" in out and "1 of 1 weights missing or refused" in out
