"""`jhubctl status` (the journal and the hub's health) and `jhubctl token`."""

from __future__ import annotations

import typer

from .context import JsonFlag, app_context


def status(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Show every recorded step with its outputs, and whether the hub answers."""
    from ..status import collect

    actx = app_context(ctx)
    out = actx.output(json_flag)
    report = collect(actx.loaded)
    if out.json_mode:
        out.data(report)
        return
    hub = report["hub"]
    out.text(f"target: {report['target']}   state: {report['state_dir']}")
    out.text(f"hub: {hub['health']}" + (f" at {hub['url']}" if hub.get("url") else ""))
    for proc in hub.get("leftovers") or []:
        out.text(f"  leftover {proc['role']} pid {proc['pid']}: {proc['command']}")
    if not report["steps"]:
        out.info("no steps recorded yet")
        return
    out.table(
        ["STEP", "STATUS", "STARTED", "FINISHED"],
        [[name, s["status"], s["started_at"], s["finished_at"]] for name, s in report["steps"].items()],
    )
    for name, s in report["steps"].items():
        if s["outputs"] or s["error"]:
            out.text(f"\n{name}:")
        for key, value in s["outputs"].items():
            out.text(f"  {key}: {'-' if value is None else value}")
        if s["error"]:
            out.text(f"  error: {s['error']}")


def token(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Print the hub API token (for the assistant's .env); created on first use."""
    from ..state import Secrets

    actx = app_context(ctx)
    out = actx.output(json_flag)
    secrets = Secrets(actx.loaded.state_dir, actx.loaded.environ)
    token = str(secrets.api_token())
    if out.json_mode:
        out.data({"token": token, "source": secrets.api_token_source()})
    else:
        out.text(token)


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command()(token)
