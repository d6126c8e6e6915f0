"""Synthetic run directories, written the way ``rses eval`` writes them (same ``rses.results`` writers).

The split: 3 photos x 4 styles = 12 samples of 32x32 images whose masks cover 1/64 (small), 1/8 (medium)
or 1/2 (large) of the image. Metric values are hand-set per method so the tests know every mean.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pytest

from rses.data.manifest import STYLES, read_manifest, sample_record, write_manifest
from rses.io import load_mask, save_image, save_mask
from rses.results import rows_to_table, summarize, write_json, write_tables

METRIC_INFO = {
    "rsm": {"name": "rsm", "group": "clip", "higher_is_better": True},
    "lpips_bg": {"name": "lpips_bg", "group": "lpips", "higher_is_better": False},
    "mse_bg": {"name": "mse_bg", "group": "pixel", "higher_is_better": False},
}
# mask (rows, cols of 32x32) per photo: 4x4 -> 1/64 (small), 8x16 -> 1/8 (medium), 16x32 -> 1/2 (large)
PHOTOS = {"cat": (4, 4), "coffee": (8, 16), "rocket": (16, 32)}


def make_split(root: Path) -> Path:
    """Write 12 samples (3 photos x 4 styles) and their manifest; returns the manifest path."""
    rng = np.random.default_rng(0)
    records = []
    for photo, (h, w) in PHOTOS.items():
        source = root / "images" / f"{photo}.png"
        save_image(source, rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
        mask = np.zeros((32, 32), bool)
        mask[:h, :w] = True
        mask_path = root / "masks" / f"{photo}.png"
        save_mask(mask_path, mask)
        for style in STYLES:
            records.append(
                sample_record(root, f"{photo}-{style}", source, mask_path, photo, style, image_id=photo)
            )
    return write_manifest(root / "split.jsonl", records)


def make_run(
    run_dir: Path,
    manifest: Path,
    method: str,
    metrics: dict[str, list[float]],
    sees_mask: bool = False,
    failed: tuple[str, ...] = (),
    smoke: bool = False,
    metric_config: dict | None = None,
) -> Path:
    """Write a finished run of ``method``: per-sample values ``metrics[name][i]`` for the split's i-th sample.

    Samples named in ``failed`` become failed rows (no output, NaN metrics).
    """
    split = read_manifest(manifest)
    rng = np.random.default_rng(zlib.crc32(method.encode()))
    rows = []
    for i, sample in enumerate(split.samples):
        area = float(load_mask(sample.mask).mean())
        row = {
            "sample_id": sample.id,
            "style": sample.style,
            "object_name": sample.object_name,
            "mask_area": area,
            "status": "ok",
            "error": "",
            "seed": i,
            "output_path": f"edits/{sample.id}.png",
            "source_height": 32,
            "source_width": 32,
            "edit_height": 32,
            "edit_width": 32,
            "cached": False,
            "edit_seconds": 0.0,
            "score_seconds": 0.0,
        }
        if sample.id in failed:
            row.update(status="failed", error="RuntimeError: boom", output_path="")
        else:
            row.update({name: values[i] for name, values in metrics.items()})
            save_image(run_dir / row["output_path"], rng.integers(0, 256, (32, 32, 3), dtype=np.uint8))
        rows.append(row)
    names = list(metrics)
    table = rows_to_table(rows, names)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json(
        run_dir / "run.json",
        {
            "schema_version": 1,
            "method": method,
            "editor_config": {},
            "editor_sees_mask": sees_mask,
            "smoke": smoke,
            "split": split.name,
            "split_manifest": str(manifest),
            "split_manifest_sha256": split.manifest_sha256,
            "seed": 0,
            "metrics": names,
            "metric_info": {n: METRIC_INFO[n] for n in names},
            "metric_config": metric_config or {"metrics": names, "smoke": smoke},
            "n_ok": len(rows) - len(failed),
            "n_failed": len(failed),
            "n_expected": len(rows),
            "complete": True,
        },
    )
    write_tables(run_dir, table, summarize(table, names))
    return run_dir


# Per-sample values for the 12 samples: cat, coffee, rocket, each in STYLES order
# (pixel-art, cyberpunk, expressionism, line-art).
RUNS = {
    # no edit: perfect background, no style
    "identity": {"rsm": [0.50] * 12, "lpips_bg": [0.0] * 12, "mse_bg": [0.0] * 12},
    # strong style, broken background
    "global-style": {"rsm": [0.70] * 12, "lpips_bg": [0.40] * 12, "mse_bg": [0.20] * 12},
    # sees the mask: good on both; rsm rises by style (+0.02) and by object size (+0.01)
    "paste-style": {
        "rsm": [0.60, 0.62, 0.64, 0.66, 0.61, 0.63, 0.65, 0.67, 0.62, 0.64, 0.66, 0.68],
        "lpips_bg": [0.05] * 12,
        "mse_bg": [0.01] * 12,
    },
    # dominated by paste-style; its rocket-line-art sample fails
    "weak": {"rsm": [0.55] * 12, "lpips_bg": [0.30] * 12, "mse_bg": [0.10] * 12},
}


@pytest.fixture(scope="session")
def synthetic_manifest(tmp_path_factory) -> Path:
    """The manifest of the synthetic 12-sample split."""
    return make_split(tmp_path_factory.mktemp("split"))


@pytest.fixture(scope="session")
def synthetic_runs(tmp_path_factory, synthetic_manifest) -> list[Path]:
    """Four finished runs on one synthetic split (paste-style sees the mask; weak fails one sample)."""
    root = tmp_path_factory.mktemp("runs")
    manifest = synthetic_manifest
    return [
        make_run(
            root / name,
            manifest,
            name,
            values,
            sees_mask=name == "paste-style",
            failed=("rocket-line-art",) if name == "weak" else (),
        )
        for name, values in RUNS.items()
    ]


@pytest.fixture(scope="session")
def pixel_only_run(tmp_path_factory, synthetic_manifest) -> Path:
    """A run on the synthetic split scored with mse_bg alone (it cannot be on the rsm / lpips_bg plots)."""
    root = tmp_path_factory.mktemp("pixel")
    return make_run(root / "pixel-only", synthetic_manifest, "pixel-only", {"mse_bg": RUNS["weak"]["mse_bg"]})
