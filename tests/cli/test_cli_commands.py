"""The command tree `main` runs is the one declared on `app`, built a command at a time."""

from __future__ import annotations

import json

import typer

from jhubctl.cli import app, root_command


def _params(command) -> list[tuple]:
    return [(p.name, tuple(p.opts), p.required, p.multiple) for p in command.params]


def test_the_lazy_tree_is_typers_tree_and_builds_only_what_is_asked_for() -> None:
    eager = typer.main.get_command(app)
    lazy = root_command()
    assert list(lazy.commands) == list(eager.commands)  # help and completion list every name, in order
    assert _params(lazy) == _params(eager)
    assert lazy.commands._built == {}  # naming them built nothing
    exec_ = lazy.commands["exec"]
    assert list(lazy.commands._built) == ["exec"]
    # the same parameters, and `-o/--output` after the command too (see test_cli_options)
    assert _params(exec_) == [*_params(eager.commands["exec"]), ("output", ("--output", "-o"), False, False)]
    assert exec_.help == eager.commands["exec"].help
    config = lazy.commands["config"]  # a sub-app comes whole, with its own commands
    assert list(config.commands) == list(eager.commands["config"].commands)
    assert lazy.commands.get("no-such-command") is None


def test_a_command_of_the_lazy_tree_runs(cli) -> None:
    code, out, _ = cli("config", "validate", "--json")
    assert code == 0 and json.loads(out)["valid"] is True
