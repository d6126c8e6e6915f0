"""The runner in-process: tables, seeds, caching, resume, failures, sharding, ranks, locks and preflight."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
from harness_kit import make_split

from rses.errors import RsesError, UsageError, WeightsNotFoundError
from rses.io import load_image
from rses.results import (
    BASE_COLUMNS,
    bootstrap_ci,
    read_journals,
    rows_to_table,
    summarize,
    table_columns,
    write_tables,
)
from rses.runner import RunConfig, dir_lock, parse_shard, run_eval, sample_seed, select_samples

METRICS = ["mse_bg", "pixel_consistency"]
VARYING = ["edit_seconds", "score_seconds", "cached"]


def run(split, out, method="fake-shift", **kw):
    return run_eval(
        RunConfig(method=method, split=str(split), out=out, metrics=METRICS, **kw), progress=False
    )


def table(out) -> pd.DataFrame:
    return pd.read_parquet(out / "samples.parquet")


def test_full_run_writes_the_run_directory_contract(split12, tmp_path):
    result = run(split12, tmp_path / "run", seed=3)
    assert (result.n_new, result.n_ok, result.n_failed, result.complete) == (12, 12, 0, True)
    samples = table(tmp_path / "run")
    assert list(samples.columns) == [*BASE_COLUMNS, *METRICS]
    assert list(samples["sample_id"]) == [f"s{i:02d}" for i in range(12)]
    assert list(samples["seed"]) == [sample_seed(3, f"s{i:02d}") for i in range(12)]
    first = samples.iloc[0]
    assert first["mask_area"] == 16 * 8 / 32**2 and first["status"] == "ok" and first["error"] == ""
    # fake-shift adds seed % 7 + 1 to every pixel below 255 (sources are < 200): the edit is exactly that.
    shift = first["seed"] % 7 + 1
    source = load_image(split12.parent / "images" / "s00.png")
    np.testing.assert_array_equal(load_image(tmp_path / "run" / first["output_path"]), source + shift)
    assert first["mse_bg"] == pytest.approx((shift / 255) ** 2)
    assert first["pixel_consistency"] == (1.0 if shift <= 2 else 0.0)
    assert (
        pd.read_csv(tmp_path / "run" / "samples.csv")["sample_id"].tolist() == samples["sample_id"].tolist()
    )
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert set(summary) == set(METRICS)
    assert summary["mse_bg"]["n"] == 12
    assert summary["mse_bg"]["mean"] == pytest.approx(samples["mse_bg"].mean())
    assert summary["mse_bg"]["ci_low"] <= summary["mse_bg"]["mean"] <= summary["mse_bg"]["ci_high"]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["method"] == "fake-shift" and info["seed"] == 3 and info["metrics"] == METRICS
    assert info["metric_info"]["mse_bg"]["higher_is_better"] is False
    assert (info["n_ok"], info["n_failed"], info["complete"], info["smoke"]) == (12, 0, True, False)
    assert len(info["split_manifest_sha256"]) == 64 and "numpy" in info["packages"]
    assert "hostname" not in json.dumps(info).lower()


def test_sample_seeds_follow_the_documented_derivation():
    digest = hashlib.sha256(b"0:s00").digest()
    assert sample_seed(0, "s00") == int.from_bytes(digest[:4], "big")
    assert sample_seed(0, "s00") != sample_seed(1, "s00") != sample_seed(1, "s01")


def test_select_samples_applies_limit_then_shard_then_rank():
    assert select_samples(list(range(7)), None, (0, 1)) == list(range(7))
    assert select_samples(list(range(10)), 9, (1, 2), rank=1, world=2) == [3, 7]


def test_second_run_takes_every_edit_from_the_cache(split12, tmp_path, monkeypatch):
    log = tmp_path / "edits.log"
    monkeypatch.setenv("FAKE_EDIT_LOG", str(log))
    run(split12, tmp_path / "a", batch_size=5)
    assert len(log.read_text().split()) == 12
    run(split12, tmp_path / "b")
    assert len(log.read_text().split()) == 12, "the second run called the editor"
    a, b = table(tmp_path / "a"), table(tmp_path / "b")
    assert b["cached"].all() and not a["cached"].any()
    pd.testing.assert_frame_equal(a.drop(columns=VARYING), b.drop(columns=VARYING))
    run(split12, tmp_path / "c", seed=1)  # another seed is another edit
    assert len(log.read_text().split()) == 24


def test_resume_skips_recorded_samples_and_ignores_a_torn_line(split12, tmp_path, monkeypatch):
    log = tmp_path / "edits.log"
    monkeypatch.setenv("FAKE_EDIT_LOG", str(log))
    run(split12, tmp_path / "run", limit=5)
    with open(tmp_path / "run" / "journal.jsonl", "a") as fh:
        fh.write('{"sample_id": "s05", "status": "o')  # a writer killed mid-line
    result = run(split12, tmp_path / "run")
    assert (result.n_new, result.n_skipped, result.complete) == (7, 5, True)
    assert sorted(log.read_text().split()) == [f"s{i:02d}" for i in range(12)]
    lines = (tmp_path / "run" / "journal.jsonl").read_text().splitlines()
    assert len(lines) == 12 and len({json.loads(line)["sample_id"] for line in lines}) == 12
    run(split12, tmp_path / "full")
    pd.testing.assert_frame_equal(
        table(tmp_path / "run").drop(columns=VARYING), table(tmp_path / "full").drop(columns=VARYING)
    )
    assert json.loads((tmp_path / "run" / "run.json").read_text())["n_sessions"] == 2


def test_a_different_run_is_refused_in_the_same_directory(split12, tmp_path):
    run(split12, tmp_path / "run", limit=2)
    with pytest.raises(RsesError, match="holds a different run: its seed is 0, this run's is 1"):
        run(split12, tmp_path / "run", seed=1)


def test_failing_samples_become_failed_rows_and_the_run_goes_on(tmp_path):
    ids = ["ok-1", "raise-2", "nan-3", "shape-4", "small-5", "ok-6"]
    split = make_split(tmp_path / "split", ids)
    result = run(split, tmp_path / "run", method="fake-flaky", batch_size=4)
    assert (result.n_ok, result.n_failed) == (3, 3)
    rows = table(tmp_path / "run").set_index("sample_id")
    assert rows.loc["raise-2", "error"] == "RuntimeError: fake failure on raise-2"
    assert (
        rows.loc["nan-3", "error"] == "InvalidSampleError: Editor returned NaN/inf values for sample 'nan-3'."
    )
    assert "returned shape (32, 32) for sample 'shape-4'" in rows.loc["shape-4", "error"]
    assert rows.loc[["raise-2", "nan-3", "shape-4"], "mse_bg"].isna().all()
    small = rows.loc["small-5"]
    assert (small["status"], small["edit_height"], small["source_height"]) == ("ok", 16, 32)
    assert load_image(tmp_path / "run" / small["output_path"]).shape == (32, 32, 3)
    assert rows.loc["ok-1", "mse_bg"] == 0.0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["mse_bg"]["n"] == 3


def test_retry_failed_reruns_only_the_failed_samples(tmp_path):
    split = make_split(tmp_path / "split", ["ok-1", "raise-2"])
    run(split, tmp_path / "run", method="fake-flaky")
    result = run(split, tmp_path / "run", method="fake-flaky", retry_failed=True)
    assert (result.n_new, result.n_skipped, result.n_failed) == (1, 1, 1)
    assert len(read_journals(tmp_path / "run")) == 2


def test_shards_are_disjoint_and_cover_the_split(split12, tmp_path):
    parts = [
        set(
            table(run(split12, tmp_path / f"s{i}", shard=(i, 3), limit=11).run_dir).query("status == 'ok'")[
                "sample_id"
            ]
        )
        for i in range(3)
    ]
    assert [len(p) for p in parts] == [4, 4, 3]
    assert set.union(*parts) == {f"s{i:02d}" for i in range(11)} and sum(map(len, parts)) == 11
    # shards sharing one directory merge into the same table as an unsharded run
    for i in range(3):
        last = run(split12, tmp_path / "shared", shard=(i, 3))
    assert last.complete
    run(split12, tmp_path / "whole")
    pd.testing.assert_frame_equal(
        table(tmp_path / "shared").drop(columns=VARYING), table(tmp_path / "whole").drop(columns=VARYING)
    )


def test_ranks_split_the_samples_and_rank_0_merges(split12, tmp_path, monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    other = run(split12, tmp_path / "run")
    assert (other.n_new, other.merged) == (6, False)
    assert not (tmp_path / "run" / "samples.parquet").exists()
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setattr(
        "rses.runner.time.sleep", lambda s: pytest.fail("rank 0 waited although every row exists")
    )
    main = run(split12, tmp_path / "run")
    assert (main.n_new, main.merged, main.complete, main.n_ok) == (6, True, True, 12)
    journals = sorted(p.name for p in (tmp_path / "run").glob("journal*.jsonl"))
    assert journals == ["journal.s0of1.r0of2.jsonl", "journal.s0of1.r1of2.jsonl"]


def test_a_locked_run_directory_stops_a_second_run(split12, tmp_path):
    with dir_lock(tmp_path / "run" / ".lock", "test"):
        with pytest.raises(
            RsesError, match=r"Another `rses eval` is already running .* pass a different --out"
        ):
            run(split12, tmp_path / "run")


def test_missing_weights_stop_before_any_work(split12, tmp_path):
    with pytest.raises(WeightsNotFoundError, match="rses-tests/no-such-model"):
        run(split12, tmp_path / "run", method="fake-weights")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "-1/2"])
def test_bad_shard_is_a_usage_error(text):
    with pytest.raises(UsageError, match="is not 'i/n'"):
        parse_shard(text)


def test_editor_config_overrides_are_checked(split12, tmp_path):
    with pytest.raises(UsageError, match="'fake-shift' has no config"):
        run(split12, tmp_path / "run", editor_config={"strength": 2})


def test_target_metrics_are_nan_without_a_target_and_the_sample_stays_ok(tmp_path):
    split = make_split(tmp_path / "split", ["a", "b", "c"], targets=True)
    result = run_eval(
        RunConfig(method="fake-flaky", split=str(split), out=tmp_path / "run", metrics="pixel"),
        progress=False,
    )
    assert (result.n_ok, result.n_failed) == (3, 0)
    rows = table(tmp_path / "run").set_index("sample_id")
    assert np.isnan(rows.loc["b", "mse_in"]) and np.isnan(rows.loc["b", "rses_ref"])  # b has no target
    assert np.isfinite(rows.loc["a", "mse_in"]) and rows.loc["a", "ref_gain"] == 0.0  # a unchanged edit
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["mse_in"]["n"], summary["mse_bg"]["n"]) == (2, 3)


def test_an_unreadable_cached_edit_is_made_again(split12, tmp_path, monkeypatch):
    log = tmp_path / "edits.log"
    monkeypatch.setenv("FAKE_EDIT_LOG", str(log))
    run(split12, tmp_path / "a", limit=2)
    cached = sorted(p for p in (tmp_path / "cache").rglob("*.png") if p.name.startswith("s01"))
    assert len(cached) == 1
    cached[0].unlink()  # run a's edits/ holds a hard link to the same file: keep that one intact
    cached[0].write_bytes(b"")  # what a machine crash can leave of a file that was never fsynced
    run(split12, tmp_path / "b", limit=2)
    assert log.read_text().split() == ["s00", "s01", "s01"]
    a, b = table(tmp_path / "a"), table(tmp_path / "b")
    assert list(b["status"]) == ["ok", "ok"] and list(b["cached"]) == [True, False]
    pd.testing.assert_frame_equal(a.drop(columns=VARYING), b.drop(columns=VARYING))
    np.testing.assert_array_equal(load_image(cached[0]), load_image(tmp_path / "a" / a["output_path"][1]))


def test_tables_give_missing_or_non_numeric_metrics_nan_and_summaries_skip_them():
    rows = [
        {"sample_id": "a", "status": "ok", "mse_bg": 0.25, "pixel_consistency": 1},
        {"sample_id": "b", "status": "ok", "mse_bg": 0.75, "pixel_consistency": "n/a"},
        {"sample_id": "c", "status": "failed", "error": "ValueError: x"},
    ]
    samples = rows_to_table(rows, METRICS)
    assert list(samples.columns) == [*BASE_COLUMNS, *METRICS]
    np.testing.assert_array_equal(samples["mse_bg"], [0.25, 0.75, np.nan])
    np.testing.assert_array_equal(samples["pixel_consistency"], [1.0, np.nan, np.nan])
    assert list(samples["error"]) == ["", "", "ValueError: x"] and list(samples["output_path"]) == [""] * 3
    summary = summarize(samples, METRICS)
    assert summary["mse_bg"]["n"] == 2 and summary["mse_bg"]["mean"] == 0.5
    assert (summary["mse_bg"]["ci_low"], summary["mse_bg"]["ci_high"]) == bootstrap_ci(np.array([0.25, 0.75]))
    assert summary["pixel_consistency"] == {"mean": 1.0, "std": 0.0, "ci_low": 1.0, "ci_high": 1.0, "n": 1}


def test_tables_round_trip_through_parquet_and_csv(tmp_path):
    rows = [
        {
            "sample_id": "a,1",
            "status": "ok",
            "cached": True,
            "seed": 7,
            "mse_bg": 0.1,
            "pixel_consistency": 1.0,
        },
        {"sample_id": "b", "status": "failed", "cached": False, "seed": 8, "error": 'ValueError: x, "y"\nz'},
    ]
    columns = table_columns(rows, METRICS)
    write_tables(tmp_path, columns, summarize(columns, METRICS))
    expected = rows_to_table(rows, METRICS)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "samples.parquet"), expected)
    csv = pd.read_csv(tmp_path / "samples.csv", keep_default_na=False, na_values=[""])
    assert list(csv["sample_id"]) == ["a,1", "b"] and csv["error"][1] == 'ValueError: x, "y"\nz'
    assert list(csv["cached"]) == [True, False] and list(csv["seed"]) == [7, 8]
    np.testing.assert_array_equal(csv["mse_bg"], [0.1, np.nan])
    assert json.loads((tmp_path / "summary.json").read_text())["mse_bg"]["n"] == 1
