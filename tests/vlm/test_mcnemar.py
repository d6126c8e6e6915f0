"""McNemar's exact test and the share of "yes" in `rses compare`, checked against hand computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rses.compare import compare_runs, mcnemar_exact
from rses.results import Run


def test_mcnemar_matches_the_hand_computation_and_scipy():
    # 7 pairs where only the reference says yes, 2 where only the other does, 5 concordant.
    ref = np.array([1] * 7 + [0] * 2 + [1] * 3 + [0] * 2, bool)
    other = np.array([0] * 7 + [1] * 2 + [1] * 3 + [0] * 2, bool)
    b, c, p = mcnemar_exact(ref, other)
    # by hand: n = 9, P(X <= 2) = (C(9,0) + C(9,1) + C(9,2)) / 2^9 = 46 / 512; two-sided: 92 / 512
    assert (b, c) == (7, 2) and p == pytest.approx(92 / 512, abs=1e-15)
    scipy_stats = pytest.importorskip("scipy.stats")
    assert p == pytest.approx(scipy_stats.binomtest(7, 9, 0.5).pvalue, abs=1e-12)
    assert mcnemar_exact(ref, ref) == (0, 0, 1.0)  # no discordant pair: no evidence of a difference
    assert mcnemar_exact([1, 0], [0, 1])[2] == 1.0  # balanced discordance: p capped at 1


def fake_run(name: str, values: list[float], status: list[str] | None = None) -> Run:
    n = len(values)
    samples = pd.DataFrame(
        {
            "sample_id": [f"s{i}" for i in range(n)],
            "status": status or ["ok"] * n,
            "vlm_obj_target": values,
            "mse_bg": np.linspace(0, 1, n),
        }
    )
    return Run(
        Path(name),
        {"metrics": ["vlm_obj_target", "mse_bg"]},
        {"vlm_obj_target": {"n": n, "mean": float(np.mean(values))}, "mse_bg": {"n": n, "mean": 0.5}},
        table=samples,
    )


def test_compare_thresholds_probabilities_at_one_half():
    ref = fake_run("ref", [0.9, 0.8, 0.7, 0.6, 0.2, 0.1])
    other = fake_run("other", [0.4, 0.3, 0.2, 0.6, 0.9, 0.5], ["ok"] * 5 + ["failed"])
    rows = {(r.metric, r.run): r for r in compare_runs([ref, other], n_resamples=50)}
    assert rows["vlm_obj_target", "ref"].share == pytest.approx(4 / 6)
    assert rows["vlm_obj_target", "other"].share == pytest.approx(
        2 / 5
    )  # 0.5 is not "yes"; the failed row is out
    # paired over s0..s4: ref yes yes yes yes no, other no no no yes yes -> b = 3, c = 1; p = 2 * 5/16
    assert rows["vlm_obj_target", "other"].discordant == (3, 1)
    assert rows["vlm_obj_target", "other"].mcnemar_p == pytest.approx(10 / 16)
    assert rows["mse_bg", "other"].mcnemar_p is None  # not a yes/no metric
