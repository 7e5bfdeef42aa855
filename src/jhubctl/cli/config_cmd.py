"""`jhubctl config`: see and check the effective configuration."""

from __future__ import annotations

import json

import typer

from .context import JsonFlag, app_context

app = typer.Typer(help="Show, validate and describe the configuration.", no_args_is_help=True)


@app.command("show")
def show(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Print the effective config (file + environment + defaults); secrets are shown as their source only."""
    from ..config_view import effective

    actx = app_context(ctx)
    out = actx.output(json_flag)
    view = effective(actx.loaded)
    if out.json_mode:
        out.data(view)
    else:
        import yaml

        out.text(yaml.safe_dump(view, sort_keys=False).rstrip())


@app.command("validate")
def validate(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Check the config file and exit 0 if it is valid (exit 2 with the first problem otherwise)."""
    actx = app_context(ctx)
    out = actx.output(json_flag)
    loaded = actx.loaded
    source = str(loaded.path or "built-in defaults")
    out.success(f"{source}: valid (target {loaded.config.target})")
    out.data({"valid": True, "source": source, "target": loaded.config.target})


@app.command("schema")
def schema(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Print the config's JSON schema (for editors: yaml-language-server, VS Code); JSON either way."""
    from ..config import Config

    app_context(ctx).output(json_flag).text(json.dumps(Config.model_json_schema(), indent=2))
