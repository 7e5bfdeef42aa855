"""The command line's contract: exit codes, stdout for data, stderr for status, no secrets, no tracebacks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
import typer

from jhubctl import __version__
from jhubctl.errors import ExitCode

COMMANDS = ["provision", "destroy", "up", "down", "start-server", "stop-server", "servers", "exec", "status", "token",
            "config"]
SECTIONS = ["azure", "network", "storage", "registry", "aks", "kubernetes", "hub", "servers", "local"]
ANSI = re.compile(r"\x1b\[")
BAD_CONFIG = "storage:\n  account_name: Not_Valid\n"


def write_bad_config(tmp_path: Path) -> None:
    (tmp_path / "jhubctl.yaml").write_text(BAD_CONFIG)


# --- version and help -----------------------------------------------------------------------------


def test_version(cli) -> None:
    code, out, _ = cli("--version")
    assert code == 0
    assert out.strip() == f"jhubctl {__version__}"


def test_help_lists_every_command(cli) -> None:
    code, out, _ = cli("--help")
    assert code == 0
    for name in COMMANDS:
        assert re.search(rf"\b{re.escape(name)}\b", out), f"{name} missing from --help"


def _walk(command, path=()):
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _walk(sub, (*path, name))


def test_every_command_and_parameter_has_help_text() -> None:
    from jhubctl.cli import app

    root = typer.main.get_command(app)
    seen = []
    for path, command in _walk(root):
        where = " ".join(("jhubctl", *path))
        assert (command.help or "").strip(), f"`{where}` has no help text"
        for param in command.params:
            if param.name == "help":
                continue
            assert (getattr(param, "help", None) or "").strip(), f"`{where}` parameter {param.name!r} has no help"
        seen.append(path)
    assert {p[0] for p in seen if p} >= set(COMMANDS)
    assert ("config", "show") in seen and ("config", "schema") in seen


def test_every_command_is_documented_in_docs_commands() -> None:
    """The reference page must not drift from the CLI: each command (and subcommand) has its section."""
    from jhubctl.cli import app

    doc = (Path(__file__).parents[2] / "docs" / "commands.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^## (.+)$", doc, flags=re.M))
    for path, command in _walk(typer.main.get_command(app)):
        if path and not getattr(command, "commands", None):
            assert " ".join(path) in headings, f"docs/commands.md has no section for `jhubctl {' '.join(path)}`"


def test_shell_completion_completes_command_names() -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "_JHUBCTL_COMPLETE": "complete_bash", "COMP_WORDS": "jhubctl sta", "COMP_CWORD": "1"}
    done = subprocess.run([sys.executable, "-m", "jhubctl"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    assert done.stdout.split() == ["start-server", "status"]


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_help_exits_0(cli, command: str) -> None:
    code, out, _ = cli(command, "--help")
    assert code == 0
    assert "Usage" in out


# --- config show / schema / validate --------------------------------------------------------------


def test_config_show_never_prints_the_token(cli, tmp_path: Path) -> None:
    code, out, _ = cli("token")
    assert code == 0
    token = out.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", token)

    for argv in (["config", "show"], ["config", "show", "--json"], ["-o", "json", "config", "show"]):
        code, out, err = cli(*argv)
        assert code == 0, err
        assert token not in out and token not in err, f"{argv} leaked the token"
        assert str(tmp_path / ".jhubctl" / "secrets.json") in out, "the token's source is not shown"


def test_config_show_names_the_env_token_but_not_its_value(cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JHUBCTL_API_TOKEN", "env-secret-value-42")
    code, out, err = cli("config", "show")
    assert code == 0
    assert "env-secret-value-42" not in out + err
    assert "JHUBCTL_API_TOKEN" in out


@pytest.mark.parametrize("argv", [["config", "show", "--json"], ["-o", "json", "config", "show"]])
def test_config_show_json_is_valid_json(cli, tmp_path: Path, argv: list[str]) -> None:
    (tmp_path / "jhubctl.yaml").write_text("target: kubernetes\n")
    code, out, err = cli(*argv)
    assert code == 0, err
    view = json.loads(out)
    assert view["config"]["target"] == "kubernetes"
    assert view["source"] == str(tmp_path / "jhubctl.yaml")
    assert set(SECTIONS) <= set(view["config"])


def test_config_schema_is_a_json_schema_with_every_section(cli) -> None:
    code, out, _ = cli("config", "schema")
    assert code == 0
    schema = json.loads(out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert set(SECTIONS) <= set(schema["properties"])
    assert schema.get("additionalProperties") is False  # editors flag typos, as the loader does

    from jhubctl.config import Config

    jsonschema.validate(Config().model_dump(mode="json"), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"stroage": {}}, schema)


def test_config_validate_good_file(cli, tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text("target: local\nhub:\n  cull:\n    timeout: 600\n")
    code, out, err = cli("--config", "good.yaml", "config", "validate")
    assert code == 0
    assert "good.yaml" in err and "valid" in err
    assert out == ""


def test_config_validate_bad_file(cli, tmp_path: Path) -> None:
    write_bad_config(tmp_path)
    code, out, err = cli("config", "validate")
    assert code == ExitCode.USAGE
    assert "storage.account_name" in err
    assert out == ""


@pytest.mark.parametrize("argv", [["config", "show"], ["status"], ["token"], ["start-server", "demo", "c1"]])
def test_bad_config_is_one_error_line_and_exit_2(cli, tmp_path: Path, argv: list[str]) -> None:
    write_bad_config(tmp_path)
    code, out, err = cli(*argv)
    assert code == ExitCode.USAGE
    assert err.startswith("error:")
    assert "jhubctl.yaml" in err and "storage.account_name" in err
    assert "Traceback" not in err
    assert out == ""


def test_debug_shows_the_traceback(cli, tmp_path: Path) -> None:
    write_bad_config(tmp_path)
    code, _, err = cli("--debug", "config", "show")
    assert code == ExitCode.USAGE
    assert "Traceback (most recent call last)" in err
    assert "storage.account_name" in err


def test_debug_is_the_option_not_a_word_anywhere_in_argv(cli, tmp_path: Path) -> None:
    """`--debug` given as the code to run is data, not the global option: no traceback for a user error."""
    write_bad_config(tmp_path)
    code, _, err = cli("exec", "alice", "c1", "--code", "--debug")
    assert code == ExitCode.USAGE
    assert "Traceback" not in err and err.startswith("error:")


def test_everything_goes_through_the_injected_environment(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Tests (and embedders) hand main() their own streams and variables; nothing leaks to the process's."""
    import io

    from jhubctl.cli import main
    from jhubctl.output import Environment

    (tmp_path / "jhubctl.yaml").write_text("target: local\n")
    out, err = io.StringIO(), io.StringIO()
    env = Environment(stdout=out, stderr=err, environ={"JHUBCTL_API_TOKEN": "from-the-injected-env"})
    assert main(["config", "show", "--json"], env) == 0
    assert json.loads(out.getvalue())["secrets"]["api_token"] == "<redacted: environment variable JHUBCTL_API_TOKEN>"
    assert main(["--config", "missing.yaml", "status"], env) == ExitCode.USAGE
    assert "missing.yaml" in err.getvalue()
    assert main(["exec", "--help"], env) == 0  # typer's own help and usage errors too
    assert "Usage" in out.getvalue()
    assert main(["exec", "--no-such-flag"], env) == ExitCode.USAGE
    assert "--no-such-flag" in err.getvalue()
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# --- validation before any hub --------------------------------------------------------------------

