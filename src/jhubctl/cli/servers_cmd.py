"""Conversation servers and code execution: start-server, stop-server, servers, exec."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import ExitCode
from .context import JsonFlag, app_context, seconds_option

User = Annotated[str, typer.Argument(metavar="USER", help="Hub user name (a-z, 0-9, '-', '_'; case folded).")]
Conversation = Annotated[str, typer.Argument(metavar="CONVERSATION",
                                             help="Conversation id; its server and folder are named after it.")]
StartTimeout = Annotated[float | None, seconds_option("Seconds the server may take to be ready "
                                                       "(default: servers.start_timeout, 300).")]
ExecTimeout = Annotated[float | None, seconds_option("Seconds the code may run before the kernel is interrupted "
                                                      "(default: servers.exec_timeout, 60).")]


def start_server(ctx: typer.Context, user: User, conversation: Conversation, timeout: StartTimeout = None,
                 json_flag: JsonFlag = False) -> None:
    """Start (or find running) the server of USER's CONVERSATION and print its URL."""
    from ..hubapi.connect import connect
    from ..interpreter import interpreter_for, validate

    actx = app_context(ctx)
    out = actx.output(json_flag)
    validate(user, conversation)  # a bad name is the user's error even when no hub is reachable
    with connect(actx.loaded) as hub, interpreter_for(hub, actx.loaded.values.servers, user, conversation) as it:
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
        whole=["URL"],
    )


#: What `exec` says and exits with for each way an execution can end (hubapi.kernel.STATUSES).
OUTCOMES = {
    "ok": ("", ExitCode.OK),
    "error": ("", ExitCode.CODE_ERROR),
    "timeout": ("timed out after {timeout:g} s; the kernel was interrupted and stays usable", ExitCode.TIMEOUT),
    "interrupted": ("interrupted: the kernel was interrupted and the cell recorded as such", ExitCode.INTERRUPTED),
    "died": ("the kernel died running this code and was restarted: its variables are lost; the cell is recorded "
             "with the error", ExitCode.KERNEL_DIED),
    "output_dropped": ("the server's output rate limit dropped some output (raise servers.iopub_data_rate_limit "
                       "or servers.iopub_msg_rate_limit, or print less)", ExitCode.OUTPUT_DROPPED),
}


def exec_(
    ctx: typer.Context, user: User, conversation: Conversation,
    code: Annotated[str | None, typer.Option("--code", metavar="CODE", help="Code to run.")] = None,
    file: Annotated[Path | None, typer.Option("--file", metavar="PATH", help="File with the code to run ('-' = stdin).",
                                              allow_dash=True)] = None,
    timeout: ExecTimeout = None,
    output_dir: Annotated[Path | None, typer.Option("--output-dir", metavar="DIR",
                                                    help="Where image outputs are written "
                                                         "(default: <state dir>/outputs/<user>).")] = None,
    json_flag: JsonFlag = False,
) -> None:
    """Run code in USER's CONVERSATION (starting its server if needed) and append it to the notebook.

    Exit 0 ran, 3 raised, 4 timed out, 7 the kernel died, 8 output dropped, 130 Ctrl-C; the cell is always recorded.
    """
    from ..errors import UsageError
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
    servers = actx.loaded.values.servers
    seconds = timeout or servers.exec_timeout
    with connect(actx.loaded) as hub, interpreter_for(hub, servers, user, conversation) as it:
        with out.progress(f"running in {it.user}/{it.conversation}", total=100) as bar:
            result = it.execute(code, seconds, on_progress=lambda e: bar.update(e.get("progress"), e.get("message")))
    images_dir = output_dir or actx.loaded.state_dir / "outputs" / it.user
    for path in result.save_images(images_dir):
        out.info(f"image written: {path}")
    if out.json_mode:
        out.data(result.as_dict(colour=False))
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
    message, exit_code = OUTCOMES[result.status]
    if message:
        out.warn(message.format(timeout=seconds))
    if exit_code:
        raise typer.Exit(exit_code)


def register(app: typer.Typer) -> None:
    app.command("start-server")(start_server)
    app.command("stop-server")(stop_server)
    app.command("servers")(servers)
    app.command("exec")(exec_)
