"""Specification: the catalogue alone drives the suite; the metric modules import no test kit and no torch early."""

import ast
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rses.errors import UsageError
from rses.metrics import catalog
from rses.metrics.catalog import MetricInfo, with_dependencies
from rses.metrics.suite import MetricSuite

METRICS_DIR = Path(catalog.__file__).parent


def _images():
    rng = np.random.default_rng(0)
    src = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    edited = np.clip(src.astype(int) + rng.integers(-30, 31, src.shape), 0, 255).astype(np.uint8)
    mask = np.zeros((32, 32), bool)
    mask[8:24, 8:24] = True
    return src, edited, mask


def test_a_metric_registered_in_the_catalogue_alone_is_scored(monkeypatch):
    half = MetricInfo(
        "psnr_half",
        "pixel",
        True,
        0.0,
        50.0,
        "half the background PSNR (a test metric)",
        derives_from=("psnr_bg",),
        formula=lambda v, o: v["psnr_bg"] / 2,
    )
    monkeypatch.setitem(catalog.METRICS, "psnr_half", half)
    src, edited, mask = _images()
    got = MetricSuite(metrics=["psnr_half"]).score("s0", src, edited, mask, "pixel-art")
    assert list(got) == ["psnr_half"]  # its dependency was computed, not reported
    region = ~mask
    mse = np.mean((src[region].astype(np.float64) / 255 - edited[region].astype(np.float64) / 255) ** 2)
    # pixels reach the suite as float32 [0, 1] values: ~1e-7 relative error in the MSE, far less after log10
    assert got["psnr_half"] == pytest.approx(10 * math.log10(1 / mse) / 2, rel=1e-6)
    psnr = MetricSuite(metrics=["psnr_bg"]).score("s0", src, edited, mask, "pixel-art")["psnr_bg"]
    assert got["psnr_half"] == psnr / 2  # same code path: exact


def test_a_derived_metric_of_derived_metrics_runs_after_them(monkeypatch):
    monkeypatch.setitem(
        catalog.METRICS,
        "twice_ref",
        MetricInfo(
            "twice_ref",
            "pixel",
            True,
            0.0,
            2.0,
            "2 x rses_ref",
            derives_from=("rses_ref",),
            formula=lambda v, o: 2 * v["rses_ref"],
        ),
    )
    assert with_dependencies(["twice_ref"])[-2:] == ["rses_ref", "twice_ref"]
    src, edited, mask = _images()
    got = MetricSuite(metrics=["twice_ref", "rses_ref"]).score("s0", src, edited, mask, "x", target=edited)
    assert got["twice_ref"] == 2 * got["rses_ref"]


def test_a_dependency_cycle_is_refused_by_name(monkeypatch):
    for name, dep in (("cyc_a", "cyc_b"), ("cyc_b", "cyc_a")):
        monkeypatch.setitem(
            catalog.METRICS,
            name,
            MetricInfo(
                name, "pixel", True, 0.0, 1.0, "a cycle", derives_from=(dep,), formula=lambda v, o: 0.0
            ),
        )
    with pytest.raises(UsageError, match=r"cycle.*cyc_a -> cyc_b -> cyc_a|cycle.*cyc_b -> cyc_a -> cyc_b"):
        MetricSuite(metrics=["cyc_a"])


def test_an_unknown_dependency_and_an_unmeasured_metric_are_refused_by_name(monkeypatch):
    monkeypatch.setitem(
        catalog.METRICS,
        "orphan",
        MetricInfo("orphan", "pixel", True, 0.0, 1.0, "x", derives_from=("nope",), formula=lambda v, o: 0.0),
    )
    with pytest.raises(UsageError, match=r"orphan derives from 'nope'"):
        MetricSuite(metrics=["orphan"])
    monkeypatch.setitem(catalog.METRICS, "odd", MetricInfo("odd", "audio", True, 0.0, 1.0, "no stage"))
    with pytest.raises(UsageError, match=r"odd have no formula"):
        MetricSuite(metrics=["odd"])


def test_the_builtin_derivations_are_declared_in_the_catalogue():
    order = with_dependencies(["rses", "vlm_localized"])
    assert set(order) == {
        "rses",
        "rsm_gain",
        "rsm",
        "lpips_bg",
        "vlm_localized",
        "vlm_obj_target",
        "vlm_bg_target",
    }
    for name in order:  # everything a metric derives from comes before it
        assert all(order.index(dep) < order.index(name) for dep in catalog.METRICS[name].derives_from)
    derived = {m.name for m in catalog.METRICS.values() if m.formula is not None}
    assert derived == {"rses", "rses_ref", "rses_ref_lpips", "vlm_localized"}


def test_no_metrics_module_imports_the_test_kit():
    offenders = []
    for path in sorted(METRICS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            offenders += [
                f"{path.name}: {n}" for n in names if n == "rses.testing" or n.startswith("rses.testing.")
            ]
    assert offenders == []


def test_importing_the_catalogue_does_not_import_torch():
    code = "import sys, rses.metrics.catalog; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_lazy_package_keeps_its_names():
    code = (
        "import rses.metrics.rsm, rses.metrics as m; assert callable(m.rsm) and callable(m.lpips_bg); "
        "assert m.RSES is m.MetricSuite and m.RSESConfig is m.MetricSuiteConfig; "
        "assert all(hasattr(m, n) for n in m.__all__)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
