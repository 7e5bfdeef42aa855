"""The command line: typer commands that parse options and call the core.

`main` owns error handling so every user error is one line and an exit code (docs/exit-codes.md), while
`--debug` shows the traceback. Heavy modules (SDKs, httpx, pydantic models) are imported inside commands
so `jhubctl --help` and shell completion stay instant.
"""

from __future__ import annotations

import contextlib
import copy
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from .. import __version__
from ..errors import ExitCode, JhubctlError
from ..output import Environment
from .context import AppContext, app_context

app = typer.Typer(
    name="jhubctl",
    help="Operate a JupyterHub code-interpreter backend: local hub, AKS, conversations and code execution.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,  # locals can hold tokens
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(ctx: typer.Context, value: bool) -> None:
    if value:
        app_context(ctx).output().text(f"jhubctl {__version__}")
        raise typer.Exit()


def _path(value: str | None) -> str | None:
    """An empty path would silently mean the current folder."""
    if value is not None and not value.strip():
        raise typer.BadParameter("must not be empty (leave the option out for the default)")
    return value


FORMATS = ("text", "json")


def _format(value: str | None) -> str | None:
    if value is not None and value not in FORMATS:
        raise typer.BadParameter("must be 'text' or 'json'")
    return value


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        str | None,
        typer.Option("--config", "-c", envvar="JHUBCTL_CONFIG", metavar="PATH", callback=_path,
                     help="Config file (default: ./jhubctl.yaml).", show_envvar=True),
    ] = None,
    state_dir: Annotated[
        str | None,
        typer.Option("--state-dir", envvar="JHUBCTL_STATE_DIR", show_envvar=True, metavar="PATH", callback=_path,
                     help="State directory (default: .jhubctl beside the config)."),
    ] = None,
    output: Annotated[str, typer.Option("--output", "-o", metavar="FORMAT", callback=_format,
                                        help="Output format: text or json.")] = "text",
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only errors and data.")] = False,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More detail on stderr.")] = 0,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    color: Annotated[
        bool | None, typer.Option("--color/--no-color", help="Force colour on or off (default: auto; honours NO_COLOR).")
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option("--kubeconfig", help="Kubeconfig for the cluster commands (env JHUBCTL_KUBECONFIG).")
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="Context in that kubeconfig (env JHUBCTL_KUBE_CONTEXT).")
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    actx = app_context(ctx)
    actx.config_path = Path(config) if config is not None else None
    actx.state_dir = Path(state_dir) if state_dir is not None else None
    actx.output_format = output
    actx.quiet, actx.verbose, actx.debug, actx.color = quiet, verbose, debug, color
    actx.kubeconfig, actx.kube_context = kubeconfig, context


def _register() -> None:
    from . import (
        cluster_cmd,
        config_cmd,
        diagnose_cmd,
        files_cmd,
        lifecycle_cmd,
        mcp_cmd,
        provision_cmd,
        servers_cmd,
        status_cmd,
    )

    for module in (provision_cmd, cluster_cmd, lifecycle_cmd, servers_cmd, files_cmd, mcp_cmd, status_cmd,
                   diagnose_cmd):
        module.register(app)
    app.add_typer(config_cmd.app, name="config")


_register()


#: Metavars for options that name none: conventional words for typer's type names, not Python types (`<float>`).
METAVARS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "float range": "NUMBER", "integer range": "INTEGER",
            "path": "PATH", "file": "PATH", "directory": "PATH"}


def conventional_metavars(command: Any) -> None:
    """Flags show no value, arguments their name (`USER`, `[USER]`), other options a word such as TEXT or
    PATH. typer would show Python types; these are per-instance overrides of its display methods (an
    argument gets its own copy of its type, whose metavar typer's help shows in the type column)."""
    for param in command.params:
        if param.param_type_name == "argument":
            name = param.metavar = param.metavar or param.name.upper()
            piece = name if param.required else f"[{name}]"
            param.type = copy.copy(param.type)
            param.type.get_metavar = lambda *args, **kwargs: ""
            param.get_usage_pieces = lambda ctx, piece=piece: [piece]
        elif param.is_flag or param.count:
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = METAVARS.get(param.type.name, param.type.name.upper())
    help_option = command.get_help_option

    def get_help_option(ctx: Any) -> Any:
        option = help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = get_help_option
    for sub in (getattr(command, "commands", None) or {}).values():
        conventional_metavars(sub)


