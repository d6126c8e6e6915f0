import json

import pandas as pd

from rses.drift import check_drift, run_means
from rses.report.publish import publish, weight_free_editors
from rses.results import load_run


def test_weight_free_editors_need_no_weights():
    from rses.editing import EDITORS

    names = weight_free_editors()
    assert {"identity", "paste-style"} <= set(names)
    assert all(EDITORS.get(n)().weights() == [] for n in names) and "kontext" not in names


def test_publish_writes_leaderboard_and_a_baseline_rses_check_accepts(synthetic_manifest, tmp_path):
    from rses.editing import EDITORS

    manifest = synthetic_manifest
    paths = publish(str(manifest), tmp_path / "lb", tmp_path / "runs", metrics="mse_bg", progress=False)
    assert sorted(p.name for p in paths.values()) == [
        "baseline-builtin-split.json",
        "builtin-split.csv",
        "builtin-split.md",
    ]
    md = paths["md"].read_text()
    assert "| method | sees mask | split | n | metric backend | mse_bg ↓ |" in md
    table = pd.read_csv(paths["csv"])
    assert set(table["method"]) == set(weight_free_editors())
    assert (table["backend"] == "weight-free").all()
    assert dict(zip(table["method"], table["sees_mask"], strict=True)) == {
        m: EDITORS.get(m).sees_mask for m in table["method"]
    }
    assert table.loc[table["method"] == "identity", "mse_bg_mean"].item() == 0.0
    baseline = json.loads(paths["baseline"].read_text())
    assert baseline["method"] == "paste-style"
    run = load_run(tmp_path / "runs" / "paste-style-split")
    assert [r.status for r in check_drift(run_means(run), baseline)] == ["ok"]
