"""`jhubctl provision` and `jhubctl destroy`: Azure infrastructure as a resumable step graph."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Annotated

import typer

from .context import JsonFlag, app_context

if TYPE_CHECKING:
    from ..output import Output
    from ..steps.runner import StepResult


def provision(
    ctx: typer.Context,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show the plan from real GETs; change nothing.")] = False,
    only: Annotated[list[str] | None, typer.Option("--only", help="Run only this step (repeatable).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before creating resources.")] = False,
    merge_kubeconfig: Annotated[
        bool, typer.Option("--merge-kubeconfig", help="Also merge the cluster's context into ~/.kube/config.")
    ] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Create or update the seed's Azure infrastructure: resource group, ACR, network, storage, AKS, roles.

    Safe to run again: each step compares the real state with the config and writes only differences.
    """
    from .. import provision as core
    from ..errors import ExitCode, UsageError
    from ..state import StateLock
    from ..steps.view import StepView

    actx = app_context(ctx)
    out = actx.output(json_flag)
    loaded = actx.loaded

    def approve(plan: list[StepResult]) -> None:
        if yes:
            return
        if not out.interactive:
            raise UsageError("changes to make and no terminal to ask", hint="review with --dry-run, then pass --yes")
        _report(out, plan, dry_run=True)
        if not out.confirm("apply these changes?"):
            raise typer.Abort()

    def view(names: list[str], phase: str) -> StepView:
        return StepView(out, names, transient=phase == "plan")

    with contextlib.nullcontext() if dry_run else StateLock(loaded.state_dir, "provision"):
        outcome = core.run(loaded, view, dry_run=dry_run, only=only, approve=approve)
    _report(out, outcome.results if outcome.results is not None else outcome.plan,
            dry_run=outcome.results is None)
    if not outcome.ok:
        if outcome.results is not None:
            out.error(f"not every step finished; resume with: {core.resume_command(loaded)}")
        raise typer.Exit(ExitCode.ERROR)
    if merge_kubeconfig and not dry_run:
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
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    json_flag: JsonFlag = False,
) -> None:
    """Delete what provision created: only resources tagged as this environment's; the group only if ours."""
    from .. import provision as core
    from ..errors import UsageError
    from ..state import StateLock

    actx = app_context(ctx)
    out = actx.output(json_flag)
    loaded = actx.loaded
    with StateLock(loaded.state_dir, "destroy"):
        arm = core.destroy_env(loaded)
        ids = core.destroy_plan(loaded, arm)
        app = core.created_application(loaded)
        if not ids and not app:
            out.info(f"nothing of environment {loaded.config.name!r} in {loaded.config.azure.resource_group}")
            out.data({"deleted": []})
            return
        for rid in ids:
            out.info(f"will delete {rid}")
        if app:
            out.info(f"will delete application {app} (the service principal provision created)")
        if not yes:
            if not out.interactive:
                raise UsageError(f"{len(ids)} resource(s) to delete and no terminal to ask", hint="pass --yes")
            if not out.confirm(f"delete {len(ids)} resource(s)?"):
                raise typer.Abort()
        with out.progress("deleting"):
            core.destroy(loaded, arm, ids, on_deleted=lambda rid: out.success(f"deleted {rid}"))
    out.data({"deleted": ids}, f"deleted {len(ids)} resource(s)")


def register(app: typer.Typer) -> None:
    app.command()(provision)
    app.command()(destroy)