BAD_IDS = ["../x", "a/b", ""]


@pytest.mark.parametrize("conversation", BAD_IDS)
def test_start_server_refuses_bad_id_before_looking_for_a_hub(cli, conversation: str, no_hub_requests) -> None:
    """No hub recorded and no token: the bad id is the first thing to report (exit 2), not the missing hub."""
    code, out, err = cli("start-server", "demo", conversation)
    assert code == ExitCode.USAGE, err
    assert "conversation id" in err
    assert "Traceback" not in err
    assert no_hub_requests == []


@pytest.mark.parametrize("conversation", BAD_IDS)
def test_start_server_refuses_bad_id_without_contacting_the_hub(
    cli, conversation: str, no_hub_requests, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JHUBCTL_HUB_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("JHUBCTL_API_TOKEN", "t0ken")
    code, out, err = cli("start-server", "demo", conversation)
    assert code == ExitCode.USAGE, err
    assert "conversation id" in err
    assert no_hub_requests == []
    assert out == ""


def test_start_server_refuses_bad_user_name(cli, no_hub_requests, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JHUBCTL_HUB_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("JHUBCTL_API_TOKEN", "t0ken")
    code, _, err = cli("start-server", "../root", "c1")
    assert code == ExitCode.USAGE
    assert "user name" in err
    assert no_hub_requests == []


def test_exec_refuses_bad_id_before_looking_for_a_hub(cli, no_hub_requests) -> None:
    code, _, err = cli("exec", "demo", "../x", "--code", "print(1)")
    assert code == ExitCode.USAGE, err
    assert "conversation id" in err


def test_stop_server_refuses_bad_id_before_looking_for_a_hub(cli, no_hub_requests) -> None:
    code, _, err = cli("stop-server", "demo", "a/b")
    assert code == ExitCode.USAGE, err
    assert "conversation id" in err


def test_start_server_without_any_hub_says_to_run_up(cli, no_hub_requests) -> None:
    code, out, err = cli("start-server", "demo", "c1")
    assert code == ExitCode.NOT_FOUND
    assert "jhubctl up" in err
    assert "Traceback" not in err
    assert out == ""


def test_start_server_with_a_token_but_no_hub_recorded_says_to_run_up(cli, no_hub_requests) -> None:
    assert cli("token").code == 0
    code, _, err = cli("start-server", "demo", "c1")
    assert code == ExitCode.NOT_FOUND
    assert "no hub is recorded" in err
    assert "jhubctl up" in err


@pytest.mark.parametrize("target", ["kubernetes", "azure"])
def test_a_cluster_target_without_a_deployed_hub_names_deploy_hub(cli, tmp_path: Path, target: str,
                                                                   no_hub_requests) -> None:
    (tmp_path / "jhubctl.yaml").write_text(f"target: {target}\n")
    assert cli("token").code == 0
    code, _, err = cli("servers")
    assert code == ExitCode.NOT_FOUND
    assert "no hub is recorded" in err and f"target {target}" in err and "jhubctl deploy-hub" in err
    code, out, _ = cli("status", "--json")
    assert code == 0 and json.loads(out)["hub"]["health"] == "not deployed"


# --- output options -------------------------------------------------------------------------------


def test_output_yaml_is_refused_as_usage(cli) -> None:
    code, out, err = cli("-o", "yaml", "config", "show")
    assert code == ExitCode.USAGE
    assert "text" in err and "json" in err
    assert out == ""


def test_unknown_option_is_a_usage_error(cli) -> None:
    code, _, err = cli("--no-such-option", "status")
    assert code == ExitCode.USAGE
    assert "--no-such-option" in err


def test_missing_argument_is_a_usage_error(cli) -> None:
    code, _, err = cli("start-server", "demo")
    assert code == ExitCode.USAGE
    assert "CONVERSATION" in err.upper()


@pytest.fixture
def colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make rich believe stderr is a colour terminal, as it would be for a user."""
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TERM", "xterm-256color")


def test_errors_are_coloured_on_a_terminal(cli, colour_terminal: None) -> None:
    """The premise of the NO_COLOR tests: without it, an error does carry ANSI escapes."""
    code, _, err = cli("--config", "missing.yaml", "status")
    assert code == ExitCode.USAGE
    assert ANSI.search(err)


def test_no_color_env_means_no_ansi_escapes(cli, colour_terminal: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    code, _, err = cli("--config", "missing.yaml", "status")
    assert code == ExitCode.USAGE
    assert "missing.yaml" in err
    assert not ANSI.search(err), repr(err)


def test_no_color_flag_means_no_ansi_escapes(cli, colour_terminal: None) -> None:
    code, _, err = cli("--no-color", "--config", "missing.yaml", "status")
    assert code == ExitCode.USAGE
    assert not ANSI.search(err), repr(err)


def test_provision_refuses_a_non_azure_target_before_any_request(cli, tmp_path: Path, monkeypatch) -> None:
    # An ARM endpoint that cannot answer: reaching it at all would be a different error.
    monkeypatch.setenv("JHUBCTL_ARM_ENDPOINT", "https://127.0.0.1:9")
    (tmp_path / "jhubctl.yaml").write_text("target: local\n")
    code, _, err = cli("provision", "--dry-run")
    assert code == 2
    assert "target: local" in err and "set target: azure" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("resource", "shown"),
    [
        ("/subscriptions/s/resourceGroups/rg", "resourceGroups/rg"),
        ("/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks/v/subnets/x",
         "Microsoft.Network/virtualNetworks/v/subnets/x"),
        ("provider Microsoft.Storage", "provider Microsoft.Storage"),
    ],
)
def test_plan_table_shortens_arm_ids(resource: str, shown: str) -> None:
    from jhubctl.azure.desired import short_id as short

    assert short(resource) == shown


def test_resume_command_names_the_config_and_a_non_default_state_dir(tmp_path: Path) -> None:
    from jhubctl.config import load_config
    from jhubctl.azure.provision import resume_command

    config = tmp_path / "my env" / "jhubctl.yaml"
    config.parent.mkdir()
    config.write_text("target: azure\n")
    assert resume_command(load_config(config, environ={})) == f"jhubctl --config '{config}' provision"
    elsewhere = tmp_path / "state"
    assert resume_command(load_config(config, elsewhere, environ={})) == (
        f"jhubctl --config '{config}' --state-dir {elsewhere} provision"
    )
