"""Helpers of the harness tests: tiny hand-made splits (32x32 PNGs) and ways to run the CLI with the fakes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import harness_fakes  # noqa: F401  (registers the fake editors)
import numpy as np
import pytest

from rses.data.manifest import STYLES, sample_record, write_manifest
from rses.io import save_image, save_mask

HARNESS = Path(__file__).parent


def make_split(root: Path, ids: list[str], size: int = 32, targets: bool = False) -> Path:
    """A manifest of random images with a box mask (and, with ``targets``, a pseudo-GT on even samples)."""
    rng = np.random.default_rng(0)
    records = []
    for i, sample_id in enumerate(ids):
        image = rng.integers(0, 200, size=(size, size, 3), dtype=np.uint8)
        mask = np.zeros((size, size), bool)
        mask[size // 4 : size // 4 + size // 2, size // 4 : size // 2 + i % 4] = True
        files = {"source": root / "images" / f"{sample_id}.png", "mask": root / "masks" / f"{sample_id}.png"}
        save_image(files["source"], image)
        save_mask(files["mask"], mask)
        if targets and i % 2 == 0:
            files["target"] = root / "targets" / f"{sample_id}.png"
            save_image(files["target"], np.where(mask[..., None], 255 - image, image))
        records.append(
            sample_record(root, sample_id, object_name="box", style=STYLES[i % len(STYLES)], **files)
        )
    return write_manifest(root / "split.jsonl", records)


def rses_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.Popen:
    """Start ``rses`` (with the fake editors) in a subprocess."""
    return subprocess.Popen(
        [sys.executable, str(HARNESS / "rses_with_fakes.py"), *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run ``rses`` in-process; returns ``(exit code, stdout, stderr)``."""
    from rses.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main([*args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err
