"""`jhubctl up` / `jhubctl down`: bring the environment up (local target: a hub on 127.0.0.1) and down."""

from __future__ import annotations

from typing import Annotated

import typer

from .context import JsonFlag, app_context


def up(
    ctx: typer.Context,
    smoke_test: Annotated[bool, typer.Option("--smoke-test/--no-smoke-test", help="Run code in demo/demo-1 after start.")] = True,
    json_flag: JsonFlag = False,
) -> None:
    """Start the environment. Local target: a real JupyterHub on 127.0.0.1, configured like the cluster hub.

    Running it again is a no-op that reports the running hub.
    """
    from ..errors import UsageError
    from ..local.process import HubProcess
    from ..local.smoke import smoke_test as run_smoke
    from ..state import Secrets, StateLock

    actx = app_context(ctx)
    out = actx.output(json_flag)
    loaded = actx.loaded
    if loaded.config.target != "local":
        raise UsageError(
            f"`up` for target {loaded.config.target!r} is not available yet",
            hint="set target: local in the config, or use the step commands as they land (see docs/)",
        )
    with StateLock(loaded.state_dir, "up"):
        runner = HubProcess(loaded)
        with out.progress("starting the local hub"):
            hub, started = runner.start()
        if started:
            out.success(f"local hub running at {hub.url} (pid {hub.pid})")
        else:
            out.info(f"local hub already running at {hub.url} (pid {hub.pid}); nothing to do")
        payload: dict[str, object] = {
            "url": hub.url, "pid": hub.pid, "started": started, "log": str(hub.log),
            "data_root": str(hub.data_root), "token_source": Secrets(loaded.state_dir).api_token_source(),
        }
        if smoke_test:
            with out.progress("smoke test: demo/demo-1", total=100) as bar:
                result = run_smoke(
                    loaded, hub.url, hub.data_root,
                    on_progress=lambda e: bar.update(e.get("progress"), e.get("message")),
                )
            out.success(f"smoke test: {result.stdout!r} in {result.seconds:.2f} s")
            payload["notebook"] = str(result.notebook_file)
    lines = [f"hub URL:   {hub.url}", f"API token: {payload['token_source']} (`jhubctl token` prints it)"]
    if "notebook" in payload:
        lines.append(f"notebook:  {payload['notebook']}")
    out.data(payload, "\n".join(lines))


def down(ctx: typer.Context, json_flag: JsonFlag = False) -> None:
    """Stop the local hub and every user server it runs (their folders and notebooks stay)."""
    from ..local.process import HubProcess
    from ..state import StateLock

    actx = app_context(ctx)
    out = actx.output(json_flag)
    with StateLock(actx.loaded.state_dir, "down"):
        with out.progress("stopping the local hub"):
            hub = HubProcess(actx.loaded).stop()
    out.success(f"local hub at {hub.url} stopped")
    out.data({"url": hub.url, "stopped": True})


def register(app: typer.Typer) -> None:
    app.command()(up)
    app.command()(down)
