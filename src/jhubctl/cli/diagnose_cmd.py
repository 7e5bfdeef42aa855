"""`jhubctl diagnose` (what is wrong and how to fix it) and `jhubctl logs` (the right log, found for you).

Both only parse and render: the checks live in jhubctl.diagnose, the log finding in jhubctl.logs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .context import JsonFlag, app_context

if TYPE_CHECKING:
    from ..diagnose.finding import Report
    from ..output import Output

AREAS = ("local", "azure", "cluster", "hub")


def _areas(values: list[str] | None) -> list[str] | None:
    for value in values or []:
        if value not in AREAS:
            raise typer.BadParameter(f"{value!r} is not an area: choose from {', '.join(AREAS)}")
    return values


def _complete_area(incomplete: str) -> list[str]:
    return [a for a in AREAS if a.startswith(incomplete)]


def _seconds(value: str | None) -> str | None:
    from ..errors import UsageError
    from ..logs import duration

    if value is not None:
        try:
            duration(value)
        except UsageError as exc:
            raise typer.BadParameter(exc.message) from None
    return value


def diagnose(
    ctx: typer.Context,
    only: Annotated[list[str] | None, typer.Option("--only", metavar="AREA", callback=_areas,
                                                   autocompletion=_complete_area,
                                                   help="Check only this area: local, azure, cluster or hub (repeatable).")] = None,
    user: Annotated[str | None, typer.Option("--user", metavar="USER", help="Also check this user's servers, pods "
                                                                             "and conversation folders.")] = None,
    conversation: Annotated[str | None, typer.Option("--conversation", metavar="CONVERSATION",
                                                     help="With --user: only this conversation.")] = None,
    json_flag: JsonFlag = False,
) -> None:
    """Find what is wrong with the deployment and say how to fix it: each check's code, what it saw and one
    command; exit 0 when nothing fails, 1 when something does, 2 when diagnose cannot run (a bad config).
    """
    from ..diagnose.fixes import fix
    from ..diagnose.runner import broken, run
    from ..errors import ConfigError, UsageError
    from ..interpreter import validate
    from ..spawner.naming import InvalidName, normalize_user

    actx = app_context(ctx)
    out = actx.output(json_flag)
    if conversation is not None and user is None:
        raise UsageError("--conversation needs --user", hint="jhubctl diagnose --user USER --conversation CONVERSATION")
    if user is not None:
        try:
            user, conversation = validate(user, conversation) if conversation else (normalize_user(user), None)
        except InvalidName as exc:
            raise UsageError(str(exc)) from None
    try:
        loaded = actx.loaded
    except ConfigError as exc:
        file = str(actx.config_path or "jhubctl.yaml")
        report = broken("JH101", "local", exc.message, [exc.hint] if exc.hint else [],
                        fix("config-fix", file=file), only or AREAS)
    else:
        with out.progress("diagnosing " + ", ".join(only or AREAS)):
            report = run(loaded, areas=only or AREAS, user=user, conversation=conversation, debug=out.debug)
    render(out, report)
    raise typer.Exit(report.exit_code)


def render(out: Output, report: Report) -> None:
    if out.json_mode:
        out.data([finding.as_dict() for finding in report.findings])
        return
    for area in AREAS:
        rows = [[f.status, f.code, f.summary] for f in report.findings if f.area == area]
        if len(rows) > 1 and {(status, summary) for status, _, summary in rows} == {("skip", rows[0][2])}:
            rows = [["skip", f"{rows[0][1]}-{rows[-1][1]}", f"{rows[0][2]} ({len(rows)} checks)"]]
        if rows:
            out.table(["STATUS", "CODE", "FINDING"], rows, title=area, whole=["CODE"])
    details = [f for f in report.findings if f.status in ("fail", "warn") or (out.verbose and f.evidence)]
    for finding in details:
        out.text(f"\n{finding.code} {finding.status}: {finding.summary}")
        for line in finding.evidence:
            out.text(f"  saw: {line}")
        if finding.fix:
            out.text(f"  fix: {finding.fix}")
    counts = report.counts()
    said = ", ".join(f"{n} {word}" for word, n in (("failed", counts["fail"]), ("warnings", counts["warn"]),
                                                   ("ok", counts["ok"]), ("skipped", counts["skip"])) if n)
    if counts["fail"]:
        out.error(said, "each `fix:` above is one way out; docs/troubleshooting.md explains every code")
    elif counts["warn"]:
        out.warn(said)
    else:
        out.success(said or "nothing to check")


def logs(
    ctx: typer.Context,
    target: Annotated[str, typer.Argument(metavar="hub|proxy|culler|USER",
                                          help="hub, proxy, culler, or a user name (their conversation's server).")],
    conversation: Annotated[str | None, typer.Argument(metavar="[CONVERSATION]",
                                                       help="With a user name: which conversation.")] = None,
    previous: Annotated[bool, typer.Option("--previous", "-p", help="The log of the container's last run "
                                                                    "(what a crash loop left).")] = False,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing lines as they are written "
                                                                "(Ctrl-C ends).")] = False,
    since: Annotated[str | None, typer.Option("--since", metavar="DURATION", callback=_seconds,
                                              help="Only lines of the last DURATION (30s, 5m, 1h).")] = None,
    json_flag: JsonFlag = False,
) -> None:
    """Print the log of the hub, the proxy, the culler or a user's conversation server; the pod (or the local
    hub's log file) is found for you.
    """
    import json

    from ..errors import UsageError
    from ..interpreter import validate
    from ..logs import COMPONENTS, duration, open_log
    from ..spawner.naming import InvalidName, normalize_user

    actx = app_context(ctx)
    out = actx.output(json_flag)
    if target in COMPONENTS and conversation is not None:
        raise UsageError(f"{target} has no conversation", hint=f"jhubctl logs {target}")
    if previous and follow:
        raise UsageError("--previous and --follow together: a previous run writes no more lines")
    if target not in COMPONENTS:
        try:
            target, conversation = validate(target, conversation) if conversation else (normalize_user(target), None)
        except InvalidName as exc:
            raise UsageError(str(exc)) from None
    with open_log(actx.loaded, target, conversation, previous=previous, follow=follow,
                  since=duration(since) if since else None) as log:
        out.info(f"log of {log.where}")
        for line in log.lines:
            out.stream((json.dumps({"source": log.where, "line": line}) if out.json_mode else line) + "\n")


def register(app: typer.Typer) -> None:
    app.command()(diagnose)
    app.command()(logs)