def _set_output(ctx: Any, param: Any, value: str | None) -> None:
    if _format(value) is not None:
        app_context(ctx).output_format = value


def output_option(command: Any) -> None:
    """`-o/--output text|json` after the subcommand too (`jhubctl status -o json`, as kubectl and az take
    it), on every command with `--json`: the same switch as the root's `-o`. A command whose own `-o`
    means more (apply-storage's yaml) keeps it."""
    for sub in (getattr(command, "commands", None) or {}).values():
        output_option(sub)
    names = {name for param in command.params for name in getattr(param, "opts", [])}
    if "--json" in names and not names & {"-o", "--output"}:
        command.params.append(typer.core.TyperOption(
            param_decls=["--output", "-o"], metavar="FORMAT", expose_value=False,
            callback=_set_output, help="Output format: text or json (-o json is --json)."))


class Commands(Mapping[str, Any]):
    """The subcommands, each built (its signature, type hints and metavars) the first time it is asked for.

    Building all of them costs about 20 ms, 7 % of a warm `jhubctl exec`, which runs one; help lists them
    all and so builds them all. The command tree itself is still declared on `app`, as typer has it."""

    def __init__(self, app: typer.Typer):
        self._app = app
        self._infos: dict[str, Any] = {
            info.name or typer.main.get_command_name(info.callback.__name__): info
            for info in [*app.registered_commands, *app.registered_groups]
        }
        self._built: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._built:
            info = self._infos[name]
            common = {"pretty_exceptions_short": self._app.pretty_exceptions_short,
                      "rich_markup_mode": self._app.rich_markup_mode}
            if isinstance(info, typer.models.TyperInfo):
                command = typer.main.get_group_from_info(info, suggest_commands=self._app.suggest_commands, **common)
            else:
                command = typer.main.get_command_from_info(info, **common)
            conventional_metavars(command)
            output_option(command)
            self._built[name] = command
        return self._built[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._infos)

    def __len__(self) -> int:
        return len(self._infos)


def root_command() -> Any:
    """The click command `main` runs: the root's own options now, each subcommand when it is asked for."""
    root = copy.copy(app)
    root.registered_commands, root.registered_groups = [], []
    command = typer.main.get_command(root)
    conventional_metavars(command)
    command.commands = Commands(app)
    return command


def main(argv: list[str] | None = None, env: Environment | None = None) -> int:
    """Run the CLI; returns the exit code. Tests call this in-process, with their own `env` if they need one."""
    from typer._click.exceptions import ClickException  # typer vendors its click

    actx = AppContext(env or Environment())
    command = root_command()
    try:
        # Without standalone mode click returns the code of a typer.Exit raised inside a command. What
        # typer and click print themselves (help, usage) goes to the environment's streams too.
        with contextlib.redirect_stdout(actx.env.stdout), contextlib.redirect_stderr(actx.env.stderr):
            code = command.main(args=argv if argv is not None else sys.argv[1:], prog_name="jhubctl",
                                standalone_mode=False, obj=actx)
    except typer.Exit as exc:
        return exc.exit_code
    except ClickException as exc:
        exc.show(file=actx.env.stderr)
        return ExitCode.USAGE
    except (typer.Abort, KeyboardInterrupt):
        actx.output().info("\ninterrupted")
        return ExitCode.INTERRUPTED
    except JhubctlError as exc:
        if actx.debug:
            import traceback

            traceback.print_exc(file=actx.env.stderr)
        actx.output().error(exc.message, exc.hint)
        return exc.exit_code
    except Exception as exc:  # a bug or an unexpected failure: still one line unless --debug
        if actx.debug:
            raise
        actx.output().error(f"unexpected {type(exc).__name__}: {exc}", "run again with --debug for the traceback")
        return ExitCode.ERROR
    return code if isinstance(code, int) else ExitCode.OK


def run() -> None:
    sys.exit(main())
