"""Options checked at parse time, help that speaks in conventional words, and --json on every command."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import typer

from jhubctl.errors import ExitCode

PYTHON_TYPES = re.compile(r"<(bool|str|int|float|path|text|list\[[^\]]*\])>", re.I)


def _leaves(command, path=()):
    subs = getattr(command, "commands", None)
    if not subs:
        yield path, command
        return
    for name, sub in subs.items():
        yield from _leaves(sub, (*path, name))


def commands() -> list[tuple[str, ...]]:
    from jhubctl.cli import app

    return [path for path, _ in _leaves(typer.main.get_command(app))]


@pytest.mark.parametrize("command", ["start-server", "exec"])
@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf", "-inf", "1e999", "soon"])
def test_timeout_is_checked_at_parse_time(cli, no_hub_requests, command: str, value: str) -> None:
    """-1 used to run the code and then report a timeout, 0 silently meant the default, nan crashed."""
    argv = ["exec", "alice", "c1", "--code", "1"] if command == "exec" else ["start-server", "alice", "c1"]
    code, out, err = cli(*argv, "--timeout", value)
    assert code == ExitCode.USAGE, err
    assert "'--timeout'" in err and out == ""
    assert "unexpected" not in err and "Traceback" not in err
    assert no_hub_requests == []


@pytest.mark.parametrize("path", [(), *commands()], ids=lambda p: " ".join(p) or "jhubctl")
def test_help_shows_conventional_metavars_not_python_types(cli, path: tuple[str, ...]) -> None:
    code, out, _ = cli(*path, "--help")
    assert code == 0
    assert not PYTHON_TYPES.search(out), PYTHON_TYPES.search(out)
    usage = next(line for line in out.splitlines() if "Usage:" in line)
    assert "{" not in usage, usage


def test_help_says_what_a_timeout_means() -> None:
    from jhubctl.cli import app

    root = typer.main.get_command(app)
    for name in ("exec", "start-server"):
        [timeout] = [p for p in root.commands[name].params if p.name == "timeout"]
        assert timeout.metavar == "SECONDS" and "default" in timeout.help


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_every_command_takes_json(path: tuple[str, ...]) -> None:
    """docs/commands.md promises `--json` on any command."""
    from jhubctl.cli import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    assert any("--json" in p.opts for p in command.params), f"`jhubctl {' '.join(path)}` has no --json"


@pytest.mark.parametrize("path", commands(), ids=" ".join)
def test_every_command_takes_dash_o_after_its_name(path: tuple[str, ...]) -> None:
    """`jhubctl status -o json`, as kubectl and az take it, not only `jhubctl -o json status`."""
    from jhubctl.cli import root_command

    command = root_command()
    for name in path:
        command = command.commands[name]
    assert any({"-o", "--output"} <= set(p.opts) for p in command.params), f"`jhubctl {' '.join(path)}` has no -o"


@pytest.mark.parametrize("argv", [("config", "validate"), ("down",), ("token",)], ids=" ".join)
def test_dash_o_json_after_the_command_is_its_json(cli, argv: tuple[str, ...]) -> None:
    json_flag, dash_o, before = cli(*argv, "--json"), cli(*argv, "-o", "json"), cli("-o", "json", *argv)
    assert json_flag.code == dash_o.code == before.code == 0
    assert json.loads(dash_o.stdout) == json.loads(json_flag.stdout) == json.loads(before.stdout)
    assert cli(*argv, "-o", "text").stdout == cli(*argv).stdout


def test_dash_o_takes_only_text_or_json(cli) -> None:
    code, out, err = cli("status", "-o", "yaml")
    assert code == ExitCode.USAGE and out == ""
    assert "'--output' / '-o': must be 'text' or 'json'" in err


def test_token_json_gives_the_token_and_where_it_is_kept(cli, tmp_path: Path) -> None:
    code, out, _ = cli("token", "--json")
    assert code == 0
    data = json.loads(out)
    assert re.fullmatch(r"[0-9a-f]{64}", data["token"]) and data["source"] == str(tmp_path / ".jhubctl/secrets.json")
    assert cli("token").stdout.strip() == data["token"]


def test_config_validate_json(cli) -> None:
    code, out, _ = cli("config", "validate", "--json")
    assert code == 0 and json.loads(out) == {"valid": True, "source": "built-in defaults", "target": "local"}


def test_down_with_nothing_running_is_success(cli, tmp_path: Path) -> None:
    """As `docker compose down`: nothing to stop is not an error."""
    code, out, err = cli("down")
    assert code == 0, err
    assert "nothing to stop" in err
    code, out, _ = cli("down", "--json")
    assert code == 0 and json.loads(out) == {"url": None, "stopped": False, "ended": []}


def test_status_shows_no_python_none(cli, tmp_path: Path) -> None:
    from jhubctl.state import Journal, Record

    Journal(tmp_path / ".jhubctl").record("local-hub", Record("stopped", "t0", "t1", "h", {"url": "u", "pid": None}))
    code, out, _ = cli("status")
    assert code == 0 and "None" not in out and "pid: -" in out


def test_every_way_an_execution_ends_has_its_own_exit_code() -> None:
    from jhubctl.cli.servers_cmd import OUTCOMES
    from jhubctl.hubapi.kernel import STATUSES

    assert set(OUTCOMES) == set(STATUSES)
    codes = [code for _, code in OUTCOMES.values()]
    assert len(set(codes)) == len(codes)  # never two statuses behind one exit code
    assert {s: c for s, (_, c) in OUTCOMES.items()} == {"ok": 0, "error": 3, "timeout": 4, "died": 7,
                                                       "output_dropped": 8, "interrupted": 130}
