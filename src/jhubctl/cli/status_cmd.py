"""`jhubctl status` (the journal and the hub's health) and `jhubctl token`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from .context import JsonFlag, app_context


def status(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Show every recorded step with its outputs, and whether the hub answers."""
    from ..status import collect

    actx = app_context(ctx)
    out = actx.output(json_flag)
    report = collect(actx.loaded)
    fence = report["interpreter"].get("fence")
    if fence is not None and not fence.startswith("on"):
        out.warn(f"fence {fence}: local servers can read the state directory (secrets.json) and other conversations")
    if out.json_mode:
        out.data(report)
        return
    hub = report["hub"]
    out.text(f"target: {report['target']}   state: {report['state_dir']}")
    out.text(f"hub: {hub['health']}" + (f" at {hub['url']}" if hub.get("url") else ""))
    for proc in hub.get("leftovers") or []:
        out.text(f"  leftover {proc['role']} pid {proc['pid']}: {proc['command']}")
    for line in interpreter_lines(report["interpreter"]):
        out.text(line)
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


def interpreter_lines(report: dict[str, Any]) -> list[str]:
    """The lock in use (and, on the local target, the venv and the fence; on a cluster, the singleuser image
    and the lock it was built from), one line each."""
    lines = []
    lock = report.get("lock")
    if lock is not None:
        detail = (f"sha256 {lock['sha256'][:12]}, {lock['packages']} packages, Python {lock['python']}, "
                  f"JupyterHub {lock['jupyterhub']}; {lock['state']}") if "sha256" in lock else lock["state"]
        lines.append(f"lock: {lock.get('path', '')} ({detail})")
    elif report.get("mode") == "shared":
        lines.append("lock: none (local.interpreter: shared; servers run in jhubctl's own Python)")
    if report.get("venv"):
        lines.append(f"venv: {report['venv']}")
    if "image" in report:
        image = report["image"]
        if image is None:
            lines.append("image: not built yet (`jhubctl build-singleuser-image`)")
        else:
            sha = f"lock sha256 {image['lock_sha256'][:12]}; " if image.get("lock_sha256") else ""
            lines.append(f"image: {image['image']} ({sha}{image['state']})")
    if "fence" in report:
        lines.append(f"fence: {report['fence']}")
    return lines


def token(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Option("--user", help="Mint a short-lived token limited to this user's servers "
                                                           "(the user is created if missing).")] = None,
    expires_in: Annotated[int | None, typer.Option("--expires-in", help="Lifetime of a --user token, in seconds "
                                                                        "(default 3600).")] = None,
    json_flag: JsonFlag = False,
) -> None:
    """Print the hub API token (for the assistant's .env); created on first use.

    With --user U: mint, through the hub, a token that can start, stop and reach U's servers only.
    """
    from ..errors import UsageError
    from ..state import Secrets

    actx = app_context(ctx)
    if user is None:
        if expires_in is not None:
            raise UsageError("--expires-in applies to a per-user token: add --user USER")
        out = actx.output(json_flag)
        secrets = Secrets(actx.loaded.state_dir, actx.loaded.environ)
        token = str(secrets.api_token())
        if out.json_mode:
            out.data({"token": token, "source": secrets.api_token_source()})
        else:
            out.text(token)
        return
    from ..hubapi.connect import connect
    from ..hubapi.tokens import mint_user_token

    out = actx.output(json_flag)
    with connect(actx.loaded) as hub:
        minted = mint_user_token(hub, user, 3600 if expires_in is None else expires_in)
    out.info(f"token {minted.id} for {minted.user}, expires {minted.expires_at}; scopes: {' '.join(minted.scopes)}")
    out.data(minted.as_dict(), minted.token)


def register(app: typer.Typer) -> None:
    app.command()(status)
    app.command()(token)
