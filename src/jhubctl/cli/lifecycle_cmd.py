"""`jhubctl up` / `jhubctl down`: bring the configured target's hub up and down (the target does the work)."""

from __future__ import annotations

from typing import Annotated

import typer

from .context import Context, JsonFlag, Kubeconfig, kube_context


def up(
    ctx: typer.Context,
    smoke_test: Annotated[bool, typer.Option("--smoke-test/--no-smoke-test",
                                             help="Run one line of code in a throwaway conversation at the end.")] = True,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    json_flag: JsonFlag = False,
) -> None:
    """Bring the environment up: `local` a JupyterHub on 127.0.0.1; `kubernetes` apply-storage, both images,
    deploy-hub and a health check; `azure` provision first.

    Running it again changes nothing and says so step by step.
    """
    from ..state import StateLock
    from ..targets import target_for

    actx = kube_context(ctx, kubeconfig, context)
    out = actx.output(json_flag)
    loaded = actx.loaded
    target = target_for(loaded)
    with StateLock(loaded.state_dir, "up"):
        result = target.up(out, smoke_test=smoke_test)
    lines = [f"hub URL:   {result.url}"]
    if "token_source" in result.facts:
        lines.append(f"API token: {result.facts['token_source']} (`jhubctl token` prints it)")
    if result.facts.get("notebook"):
        lines.append(f"notebook:  {result.facts['notebook']}")
    out.data(result.as_dict(), "\n".join(lines))


def down(ctx: typer.Context, kubeconfig: Kubeconfig = None, context: Context = None,
         json_flag: JsonFlag = False) -> None:
    """Stop the hub and every user server it runs (their folders and notebooks stay)."""
    from ..state import StateLock
    from ..targets import target_for

    actx = kube_context(ctx, kubeconfig, context)
    out = actx.output(json_flag)
    with StateLock(actx.loaded.state_dir, "down"):
        result = target_for(actx.loaded).down(out)
    out.success(result.message)
    out.data(result.as_dict())


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
