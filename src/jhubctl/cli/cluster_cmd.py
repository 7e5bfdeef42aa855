"""`jhubctl build-hub-image`, `build-singleuser-image`, `apply-storage`, `deploy-hub`: the cluster half of the seed
(5.3, 5.4), one step each.

Each parses its options, asks before changing the cluster (unless ``--yes``), calls the core and renders.
``--dry-run`` (and ``deploy-hub --values-out``) need only the config and the journal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from .context import AppContext, Context, JsonFlag, Kubeconfig, kube_context

if TYPE_CHECKING:
    from ..output import Output

DryRun = Annotated[bool, typer.Option("--dry-run", help="Show what would be done; need no cluster, helm, docker or Azure.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before changing the cluster.")]
Timeout = Annotated[
    float | None, typer.Option("--timeout", help="Seconds each wait may take (default: kubernetes.wait_timeout).", min=1)
]


def _approver(out: Output, yes: bool) -> Any:
    from ..errors import UsageError

    def approve(changes: list[str]) -> None:
        if yes:
            return
        if not out.interactive:
            raise UsageError("changes to make and no terminal to ask: " + "; ".join(changes),
                             hint="review with --dry-run, then pass --yes")
        for change in changes:
            out.info(f"will {change}")
        typer.confirm("go ahead?", abort=True, err=True)

    return approve


LocalDocker = Annotated[bool, typer.Option("--local-docker", help="Build with docker buildx here instead of ACR "
                                                                  "Tasks (always so on target kubernetes).")]
Platform = Annotated[str | None, typer.Option("--platform", help="Build for linux/<arch> instead of the nodes' "
                                                                "architecture (refused if it cannot run there).")]
ContextOut = Annotated[Path | None, typer.Option("--context-out", help="Only write the build context to this folder.",
                                                 file_okay=False)]
Force = Annotated[bool, typer.Option("--force", help="Build even if the base image is not the expected one (hub: "
                                                     "hub.chart_version's; singleuser: the lock's Python), or the "
                                                     "platform not the nodes'.")]
#: What an image is built of: (loaded config, output, dry run, --force) -> image.build.Source.
SourceOf = Callable[[Any, "Output", bool, bool], Any]


def _hub_source(loaded: Any, out: Output, preview: bool, force: bool) -> Any:
    from ..image.build import hub_source

    return hub_source(loaded, force=force)


def _singleuser_source(loaded: Any, out: Output, preview: bool, force: bool) -> Any:
    from ..image.build import singleuser_source
    from ..targets import interpreter_lock

    return singleuser_source(loaded, interpreter_lock(loaded, out, write=not preview), force=force)


def _build_command(source: SourceOf, doc: str) -> Callable[..., None]:
    """A build command: the same options and steps for both images, ``source`` says what is built."""

    def command(
        ctx: typer.Context,
        local_docker: LocalDocker = False,
        platform: Platform = None,
        context_out: ContextOut = None,
        dry_run: DryRun = False,
        force: Force = False,
        kubeconfig: Kubeconfig = None,
        context: Context = None,
        json_flag: JsonFlag = False,
    ) -> None:
        from ..image import build
        from ..state import StateLock

        actx = kube_context(ctx, kubeconfig, context)
        out = actx.output(json_flag)
        loaded = actx.loaded
        if context_out is None:
            build.registry_server(loaded)  # a config error first, before a lock is resolved or a cluster asked
        if dry_run:
            image = build.plan(loaded, source(loaded, out, True, force), cluster=None, local_docker=local_docker,
                               platform=platform, force=force)
            lock = image.source.facts.get("lock_sha256")
            out.data({"dry_run": True, **image.as_dict()},
                     f"would build {image.image}\n  FROM {image.base} for {image.platform} with {image.builder}, "
                     f"unless the registry has that tag\n  context: {', '.join(p for p, _, _ in image.context.files)}"
                     + (f"\n  lock: {image.source.facts['lock']} (sha256 {lock[:12]})" if lock else ""))
            return
        with StateLock(loaded.state_dir, ctx.info_name or "build"):
            made = source(loaded, out, False, force)
            if context_out is not None:
                files = made.context.write(context_out)
                out.data({"context": str(context_out), "files": [str(f) for f in files]},
                         "\n".join(str(f) for f in files))
                return
            image = build.plan(loaded, made, cluster=_cluster(actx), local_docker=local_docker, platform=platform,
                               force=force)
            with out.progress(f"building {image.image}") as bar:
                result = build.build(loaded, image, on_line=lambda line: bar.update(message=line))
        if result.built:
            out.success(f"built {image.image} for {image.platform} and pushed it")
        else:
            out.info(f"{image.image} is in the registry already: nothing to build")
        out.data(result.outputs(), image.image)

    command.__doc__ = doc
    return command


build_hub_image = _build_command(
    _hub_source,
    """Build the hub image (the chart's k8s-hub plus the conversation spawner) and push it, unless the registry
    has it already. Tag: <chart version>-<hash of the context and platform>.
    """)
build_singleuser_image = _build_command(
    _singleuser_source,
    """Build the user server image (the interpreter lock plus the server plugins) and push it, unless the registry
    has it already. Resolves the lock first if the interpreter config changed. Tag: <chart version>-<hash>.
    """)


def apply_storage(
    ctx: typer.Context,
    dry_run: DryRun = False,
    output: Annotated[str | None, typer.Option("--output", "-o", help="text, yaml (the manifests) or json.")] = None,
    yes: Yes = False,
    timeout: Timeout = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    json_flag: JsonFlag = False,
) -> None:
    """Create the StorageClass, PersistentVolume and shared claim on the blob NFS container (the seed's three
    storage files), or check kubernetes.existing_claim; wait until the claim is Bound.
    """
    import yaml

    from ..errors import UsageError
    from ..kube import storage
    from ..state import StateLock

    if output not in (None, "text", "yaml", "json"):
        raise typer.BadParameter("must be text, yaml or json", param_hint="'--output' / '-o'")
    actx = kube_context(ctx, kubeconfig, context)
    out = actx.output(json_flag or output == "json")
    loaded = actx.loaded
    wanted = storage.plan(loaded)
    if dry_run:
        if output == "yaml":
            out.text(yaml.safe_dump_all(wanted.manifests, sort_keys=False).rstrip() if wanted.manifests
                     else f"# kubernetes.existing_claim: {wanted.namespace}/{wanted.claim} is used as it is")
        else:
            rows = [[m["kind"], m["metadata"]["name"], m["metadata"].get("namespace", "")] for m in wanted.manifests]
            out.data({"dry_run": True, "namespace": wanted.namespace, "claim": wanted.claim, "manifests": wanted.manifests})
            if not out.json_mode:
                out.table(["KIND", "NAME", "NAMESPACE"], rows or [["PersistentVolumeClaim", wanted.claim, wanted.namespace]])
        return
    if output == "yaml":
        raise UsageError("-o yaml prints the manifests of a dry run", hint="add --dry-run")
    with StateLock(loaded.state_dir, "apply-storage"), _cluster(actx)() as kube, \
            out.progress(f"applying storage for claim {wanted.namespace}/{wanted.claim}") as bar:
        result = storage.run(loaded, kube, wanted, timeout=timeout, on_wait=lambda m: bar.update(message=m),
                             approve=_approver(out, yes))
    if out.json_mode:
        out.data({"changes": [{"kind": k, "name": n, "action": a} for k, n, a in result.changes], **result.outputs()})
        return
    out.table(["KIND", "NAME", "ACTION"], [list(change) for change in result.changes])
    out.success(f"claim {result.namespace}/{result.claim} is {result.phase}")


def deploy_hub(
    ctx: typer.Context,
    dry_run: DryRun = False,
    values_out: Annotated[Path | None, typer.Option("--values-out", help="Write the helm values (secrets redacted) "
                                                                         "to this file and stop.", dir_okay=False)] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the rollout, the address and the hub API, "
                                                                "and record the hub URL.")] = True,
    yes: Yes = False,
    timeout: Timeout = None,
    kubeconfig: Kubeconfig = None,
    context: Context = None,
    json_flag: JsonFlag = False,
) -> None:
    """Install or upgrade the JupyterHub chart with values made from the config (helm upgrade --install), then
    wait until the hub answers and record its URL.
    """
    import shlex

    from ..chart import deploy
    from ..chart.values import dump
    from ..kube.connect import kubeconfig as resolve
    from ..state import StateLock, write_private

    actx = kube_context(ctx, kubeconfig, context)
    out = actx.output(json_flag)
    loaded = actx.loaded
    wait_for = timeout or loaded.config.kubernetes.wait_timeout
    offline = dry_run or values_out is not None
    unchecked = f"no values schema is bundled for chart {loaded.config.hub.chart_version}: helm checks the values at install"
    if offline:
        hub = deploy.plan(loaded, cluster=None, create_token=False)
        if not hub.schema_checked:
            out.warn(unchecked)
        path, kube_ctx = resolve(loaded)
        argv = hub.argv(loaded.config.tools.helm, path, kube_ctx, wait_for)
        if values_out is not None:
            write_private(values_out, dump(hub.shown))
            out.success(f"values (secrets redacted) written to {values_out}")
        if dry_run:
            out.data({"dry_run": True, "argv": argv, **hub.as_dict()},
                     f"# {shlex.join(argv)}\n{dump(hub.shown).rstrip()}")
        return
    make = _cluster(actx)
    with StateLock(loaded.state_dir, "deploy-hub"), make() as kube:
        hub = deploy.plan(loaded, cluster=lambda: contextlib.nullcontext(kube))
        if not hub.schema_checked:
            out.warn(unchecked)
        path, kube_ctx = resolve(loaded)
        with out.progress(f"deploying release {hub.release}") as bar:
            result = deploy.Deployer(loaded, kube, path, kube_ctx, on_status=out.info,
                                     on_wait=lambda m: bar.update(message=m), approve=_approver(out, yes)
                                     ).run(hub, wait=wait, timeout=wait_for)
    for step, action in result.steps:
        out.info(f"{step}: {action}")
    if result.url:
        out.success(f"hub {result.hub_version or ''} at {result.url}".replace("  ", " "))
    out.data(result.as_dict(), result.url or f"release {result.release} revision {result.revision} (no address yet)")


def _cluster(actx: AppContext) -> Any:
    """A factory for the cluster client (its import is heavy: only when a command needs the cluster)."""
    from ..kube.connect import cluster

    return lambda: cluster(actx.loaded)


def register(app: typer.Typer) -> None:
    app.command("build-hub-image")(build_hub_image)
    app.command("build-singleuser-image")(build_singleuser_image)
    app.command("apply-storage")(apply_storage)
    app.command("deploy-hub")(deploy_hub)
