"""The README's set-up commands are the ones CI runs, and its CLI examples parse."""

import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def fenced_block_after(heading: str) -> list[str]:
    """The command lines of the first ```bash block under ``heading``."""
    section = README.split(heading, 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.S).group(1)
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_has_exactly_two_setup_commands_and_ci_runs_them_verbatim():
    setup = fenced_block_after("## Set up")
    assert len(setup) == 2, setup
    install, test = setup
    assert "pip install" in install and "pytest" in test
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert install in ci_lines and test in ci_lines
    assert ci_lines.index(install) < ci_lines.index(test)


def test_main_job_commands_parse_with_the_real_cli():
    from typer.main import get_command

    from rses.cli.app import app

    root = get_command(app)
    jobs = [line for line in fenced_block_after("## The main job") if line.startswith("rses ")]
    assert len(jobs) >= 1, "the README shows no rses command for the main job"
    for line in jobs:
        name, *args = shlex.split(line)[1:]
        assert name in root.commands, f"README uses unknown command {name!r}: {line}"
        root.commands[name].make_context(name, args)  # raises on an unknown option or a bad value


@pytest.mark.parametrize(
    "name", ["score", "eval", "compare", "leaderboard", "check", "report", "train", "data", "suite"]
)
def test_each_command_has_a_readme_section(name):
    assert f"### `rses {name}" in README
