"""Names that reach a figure (styles, objects, run labels, metric names) are drawn as literal text: `rses report`
and `rses plot` never parse them as mathtext or LaTeX, through the real CLI."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

from rses.cli import main
from rses.data.manifest import sample_record, write_manifest
from rses.io import save_image, save_mask

#: Each would crash or garble matplotlib's mathtext parser, or hide a legend entry, if parsed.
STYLES = ["$", "$x^2$", r"$\frac{a}{b$", r"\frac{1}{2} $\sqrt{$", "_under", "50% {off} ^ ~ # & <b>"]
OBJECTS = ["$obj$", r"a\$b", "$$", r"\textbf{x}"]
RUNS = ["$m^2$", r"_hidden $\frac{"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main([*args])
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


@pytest.fixture
def hostile_runs(tmp_path, capsys):
    rng = np.random.default_rng(0)
    records = []
    for i, style in enumerate(STYLES):
        source, mask = tmp_path / "split" / f"s{i}.png", tmp_path / "split" / f"m{i}.png"
        save_image(source, rng.integers(0, 255, (24, 24, 3), dtype=np.uint8))
        box = np.zeros((24, 24), bool)
        box[4 : 12 + i, 6:14] = True
        save_mask(mask, box)
        records.append(
            sample_record(tmp_path / "split", f"${i}$", source, mask, OBJECTS[i % len(OBJECTS)], style)
        )
    split = write_manifest(tmp_path / "split" / "split.jsonl", records)
    runs = []
    for method, label in zip(["identity", "identity"], RUNS, strict=True):
        run = tmp_path / "runs" / label
        code, _, err = cli(capsys, "eval", "--method", method, "--split", str(split), "--out", str(run),
                           "--metrics", "mse_bg,pixel_consistency", "--no-progress", "--device", "cpu")  # fmt: skip
        assert code in (0, None), err
        runs.append(str(run))
    return runs


@pytest.mark.parametrize("usetex", [False, True])
def test_report_and_plot_draw_hostile_names_literally(hostile_runs, tmp_path, capsys, monkeypatch, usetex):
    monkeypatch.setitem(matplotlib.rcParams, "text.usetex", usetex)  # as a user's matplotlibrc may set it
    code, out, err = cli(
        capsys, "report", *hostile_runs, "--out", str(tmp_path / "r.html"), "--title", "$t$ \\x"
    )
    assert code in (0, None), err
    assert (tmp_path / "r.html").stat().st_size > 1000
    code, out, err = cli(capsys, "plot", *hostile_runs, "--out", str(tmp_path / "plots"))
    assert code in (0, None), err
    for name in ("tradeoff.png", "by-style.png", "by-size.png", "grid.png"):
        assert (tmp_path / "plots" / name).stat().st_size > 1000, name


def test_figure_texts_are_literal_and_underscore_labels_keep_their_legend_entry(tmp_path, monkeypatch):
    import pandas as pd

    from rses.report import plots

    drawn = []
    monkeypatch.setattr(plots, "_save", lambda fig, out: drawn.append(fig) or out)
    labels = ["_hidden", "$m^2$"]
    means = {"a": np.array([0.2, 0.6]), "b": np.array([0.5, 0.1])}
    per_method = pd.DataFrame(
        {"method": labels, **means}
        | {f"{m}_ci_low": v - 0.05 for m, v in means.items()}
        | {f"{m}_ci_high": v + 0.05 for m, v in means.items()}
    )
    plots.tradeoff_plot(per_method, "a", "b", {"a": True, "b": False}, tmp_path / "t.png", title="$t$")
    ax = drawn[0].axes[0]
    # "$m^2$" dominates, so the front is one point and no front line is drawn (the legend lists what is drawn)
    assert [t.get_text() for t in drawn[0].legends[0].get_texts()] == labels
    assert ax.title.get_text() == "$t$" and not ax.title.get_parse_math()
    assert not any(t.get_parse_math() for t in drawn[0].legends[0].get_texts())
