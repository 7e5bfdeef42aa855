"""Local checks (JH1xx): this machine only, no network. They run first and cost milliseconds.

The config is valid and complete for its target; the programs the target's commands run are there; the
journal tells no story reality contradicts (an interrupted step, a file a step recorded and that is gone);
on target local, the hub's processes, what a killed hub left behind, its port, and the state dir's modes.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import JhubctlError
from .finding import Outcome, Skip, fail, ok, warn
from .fixes import fix
from .runner import Facts, checker

if TYPE_CHECKING:
    from ..local.process import HubProcess, Tracked

check = checker("local")

#: What each target's commands need before they can run.
REQUIRED = {
    "azure": ("azure.subscription_id", "storage.account_name", "registry.name"),
    "kubernetes": ("registry.server",),
}
#: Journal steps that record a file, and the key holding its path.
RECORDED_FILES = {"kubeconfig": "path", "ssh-key": "public_key_path"}
#: The command that runs (or resumes) each journal step.
STEP_COMMANDS = {"local-hub": "up", "apply-storage": "apply-storage", "build-hub-image": "build-hub-image",
                 "build-singleuser-image": "build-singleuser-image", "deploy-hub": "deploy-hub"}


def config_file(f: Facts) -> str:
    return str(f.loaded.path or "jhubctl.yaml")


def _value(f: Facts, dotted: str) -> object:
    node: object = f.config
    for part in dotted.split("."):
        node = getattr(node, part)
    return node


@check("JH101", "the config is valid and complete for its target")
def config_complete(f: Facts) -> Outcome:
    from ..chart.values import overlay

    target = f.config.target
    evidence = [f"config: {f.loaded.path or '(none: defaults)'}", f"target: {target}", f"state dir: {f.loaded.state_dir}"]
    missing = [key for key in REQUIRED.get(target, ()) if not _value(f, key)]
    if target == "kubernetes" and not (f.config.storage.account_name or f.config.kubernetes.existing_claim):
        missing.append("storage.account_name or kubernetes.existing_claim")
    if missing:
        return fail(f"{', '.join(missing)} must be set for target {target}", evidence,
                    fix("config-edit", key=missing[0], file=config_file(f)))
    if f.config.hub.values_file is not None:
        try:
            overlay(f.config, {})
        except JhubctlError as exc:
            return fail(exc.message, evidence, fix("config-edit", key="hub.values_file", file=config_file(f)))
        evidence.append(f"hub.values_file: {f.config.hub.values_file}")
    return ok(f"{config_file(f)} is valid for target {target}", evidence)


def _program(f: Facts, key: str, url: str, version: list[str]) -> Outcome:
    from .. import programs

    configured = str(_value(f, key))
    found = shutil.which(configured)
    name = key.rsplit(".", 1)[1]
    if found is None:
        return fail(f"{configured!r} ({key}) is not found" + ("" if os.sep in configured else " on PATH"),
                    [f"{key}: {configured}", f"PATH: {f.loaded.environ.get('PATH', '')}"],
                    fix("tool-install", program=name, url=url, key=key, check=" ".join([name, *version])))
    done = programs.run([found, *version], f.loaded.environ)
    said = (done.stdout.strip() or done.stderr.strip()).splitlines()[:1]
    if done.code != 0:
        return fail(f"{found} does not work: `{' '.join([name, *version])}` exited {done.code}",
                    [f"{key}: {found}", *said], fix("tool-install", program=name, url=url, key=key,
                                                    check=" ".join([name, *version])))
    return ok(f"{name} at {found}", [f"{' '.join([name, *version])}: {said[0] if said else '(no output)'}"])


def _cluster_target(f: Facts) -> None:
    if f.config.target == "local":
        raise Skip("target local runs no helm, docker or kubectl")


@check("JH102", "helm 3 is installed (deploy-hub, down and diagnose run it)")
def helm_found(f: Facts) -> Outcome:
    _cluster_target(f)
    outcome = _program(f, "tools.helm", "https://helm.sh/docs/intro/install/", ["version", "--short"])
    if outcome.status == "ok" and not outcome.evidence[0].split(": ", 1)[1].startswith("v3."):
        return fail("helm is not helm 3", outcome.evidence, fix("tool-install", program="helm",
                    url="https://helm.sh/docs/intro/install/", key="tools.helm", check="helm version --short"))
    return outcome


@check("JH103", "docker with buildx is installed (build-hub-image builds with it)")
def docker_found(f: Facts) -> Outcome:
    _cluster_target(f)
    if f.config.target == "azure":
        raise Skip("target azure builds the hub image in ACR Tasks (docker only for --local-docker)")
    return _program(f, "tools.docker", "https://docs.docker.com/engine/install/", ["buildx", "version"])


@check("JH104", "kubectl is installed (the fixes diagnose prints name it)")
def kubectl_found(f: Facts) -> Outcome:
    _cluster_target(f)
    outcome = _program(f, "tools.kubectl", "https://kubernetes.io/docs/tasks/tools/", ["version", "--client"])
    if outcome.status == "fail":  # jhubctl itself never runs kubectl
        return warn(outcome.summary + " (jhubctl does not need it; some fixes name it)", outcome.evidence, outcome.fix)
    return outcome


@check("JH105", "the local hub's packages are installed (JupyterHub, the proxy, the culler)")
def local_packages(f: Facts) -> Outcome:
    if f.config.target != "local":
        raise Skip(f"target {f.config.target} runs the hub in the cluster")
    needed = {"jupyterhub": "JupyterHub", "jupyter_server": "jupyter-server (user servers)"}
    proxy = f.config.local.proxy_command
    if proxy is None:
        needed["configurable_http_proxy"] = "configurable-http-proxy"
    if f.config.hub.cull.enabled:
        needed["jupyterhub_idle_culler"] = "jupyterhub-idle-culler"
    evidence, missing = [], []
    for module, what in needed.items():
        spec = importlib.util.find_spec(module)
        (evidence if spec else missing).append(f"{what}: {spec.origin if spec else 'not installed'}")
    if proxy is not None:
        found = shutil.which(proxy)
        (evidence if found else missing).append(f"local.proxy_command {proxy}: {found or 'not found'}")
    if missing:
        return fail(f"missing: {'; '.join(missing)}", missing + evidence, fix("local-extra"))
    return ok("JupyterHub, its proxy and culler are installed", evidence)


@check("JH106", "the journal tells what happened: no step interrupted or failed, no recorded file gone")
def journal(f: Facts) -> Outcome | list[Outcome]:
    from ..azure.provision import STEPS
    from ..state import Journal, StateLock

    steps = Journal(f.loaded.state_dir).steps()
    if not steps:
        return ok(f"nothing recorded yet in {f.loaded.state_dir}")
    locked = StateLock.held(f.loaded.state_dir)
    out: list[Outcome] = []
    for name, record in steps.items():
        command = "provision" if name in STEPS else STEP_COMMANDS.get(name, "up")
        if record.status == "running" and not locked:
            out.append(fail(f"step {name} was interrupted (started {record.started_at}, no jhubctl holds the lock)",
                            [f"journal: {name} running since {record.started_at}"], fix("rerun-step", command=command)))
        elif record.status == "failed":
            out.append(fail(f"step {name} failed: {record.error}", [f"journal: {name} failed at {record.finished_at}"],
                            fix("rerun-step", command=command)))
        key = RECORDED_FILES.get(name)
        path = record.outputs.get(key) if key else None
        if record.status == "succeeded" and path and not Path(str(path)).exists():
            out.append(fail(f"step {name} recorded {path}, which is gone", [f"journal: {name}.{key} = {path}"],
                            fix("rerun-step", command=command)))
    if not out:
        states = sorted({r.status for r in steps.values()})
        return ok(f"{len(steps)} step{'' if len(steps) == 1 else 's'} recorded ({', '.join(states)}), none interrupted", [
            f"{name}: {r.status}" for name, r in sorted(steps.items())])
    return out


def process(f: Facts) -> HubProcess:
    if f.config.target != "local":
        raise Skip(f"target {f.config.target}: the hub runs in the cluster, not here")
    if f.config.hub.url:
        raise Skip(f"hub.url {f.config.hub.url}: that hub is not run by jhubctl")
    from ..local.process import HubProcess

    return HubProcess(f.loaded)


def tracked(f: Facts) -> list[Tracked]:
    return f.once("local tracked", lambda: process(f).tracked())


@check("JH110", "the local hub's process runs")
def hub_process(f: Facts) -> Outcome:
    hub = process(f)
    recorded = hub.recorded()
    running = hub.current(tracked(f))
    if running is not None:
        return ok(f"the local hub runs (pid {running.pid}) at {running.url}", [f"pid {running.pid}: {running.config_file}",
                                                                              f"log: {running.log}"])
    if recorded is None:
        return fail("no local hub has been started here", [f"journal: no local-hub step in {f.loaded.state_dir}"],
                    fix("local-up"))
    return fail(f"the local hub recorded at pid {recorded.pid} does not run", [
        f"journal: local-hub pid {recorded.pid}, {recorded.url}", f"last lines of {recorded.log}: see the log"],
        fix("local-up"))


@check("JH111", "no process of a dead hub is left behind")
def leftovers(f: Facts) -> Outcome:
    left = process(f).leftovers(tracked(f))
    if not left:
        return ok("no leftover process", [f"{len(tracked(f))} processes of this state dir's hub"])
    return fail(f"{len(left)} process{'es' if len(left) > 1 else ''} left by a hub that no longer runs",
                [f"{p.role} pid {p.pid}: {p.command}" for p in left], fix("leftovers"))


@check("JH112", "the local hub's port is its own")
def port(f: Facts) -> Outcome:
    hub = process(f)
    running = hub.current(tracked(f))
    host = f.config.local.host
    if running is not None:
        from urllib.parse import urlsplit

        where = urlsplit(running.url)
        if _accepts(where.hostname or host, where.port or 80):
            return ok(f"{where.netloc} accepts connections (the hub's proxy)", [f"url: {running.url}"])
        return fail(f"the hub runs but nothing listens on {where.netloc}", [f"url: {running.url}"], fix("local-restart"))
    wanted = f.config.local.port
    if not wanted:
        return ok("local.port is 0: a free port is chosen at each start")
    if _accepts(host, wanted):
        return fail(f"{host}:{wanted} (local.port) is taken by another program: the hub cannot start",
                    [f"connect {host}:{wanted}: accepted, and no hub of this state dir runs"],
                    fix("free-port", file=config_file(f)))
    return ok(f"{host}:{wanted} (local.port) is free")


def _accepts(host: str, number: int) -> bool:
    try:
        with socket.create_connection((host, number), timeout=1.0):
            return True
    except OSError:
        return False


@check("JH113", "the state dir and the secrets in it are private (0700 / 0600)")
def file_modes(f: Facts) -> Outcome:
    root = f.loaded.state_dir
    if not root.exists():
        return ok(f"{root} does not exist yet")
    loose: list[tuple[Path, int, bool]] = []
    checked = 0
    for path in [root, *_walk(root)]:
        try:
            info = path.lstat()
        except OSError:
            continue
        checked += 1
        if stat.S_ISLNK(info.st_mode):
            continue
        if info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            loose.append((path, stat.S_IMODE(info.st_mode), stat.S_ISDIR(info.st_mode)))
    if not loose:
        return ok(f"{checked} files and folders in {root}: owner-only")
    path, mode, is_dir = loose[0]
    return fail(f"{len(loose)} of {checked} entries in {root} are readable by others", [
        f"{p}: {m:04o}" + (" (another owner)" if p.lstat().st_uid != os.getuid() else "") for p, m, _ in loose],
        fix("chmod", mode="700" if is_dir else "600", path=path))


def _walk(root: Path) -> list[Path]:
    """Everything under the state dir but the conversation data (its modes are the servers' business)."""
    out: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(folder, d) != root / "local" / "data"]
        out += [Path(folder, name) for name in dirs + files]
    return out


@check("JH114", "the user's conversation folders", per_user=True)
def user_folders(f: Facts) -> Outcome:
    from ..spawner.naming import conversation_subpath

    hub = process(f)
    assert f.user is not None
    user_root = hub.data_root / f.user / "conversations"
    if f.conversation is None:
        found = sorted(p.name for p in user_root.iterdir()) if user_root.is_dir() else []
        return ok(f"user {f.user} has {len(found)} conversation folders", [f"{user_root}: {', '.join(found) or 'none'}"])
    folder = hub.data_root / conversation_subpath(f.user, f.conversation)
    if not folder.is_dir():
        return fail(f"no folder for {f.user}/{f.conversation}: the server never started", [f"{folder}: missing"],
                    fix("start-server", user=f.user, conversation=f.conversation))
    mode = stat.S_IMODE(folder.stat().st_mode)
    evidence = [f"{folder}: {mode:04o}, {len(list(folder.iterdir()))} entries"]
    if mode & 0o077:
        return fail(f"{folder} is readable by other users", evidence, fix("chmod", mode="700", path=folder))
    return ok(f"{f.user}/{f.conversation}'s folder is {folder}", evidence)
