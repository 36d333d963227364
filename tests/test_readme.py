"""The README's command table is the user's map of ``jiayuan``: it must name every
command the project ships, and speak of nothing as "coming later" once it has landed."""

from __future__ import annotations

import re
from pathlib import Path

import jiayuan

ROOT = Path(__file__).resolve().parent.parent
SRC = Path(jiayuan.__file__).resolve().parent
README = ROOT / "README.md"

# Started by ``jiayuan.cli`` itself rather than by a management command.
CLI_COMMANDS = {"demo", "serve", "worker"}


def shipped_commands() -> set[str]:
    """Every ``jiayuan`` command: the CLI's own plus each app's management commands, as
    typed (``seed_demo`` is ``seed-demo``)."""
    found = {
        path.stem.replace("_", "-")
        for path in SRC.glob("*/management/commands/*.py")
        if not path.stem.startswith("_")
    }
    return found | CLI_COMMANDS


def readme_table_commands() -> set[str]:
    """The first word after ``jiayuan`` in each row of the README's command table."""
    text = README.read_text(encoding="utf-8")
    table = text.split("## The `jiayuan` command", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `jiayuan ([a-z0-9-]+)", table, flags=re.MULTILINE))


def test_the_cli_commands_are_really_in_the_cli() -> None:
    cli = (SRC / "cli.py").read_text(encoding="utf-8")
    for command in CLI_COMMANDS:
        assert f'"{command}"' in cli, command


def test_every_command_is_in_the_readme_table() -> None:
    missing = shipped_commands() - readme_table_commands()
    assert not missing, f"README command table lacks: {sorted(missing)}"


def test_the_readme_table_lists_no_command_that_does_not_exist() -> None:
    # ``<django command>`` is the row for Django's own commands, not a name.
    unknown = readme_table_commands() - shipped_commands()
    assert not unknown, f"README lists commands that do not exist: {sorted(unknown)}"


def test_nothing_is_announced_for_a_later_issue() -> None:
    text = README.read_text(encoding="utf-8")
    assert not re.search(r"later issues?", text, flags=re.IGNORECASE)
