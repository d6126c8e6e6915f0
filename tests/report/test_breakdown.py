import pandas as pd
import pytest

from rses.report import assemble
from rses.report.breakdown import SizeBins, breakdown, by_size, by_style, per_method, size_bin


def test_size_bin_edges_are_half_open():
    areas = pd.Series([0.0, 0.0499, 0.05, 0.1999, 0.2, 1.0])
    assert size_bin(areas).tolist() == ["small", "small", "medium", "medium", "large", "large"]
    assert size_bin(areas, SizeBins(0.01, 0.1)).tolist() == [
        "small",
        "medium",
        "medium",
        "large",
        "large",
        "large",
    ]


def test_size_bins_are_validated():
    with pytest.raises(ValueError, match="small_below < large_from"):
        SizeBins(0.3, 0.2)


def _table():
    return pd.DataFrame(
        {
            "method": ["b", "b", "b", "a", "a", "a"],
            "status": ["ok", "ok", "ok", "ok", "ok", "failed"],
            "style": ["x", "y", "x", "y", "x", "x"],
            "mask_area": [0.01, 0.3, 0.1, 0.1, 0.02, 0.5],
            "m": [1.0, 2.0, 3.0, 4.0, 6.0, 100.0],
        }
    )


def test_by_style_exact_means_counts_and_order():
    table = by_style(_table(), ["m"])
    # methods in first-seen order (b, a), styles sorted; the failed row (100.0) is ignored
    assert table[["method", "style", "n", "m"]].values.tolist() == [
        ["b", "x", 2, 2.0],
        ["b", "y", 1, 2.0],
        ["a", "x", 1, 6.0],
        ["a", "y", 1, 4.0],
    ]
    one = table.iloc[1]
    assert (one["m_ci_low"], one["m_ci_high"]) == (2.0, 2.0)  # one value: the CI collapses
    b_x = table.iloc[0]
    assert 1.0 <= b_x["m_ci_low"] <= 2.0 <= b_x["m_ci_high"] <= 3.0


def test_by_size_exact():
    table = by_size(_table(), ["m"])
    assert table[["method", "size", "n", "m"]].values.tolist() == [
        ["b", "small", 1, 1.0],
        ["b", "medium", 1, 3.0],
        ["b", "large", 1, 2.0],
        ["a", "small", 1, 6.0],
        ["a", "medium", 1, 4.0],
    ]


def test_per_method_and_generic_breakdown():
    assert per_method(_table(), ["m"])[["method", "n", "m"]].values.tolist() == [["b", 3, 2.0], ["a", 2, 5.0]]
    assert breakdown(_table(), "style", ["m"]).equals(by_style(_table(), ["m"]))


def test_breakdowns_of_synthetic_runs(synthetic_runs):
    data = assemble.collect(synthetic_runs)
    paste = data.by_style[data.by_style["method"] == "paste-style"].set_index("style")["rsm"].round(6)
    assert paste.to_dict() == {"cyberpunk": 0.63, "expressionism": 0.65, "line-art": 0.67, "pixel-art": 0.61}
    size = data.by_size.set_index(["method", "size"])
    assert size.loc[("paste-style", "small"), "rsm"] == pytest.approx(0.63)
    assert size.loc[("paste-style", "medium"), "rsm"] == pytest.approx(0.64)
    assert size.loc[("paste-style", "large"), "rsm"] == pytest.approx(0.65)
    assert size.loc[("weak", "large"), "n"] == 3  # its failed large sample is left out
