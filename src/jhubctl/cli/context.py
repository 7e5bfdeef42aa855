"""What every command shares: the environment, the global options, the output, and the lazily loaded config."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ..output import Environment, Output

if TYPE_CHECKING:
    from ..config_file import Loaded


@dataclass
class AppContext:
    """Made by `main` before parsing (so errors know --debug and --color), filled in by the root callback."""

    env: Environment = field(default_factory=Environment)
    config_path: Path | None = None
    state_dir: Path | None = None
    output_format: str = "text"
    quiet: bool = False
    verbose: int = 0
    debug: bool = False
    color: bool | None = None
    #: --kubeconfig / --context (global or per cluster command): they win over the config file.
    kubeconfig: Path | None = None
    kube_context: str | None = None
    _loaded: Loaded | None = field(default=None, repr=False)

    def output(self, json_flag: bool = False) -> Output:
        return Output(
            self.env,
            json_mode=json_flag or self.output_format == "json",
            quiet=self.quiet,
            verbose=self.verbose + int(self.debug),
            color=self.color,
        )

    @property
    def loaded(self) -> Loaded:
        if self._loaded is None:
            from ..config_file import load_config

            environ = dict(self.env.environ)
            if self.kubeconfig is not None:
                environ["JHUBCTL_KUBECONFIG"] = str(self.kubeconfig)
            if self.kube_context is not None:
                environ["JHUBCTL_KUBE_CONTEXT"] = self.kube_context
            self._loaded = load_config(self.config_path, self.state_dir, environ)
        return self._loaded


def app_context(ctx: typer.Context) -> AppContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, AppContext):  # typer's own runner (completion, CliRunner) passes no obj
        obj = ctx.find_root().obj = AppContext()
    return obj


JsonFlag = Annotated[bool, typer.Option("--json", help="Machine output on stdout (same as -o json).")]

#: `--kubeconfig`/`--context` after the commands that reach a cluster, as kubectl users type them.
Kubeconfig = Annotated[
    Path | None,
    typer.Option("--kubeconfig", help="Kubeconfig file (also a global option; env JHUBCTL_KUBECONFIG).", show_default=False),
]
Context = Annotated[
    str | None, typer.Option("--context", help="Context in the kubeconfig (also a global option; env JHUBCTL_KUBE_CONTEXT).")
]


def kube_context(ctx: typer.Context, kubeconfig: Path | None, context: str | None) -> AppContext:
    """The options given after the command win over the global ones (and those over the config file)."""
    actx = app_context(ctx)
    actx.kubeconfig = kubeconfig or actx.kubeconfig
    actx.kube_context = context or actx.kube_context
    return actx


def positive_seconds(value: float | None) -> float | None:
    """Checked at parse time: -1, 0, nan and inf are mistakes, not 'no limit' or 'the default'."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise typer.BadParameter(f"{value:g} is not a number of seconds > 0 (leave it out for the configured default)")
    return value


def seconds_option(help: str) -> typer.models.OptionInfo:
    return typer.Option("--timeout", metavar="SECONDS", callback=positive_seconds, help=help)
