"""``batch_size`` meant three things on the command line. Now: ``--edit-batch-size`` (samples per editor call,
``rses eval`` / ``rses suite run``), ``--metric-batch-size`` (images per backbone call) and ``--micro-batch-size``
(``rses train regionroute``). The old ``--batch-size`` spellings still work, hidden, for one release; given
with a different value beside the new one they are a usage error (exit 2)."""

import re

import pytest
import typer

from rses.cli import main


def _run(capsys, argv):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out, err = capsys.readouterr()
    return exc.value.code, out, " ".join(err.split())


@pytest.fixture
def eval_config(monkeypatch):
    """The RunConfig `rses eval` builds; the run itself is skipped."""
    import rses.runner

    seen = {}

    def fake_run_eval(cfg, progress=True):
        seen["cfg"] = cfg
        raise typer.Exit(0)

    monkeypatch.setattr(rses.runner, "run_eval", fake_run_eval)
    return seen


@pytest.fixture
def suite_config(monkeypatch):
    """The Suite `rses suite run` runs; the run itself is skipped."""
    import rses.suites

    seen = {}

    def fake_run_suite(suite, out, **kwargs):
        seen["suite"] = suite
        raise typer.Exit(0)

    monkeypatch.setattr(rses.suites, "run_suite", fake_run_suite)
    return seen


@pytest.fixture
def train_config(monkeypatch):
    """The TrainConfig `rses train regionroute` builds; training itself is skipped."""
    import regionroute.train

    seen = {}
    real = regionroute.train.config_from

    def fake_config_from(*args, **kwargs):
        seen["cfg"] = real(*args, **kwargs)
        raise typer.Exit(0)

    monkeypatch.setattr(regionroute.train, "config_from", fake_config_from)
    return seen


EVAL = [
    "eval",
    "--method",
    "identity",
    "--split",
    "test",
    "--metrics",
    "pixel",
    "--device",
    "cpu",
    "--no-progress",
]
SUITE = ["suite", "run", "builtin", "--device", "cpu", "--no-progress"]
TRAIN = ["train", "regionroute", "--style", "pixel-art", "--smoke", "--steps", "1"]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ([], 1),
        (["--edit-batch-size", "3"], 3),
        (["-b", "2"], 2),
        (["--batch-size", "4"], 4),
        (["--batch-size", "5", "--edit-batch-size", "5"], 5),
    ],
)
def test_eval_edit_batch_size_and_its_old_spelling(capsys, eval_config, extra, expected):
    code, _, err = _run(capsys, [*EVAL, *extra])
    assert code == 0, err
    assert eval_config["cfg"].batch_size == expected


@pytest.mark.parametrize(
    ("extra", "expected"),
    [([], 1), (["--edit-batch-size", "3"], 3), (["-b", "2"], 2), (["--batch-size", "4"], 4)],
)
def test_suite_run_edit_batch_size_overrides_the_suites(capsys, suite_config, extra, expected):
    code, _, err = _run(capsys, [*SUITE, *extra])
    assert code == 0, err
    assert suite_config["suite"].batch_size == expected  # the shipped builtin suite has none: 1


@pytest.mark.parametrize(
    ("extra", "expected"), [([], 2), (["--micro-batch-size", "3"], 3), (["--batch-size", "1"], 1)]
)
def test_train_micro_batch_size_and_its_old_spelling(capsys, train_config, extra, expected):
    code, _, err = _run(capsys, [*TRAIN, *extra])
    assert code == 0, err
    assert train_config["cfg"].batch_size == expected


@pytest.mark.parametrize(
    ("base", "new"),
    [(EVAL, "--edit-batch-size"), (SUITE, "--edit-batch-size"), (TRAIN, "--micro-batch-size")],
    ids=["eval", "suite", "train"],
)
def test_old_and_new_spelling_with_different_values_is_a_usage_error(capsys, base, new):
    code, _, err = _run(capsys, [*base, "--batch-size", "2", new, "3"])
    assert code == 2
    assert f"--batch-size 2 and {new} 3" in err and f"use {new}" in err


@pytest.mark.parametrize(("base", "new"), [(EVAL, "--edit-batch-size"), (SUITE, "--edit-batch-size")])
def test_edit_batch_size_below_one_is_a_usage_error(capsys, base, new):
    code, _, err = _run(capsys, [*base, new, "0"])
    assert code == 2 and f"{new} must be >= 1, got 0" in err


@pytest.mark.parametrize(
    ("argv", "new"),
    [
        (["eval"], "--edit-batch-size"),
        (["suite", "run"], "--edit-batch-size"),
        (["train", "regionroute"], "--micro-batch-size"),
    ],
)
def test_help_shows_the_new_name_only(capsys, argv, new):
    code, out, _ = _run(capsys, [*argv, "--help"])
    assert code == 0
    assert new in out
    assert not re.search(r"--batch-size\b", out)
