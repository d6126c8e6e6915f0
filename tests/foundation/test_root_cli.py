"""The root CLI: help, version, and how user errors are reported."""

import io
import subprocess
import sys

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
