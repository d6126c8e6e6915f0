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


def test_publish_writes_style_and_size_breakdowns_between_the_readme_markers(synthetic_manifest, tmp_path):
    out = tmp_path / "lb"
    out.mkdir()
    (out / "README.md").write_text(
        "# Board\n\nintro\n\n<!-- breakdowns -->\nstale\n<!-- /breakdowns -->\n\ntail\n"
    )
    paths = publish(str(synthetic_manifest), out, tmp_path / "runs", metrics="psnr_bg", progress=False)
    text = paths["readme"].read_text()
    assert text.startswith("# Board\n\nintro\n\n<!-- breakdowns -->\n")
    assert text.endswith("<!-- /breakdowns -->\n\ntail\n")
    assert "stale" not in text
    runs = tmp_path / "runs"
    samples = pd.concat(
        [load_run(runs / f"{m}-split").samples.assign(method=m) for m in weight_free_editors()]
    )
    styles = sorted(samples["style"].unique())
    for method in weight_free_editors():
        for style in styles:
            mean = samples.loc[(samples["method"] == method) & (samples["style"] == style), "psnr_bg"].mean()
            assert any(
                line.startswith(f"| {method} | {style} | ") and f"{mean:.3f} ±" in line
                for line in text.splitlines()
            ), (method, style)
    assert "| identity | small |" in text or "| identity | medium |" in text or "| identity | large |" in text


def test_publish_refuses_a_missing_lpips_trunk_in_one_line(synthetic_manifest, tmp_path):
    import pytest

    from rses.errors import UsageError

    with pytest.raises(UsageError, match=r"--lpips-weights .*nope.safetensors is not a file"):
        publish(
            str(synthetic_manifest),
            tmp_path / "lb",
            tmp_path / "runs",
            lpips_weights=tmp_path / "nope.safetensors",
        )
