"""Conversation servers and code execution: start-server, stop-server, servers, exec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .context import JsonFlag, app_context

User = Annotated[str, typer.Argument(help="Hub user name (a-z, 0-9, '-', '_'; case folded).")]
Conversation = Annotated[str, typer.Argument(help="Conversation id; its server and folder are named after it.")]
Timeout = Annotated[float | None, typer.Option("--timeout", help="Seconds to wait (default: from config).")]


def start_server(ctx: typer.Context, user: User, conversation: Conversation, timeout: Timeout = None,
                 json_flag: JsonFlag = False) -> None:
    """Start (or find running) the server of USER's CONVERSATION and print its URL."""
    from ..hubapi.connect import connect
    from ..interpreter import interpreter_for, validate

    actx = app_context(ctx)
    out = actx.output(json_flag)
    validate(user, conversation)  # a bad name is the user's error even when no hub is reachable
    with connect(actx.loaded) as hub, interpreter_for(hub, actx.loaded.config.servers, user, conversation) as it:
        it.start_timeout = timeout or it.start_timeout
        with out.progress(f"starting {it.user}/{it.conversation}", total=100) as bar:
            result = it.start(on_progress=lambda e: bar.update(e.get("progress"), e.get("message")))
    state = "already running" if result.already_running else f"ready in {result.seconds:.2f} s"
    out.success(f"server {it.user}/{it.conversation} {state}")
    out.data(
        {"user": it.user, "conversation": it.conversation, "server_name": result.server.name,
         "url": result.server.url, "ready": result.server.ready, "already_running": result.already_running,
         "seconds": round(result.seconds, 3)},
        result.server.url,
    )


def stop_server(
    ctx: typer.Context, user: User, conversation: Conversation,
    remove: Annotated[bool, typer.Option("--remove", help="Also delete the named server (its folder stays).")] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Stop the server of USER's CONVERSATION (files in its folder are kept)."""
    from ..hubapi.connect import connect
    from ..interpreter import validate

    actx = app_context(ctx)
    out = actx.output(json_flag)
    user, conversation = validate(user, conversation)
    with connect(actx.loaded) as hub, out.progress(f"stopping {user}/{conversation}"):
        stopped = hub.stop_server(user, conversation, remove=remove)
    out.success(f"server {user}/{conversation} {'stopped' if stopped else 'was not running'}"
                + (" and removed" if remove and stopped else ""))
    out.data({"user": user, "conversation": conversation, "stopped": stopped, "removed": remove and stopped})


def servers(
    ctx: typer.Context,
    user: Annotated[str | None, typer.Argument(help="Only this user's servers.")] = None,
    json_flag: JsonFlag = False,
) -> None:
    """List running servers (one per active conversation)."""
    from ..hubapi.connect import connect
    from ..interpreter import validate

    actx = app_context(ctx)
    out = actx.output(json_flag)
    if user is not None:
        user, _ = validate(user, "x")
    with connect(actx.loaded) as hub:
        found = hub.servers(user)
    if out.json_mode:
        out.data([s.as_dict() for s in found])
        return
    if not found:
        out.info("no running servers")
        return
    out.table(
        ["USER", "CONVERSATION", "READY", "PENDING", "LAST ACTIVITY", "URL"],
        [[s.user, s.conversation + ("" if s.name else " (default server)"), "yes" if s.ready else "no", s.pending or "", s.last_activity, s.url]
         for s in found],
    )


def exec_(
    ctx: typer.Context, user: User, conversation: Conversation,
    code: Annotated[str | None, typer.Option("--code", help="Code to run.")] = None,
    file: Annotated[Path | None, typer.Option("--file", help="File with the code to run ('-' = stdin).",
                                              allow_dash=True)] = None,
    timeout: Timeout = None,
    output_dir: Annotated[Path | None, typer.Option("--output-dir", help="Where images go (default: state dir).")] = None,
    json_flag: JsonFlag = False,
) -> None:
    """Run code in USER's CONVERSATION (starting its server if needed) and append it to the notebook.

    Exit 0 when the code ran, 3 when it raised, 4 when it timed out and was interrupted.
    """
    from ..errors import ExitCode, UsageError
    from ..hubapi.connect import connect
    from ..interpreter import interpreter_for, validate

    actx = app_context(ctx)
    out = actx.output(json_flag)
    validate(user, conversation)
    if (code is None) == (file is None):
        raise UsageError("give exactly one of --code CODE or --file PATH")
    if file is not None:
        try:
            code = actx.env.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"--file {file}: {exc.strerror}") from None
    assert code is not None
    servers = actx.loaded.config.servers
    with connect(actx.loaded) as hub, interpreter_for(hub, servers, user, conversation) as it:
        with out.progress(f"running in {it.user}/{it.conversation}", total=100) as bar:
            result = it.execute(code, timeout or servers.exec_timeout,
                                on_progress=lambda e: bar.update(e.get("progress"), e.get("message")))
    images_dir = output_dir or actx.loaded.state_dir / "outputs" / it.user
    for path in result.save_images(images_dir):
        out.info(f"image written: {path}")
    if out.json_mode:
        out.data(result.as_dict())
    else:
        out.stream(result.stdout)
        for output in result.outputs:
            if output["output_type"] == "execute_result":
                text = output["data"].get("text/plain", "")
                out.text(text if isinstance(text, str) else "".join(text))
        if result.stderr:
            out.stream(result.stderr, stderr=True)
        if result.error:
            out.ansi("\n".join(result.error.get("traceback") or []))
    if result.status == "timeout":
        out.warn(f"timed out after {timeout or servers.exec_timeout:g} s; the kernel was interrupted and stays usable")
        raise typer.Exit(ExitCode.TIMEOUT)
    if result.status == "error":
        raise typer.Exit(ExitCode.CODE_ERROR)


def register(app: typer.Typer) -> None:
    app.command("start-server")(start_server)
    app.command("stop-server")(stop_server)
    app.command("servers")(servers)
    app.command("exec")(exec_)
