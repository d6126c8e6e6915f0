"""The root CLI: help, version, and how user errors are reported."""

import ast
import io
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import rses
from rses.cli import main
from rses.cli.app import app
from rses.errors import RsesError, UsageError


def run_main(capsys, *args):
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out = capsys.readouterr()
    return exit_info.value.code, out.out, out.err


def test_version(capsys):
    code, out, _ = run_main(capsys, "--version")
    assert code == 0 and out.strip() == f"rses {rses.__version__}"


def test_help_lists_the_commands(capsys):
    code, out, _ = run_main(capsys, "--help")
    assert code == 0
    assert "Regional Style Editing Score" in out


def test_unknown_command_is_a_usage_error(capsys):
    code, _, err = run_main(capsys, "no-such-command")
    assert code == 2
    assert "No such command" in err


@pytest.fixture
def failing_commands():
    @app.command("_fail-usage", hidden=True)
    def fail_usage() -> None:
        raise UsageError("Unknown editor 'x'.")

    @app.command("_fail", hidden=True)
    def fail() -> None:
        raise RsesError("Weights for Demo not found.")

    yield
    app.registered_commands[:] = [
        c for c in app.registered_commands if c.name not in {"_fail-usage", "_fail"}
    ]


def test_user_errors_print_one_line_and_exit_1_or_2(capsys, failing_commands):
    code, _, err = run_main(capsys, "_fail")
    assert code == 1
    assert err.strip() == "error: Weights for Demo not found."
    code, _, err = run_main(capsys, "_fail-usage")
    assert code == 2
    assert "Traceback" not in err and "Unknown editor 'x'." in err


def test_debug_shows_the_traceback(failing_commands):
    from rses.cli.app import state

    try:
        with pytest.raises(RsesError, match="Weights for Demo"):
            main(["--debug", "_fail"])
    finally:
        state["debug"] = False


def test_console_script_is_installed():
    result = subprocess.run([sys.executable, "-m", "rses.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"rses {rses.__version__}"


def test_output_to_a_file_or_log_is_wide_enough_for_tables(monkeypatch):
    from rses.cli.app import LOG_WIDTH, _console

    monkeypatch.setattr(sys, "stdout", io.StringIO())  # not a terminal
    monkeypatch.delenv("COLUMNS", raising=False)
    assert _console().width == LOG_WIDTH  # rich alone would wrap tables at 80
    monkeypatch.setenv("COLUMNS", "100")
    assert _console().width == 100


@pytest.mark.parametrize("where", ["before", "after"])
def test_debug_works_before_or_after_the_subcommand(failing_commands, where):
    from rses.cli.app import state

    args = ["--debug", "_fail"] if where == "before" else ["_fail", "--debug"]
    try:
        with pytest.raises(RsesError, match="Weights for Demo"):
            main(args)
    finally:
        state["debug"] = False


def test_debug_after_a_nested_subcommand_is_not_an_unknown_option(capsys):
    from rses.cli.app import state

    try:
        code, out, err = run_main(capsys, "data", "ls", "--debug")
    finally:
        state["debug"] = False
    assert code == 0, err
    assert "No such option" not in err


REPO = Path(__file__).resolve().parents[2]
IMAGE_OR_DATA = re.compile(r"\.(png|jpe?g|webp|json|jsonl|parquet|csv|md|html|safetensors|pth)$")
OUTPUT_OPTIONS = {"--out", "-o", "--overlays", "--runs-dir"}


def _help_texts():
    """(command path, help text) of every command and group, with the CLI modules' docstrings."""
    import typer

    import rses.cli as cli_package

    def walk(command, path):
        yield " ".join(path), command.help or ""
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), ["rses"])
    for module in Path(cli_package.__file__).parent.glob("*.py"):
        yield module.name, (ast.get_docstring(ast.parse(module.read_text())) or "")


def _example_commands(text):
    """Each ``rses ...`` example: paragraphs split at blank lines and ``;``, a new line starting with ``rses``
    starts a new command, other line breaks continue it; ``#`` comments dropped."""
    for paragraph in re.split(r"\n\s*\n|;", text):
        for chunk in re.split(r"\n\s*(?=rses )", paragraph):
            chunk = " ".join(line.split("#", 1)[0].strip() for line in chunk.splitlines())
            found = re.search(r"(?:^|: )(rses .*)", chunk.strip())
            if found:
                yield shlex.split(found.group(1))


def _file_arguments(argv):
    """Tokens of an example that name an input file: paths, except outputs and placeholders (``~/data``,
    ``SOURCES/``)."""
    skip_next = False
    for token in argv[1:]:
        if skip_next:
            skip_next = False
            continue
        if token in OUTPUT_OPTIONS:
            skip_next = True
            continue
        placeholder = token.startswith("~") or token.split("/")[0].isupper()  # the user's own data
        if token.startswith("-") or placeholder or not ("/" in token or IMAGE_OR_DATA.search(token)):
            continue
        yield token


def test_every_help_example_names_only_files_that_exist():
    from rses.data.manifest import BUILTIN_SPLITS
    from rses.editing import EDITORS

    run_dirs = {f"runs/{m}-{s}" for m in EDITORS.names() for s in BUILTIN_SPLITS} | {"runs/*"}
    examples = [(where, argv) for where, text in _help_texts() for argv in _example_commands(text)]
    assert len(examples) >= 10
    bad = [
        (where, token)
        for where, argv in examples
        for token in _file_arguments(argv)
        if not (token in run_dirs or (REPO / token).exists())
    ]
    assert not bad, f"help examples name files that are not in the repository: {bad}"


def test_check_example_names_the_committed_baseline(capsys):
    code, out, _ = run_main(capsys, "check", "--help")
    assert code == 0
    assert "leaderboard/baseline-builtin-test.json" in out


@pytest.mark.parametrize("device", ["cuda", "cuda:3", "mps", "tpu", "nonsense"])
@pytest.mark.parametrize("command", ["score", "eval"])
def test_a_device_the_machine_lacks_is_one_line_before_any_work(
    capsys, tmp_path, monkeypatch, command, device
):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    args = {
        "score": ["score", "missing-a.png", "missing-b.png", "missing-m.png", "--style", "pixel-art"],
        "eval": ["eval", "--method", "identity", "--metrics", "pixel", "--out", str(tmp_path / "run")],
    }[command]
    code, _, err = run_main(capsys, *args, "--device", device)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and f"--device {device}" in err
    assert "missing-a.png" not in err  # the device is checked before the inputs
    assert not (tmp_path / "run").exists()


def test_every_command_with_a_device_option_checks_it(capsys, monkeypatch):
    import torch
    import typer

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)

    def walk(command, path):
        params = {p.name for p in getattr(command, "params", [])}
        if "device" in params:
            yield path
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    with_device = list(walk(typer.main.get_command(app), []))
    assert {("score",), ("eval",)} <= {tuple(p) for p in with_device}
    for path in with_device:  # required arguments missing too: the device is still the first thing checked
        code, _, err = run_main(capsys, *path, "--device", "cuda:1")
        assert code == 2 and "--device cuda:1: this machine has no CUDA GPU" in err, path


def test_every_command_and_group_help_has_an_example():
    """Each `rses ... --help` ends with a runnable `Example: rses ...` line (the test above checks its files)."""
    import typer

    def walk(command, path):
        yield " ".join(path), command.help or ""
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    lacking = [
        path
        for path, text in walk(typer.main.get_command(app), ["rses"])
        if not re.search(r"(?m)Example[^:\n]*: rses ", text)
    ]
    assert not lacking, f"help without an `Example: rses ...` line: {lacking}"
