"""`jhubctl provision` and `jhubctl destroy`: confirm and render; the workflow is jhubctl.azure.provision."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from .context import JsonFlag, app_context

if TYPE_CHECKING:
    from ..output import Output
    from ..steps.runner import StepResult


def _step_names(incomplete: str) -> list[str]:
    from ..azure.provision import STEPS

    return [name for name in STEPS if name.startswith(incomplete)]


def _only(values: list[str] | None) -> list[str]:
    """Checked while parsing (exit 2, naming the steps) before the config, a credential or a request."""
    from ..azure.provision import check_steps

    return check_steps(values or [])


def provision(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan from real GETs; change nothing.")] = False,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="Run only this step (repeatable).", callback=_only, autocompletion=_step_names)] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before creating resources.")] = False,
    merge_kubeconfig: Annotated[
        bool, typer.Option("--merge-kubeconfig", help="Also merge the cluster's context into ~/.kube/config.")
    ] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Create or update the seed's Azure infrastructure: resource group, ACR, network, storage, AKS, roles.

    Safe to run again: each step compares the real state with the config and writes only differences.
    """
    from ..azure import provision as core
    from ..errors import ExitCode, UsageError
    from ..steps.view import StepView

    actx = app_context(ctx)
    out = actx.output(json_flag)
    loaded = actx.loaded
    with core.provisioning(loaded, only or [], dry_run=dry_run) as run:
        with StepView(out, run.step_names, transient=True) as live:
            plan = run.plan(live)
        if dry_run or plan.failed:
            _report(out, plan.steps, dry_run=True)
            if plan.failed:
                raise typer.Exit(ExitCode.ERROR)
            return
        if plan.writes and not yes:
            if not out.interactive:
                raise UsageError("changes to make and no terminal to ask", hint="review with --dry-run, then pass --yes")
            _report(out, plan.steps, dry_run=True)
            if not out.confirm("apply these changes?"):
                raise typer.Abort()
        with StepView(out, run.step_names) as live:
            result = run.apply(live)
    _report(out, result.steps, dry_run=False)
    if not result.ok:
        out.error(f"not every step finished; resume with: {core.resume_command(loaded)}")
        raise typer.Exit(ExitCode.ERROR)
    if merge_kubeconfig:
        out.success(f"context {loaded.config.aks.cluster_name} merged into {core.merge_kubeconfig(loaded)}")


def _report(out: Output, results: list[StepResult], *, dry_run: bool) -> None:
    from ..azure.desired import short_id

    if out.json_mode:
        out.data({"dry_run": dry_run, "steps": [r.as_dict() for r in results]})
        return
    rows: list[list[str]] = []
    for r in results:
        if not r.changes:
            rows.append([r.name, r.status, "", "", r.error or ""])
        rows += [[r.name, r.status, c.action, short_id(c.resource), ", ".join(c.fields)] for c in r.changes]
    out.table(["STEP", "STATUS", "ACTION", "RESOURCE", "DETAIL"], rows)
    for r in results:
        if r.error:
            out.error(f"{r.name}: {r.error}", r.hint)


def destroy(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted (real GETs); delete nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Delete what provision created: only resources tagged as this environment's; the group only if ours."""
    from ..azure import provision as core
    from ..errors import UsageError

    actx = app_context(ctx)
    out = actx.output(json_flag)
    loaded = actx.loaded
    with core.destruction(loaded, dry_run=dry_run) as run:
        teardown = run.plan()
        if teardown.empty:
            out.info(f"nothing of environment {loaded.config.name!r} in {loaded.config.azure.resource_group}")
            out.data({"dry_run": dry_run, "deleted": []})
            return
        verb = "would delete" if dry_run else "will delete"
        for rid in teardown.resources:
            out.info(f"{verb} {rid}")
        if teardown.application:
            out.info(f"{verb} application {teardown.application} (the service principal provision created)")
        if dry_run:
            out.data({"dry_run": True, "deleted": [], "would_delete": teardown.resources,
                      "application": teardown.application}, "dry run: nothing deleted")
            return
        if not yes:
            if not out.interactive:
                raise UsageError(f"{len(teardown.resources)} resource(s) to delete and no terminal to ask",
                                 hint="pass --yes")
            if not out.confirm(f"delete {len(teardown.resources)} resource(s)?"):
                raise typer.Abort()
        with out.progress("deleting"):
            deleted = run.apply(teardown, on_deleted=lambda rid: out.success(f"deleted {rid}"))
    out.data({"dry_run": False, "deleted": deleted}, f"deleted {len(deleted)} resource(s)")


def register(app: typer.Typer) -> None:
    app.command()(provision)
    app.command()(destroy)
