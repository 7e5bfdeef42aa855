"""`jhubctl provision` and `jhubctl destroy`: Azure infrastructure as a resumable step graph."""

from __future__ import annotations

from typing import Annotated

import typer

from .context import JsonFlag, app_context


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
    from ..errors import ExitCode
    from ..state import StateLock
    from ..steps.view import StepView

    actx = app_context(ctx)
    out = actx.output(json_flag)
    loaded = actx.loaded
    lock = None if dry_run else StateLock(loaded.state_dir, "provision")
    if lock is not None:
        lock.__enter__()
    try:
        env = core.build_env(loaded)
        with StepView(out, core.step_names()) as view:
            runner = core.runner(loaded, env, view)
            plan = runner.plan(only)
        if dry_run or any(r.status == "failed" for r in plan):
            _report(out, plan, dry_run=True)
            if any(r.status == "failed" for r in plan):
                raise typer.Exit(ExitCode.ERROR)
            return
        writes = [c for r in plan for c in r.changes if c.action != "unchanged"]
        if writes and not yes:
            if not out.interactive:
                from ..errors import UsageError

                raise UsageError(f"{len(writes)} change(s) to make and no terminal to ask", hint="pass --yes")
            _report(out, plan, dry_run=True)
            typer.confirm(f"apply {len(writes)} change(s)?", abort=True, err=True)
        with StepView(out, [r.name for r in plan]) as view:
            runner.view = view
            results = runner.apply(only)
    finally:
        if lock is not None:
            lock.__exit__(None, None, None)
    _report(out, results, dry_run=False)
    failed = [r for r in results if r.status != "succeeded"]
    if failed:
        out.error(f"{len(failed)} step(s) did not finish; resume with: {core.resume_command(loaded)}")
        raise typer.Exit(ExitCode.ERROR)
    if merge_kubeconfig:
        out.success(f"context {loaded.config.aks.cluster_name} merged into {core.merge_kubeconfig(loaded)}")


def _report(out, results, *, dry_run: bool) -> None:  # type: ignore[no-untyped-def]
    if out.json_mode:
        out.data({"dry_run": dry_run, "steps": [r.as_dict() for r in results]})
        return
    rows = []
    for r in results:
        for c in r.changes or [None]:
            if c is None:
                rows.append([r.name, r.status, "", "", r.error or ""])
            else:
                rows.append([r.name, r.status, c.action, c.resource, ", ".join(c.fields)])
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
        if not ids:
            out.info(f"nothing of environment {loaded.config.name!r} in {loaded.config.azure.resource_group}")
            out.data({"deleted": []})
            return
        for rid in ids:
            out.info(f"will delete {rid}")
        if not yes:
            if not out.interactive:
                raise UsageError(f"{len(ids)} resource(s) to delete and no terminal to ask", hint="pass --yes")
            typer.confirm(f"delete {len(ids)} resource(s)?", abort=True, err=True)
        with out.progress("deleting"):
            core.destroy(loaded, arm, ids, on_deleted=lambda rid: out.success(f"deleted {rid}"))
    out.data({"deleted": ids}, f"deleted {len(ids)} resource(s)")


def register(app: typer.Typer) -> None:
    app.command()(provision)
    app.command()(destroy)
