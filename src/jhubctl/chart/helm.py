"""The one adapter over the helm 3 program.

Every call names the kubeconfig and context explicitly (never helm's own idea of the current context).
The release's state comes from ``helm list --all -o json``, not ``helm status``: ``status -o json`` prints
the release's values, API token included, and nothing here wants them on a pipe. A release left
``pending-*`` by an interrupted helm run is refused up front, with the command that clears it: helm
itself would only say "another operation (install/upgrade/rollback) is in progress".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping, Sequence

from .. import programs
from ..errors import JhubctlError

INSTALL = "install helm 3 (https://helm.sh/docs/intro/install/)"
CHART = "jupyterhub"
#: The repository name jhubctl adds when the chart repository is not known to helm yet.
REPO_NAME = "jupyterhub"
IN_PROGRESS = "another operation (install/upgrade/rollback) is in progress"


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str
    revision: int
    status: str
    chart: str

    @property
    def pending(self) -> bool:
        return self.status.startswith("pending")


class HelmError(JhubctlError):
    pass


def recovery(release: str, namespace: str, status: str) -> str:
    """What clears a release stuck in ``status`` (helm refuses every change until then)."""
    if status == "pending-install":
        return f"nothing was installed yet: `helm uninstall {release} -n {namespace}`, then run jhubctl again"
    return (f"find the last deployed revision with `helm history {release} -n {namespace}`, then "
            f"`helm rollback {release} <revision> -n {namespace}`, then run jhubctl again")


def cluster_flags(kubeconfig: Path, context: str | None) -> list[str]:
    return ["--kubeconfig", str(kubeconfig)] + (["--kube-context", context] if context else [])


def upgrade_argv(program: str, release: str, chart: str, version: str, namespace: str, values: str, timeout: float,
                 cluster: Sequence[str]) -> list[str]:
    """The install/upgrade command; the values (and the token in them) only ever as a file path."""
    return [program, "upgrade", "--install", "--cleanup-on-fail", release, chart, "--version", version,
            "--namespace", namespace, "--create-namespace", "--values", values, "--timeout", f"{int(timeout)}s", *cluster]


class Helm:
    def __init__(self, configured: str, environ: Mapping[str, str], *, kubeconfig: Path, context: str | None):
        self.program = programs.find(configured, key="tools.helm", install=INSTALL)
        self.environ = environ
        self.cluster = cluster_flags(kubeconfig, context)

    def _run(self, *args: str, cluster: bool = True) -> programs.Finished:
        return programs.run([self.program, *args, *(self.cluster if cluster else [])], self.environ)

    def _ok(self, what: str, *args: str, cluster: bool = True) -> str:
        done = self._run(*args, cluster=cluster)
        if done.code != 0:
            raise HelmError(f"{what} failed: {done.tail()}")
        return done.stdout

    def version(self) -> str:
        answer = self._ok("helm version", "version", "--short", cluster=False).strip()
        if not answer.startswith("v3."):
            raise HelmError(f"{self.program} is helm {answer or '(unknown version)'}, jhubctl needs helm 3", hint=INSTALL)
        return answer

    def repository(self, url: str) -> str:
        """The name helm knows ``url`` by; added (as ``jupyterhub``, or another free name) if missing."""
        done = self._run("repo", "list", "-o", "json", cluster=False)
        known = json.loads(done.stdout) if done.code == 0 and done.stdout.strip() else []  # exit 1: "no repositories"
        for repo in known:
            if repo.get("url", "").rstrip("/") == url.rstrip("/"):
                return str(repo["name"])
        taken = {repo.get("name") for repo in known}
        name = next(n for n in (REPO_NAME, f"jhubctl-{REPO_NAME}", f"jhubctl-{REPO_NAME}-2") if n not in taken)
        self._ok(f"helm repo add {name} {url}", "repo", "add", name, url, cluster=False)
        return name

    def ensure_chart(self, repo: str, version: str) -> None:
        """The repository index knows that chart version, after one ``helm repo update`` if it did not."""
        for attempt in (1, 2):
            found = json.loads(self._ok("helm search repo", "search", "repo", f"{repo}/{CHART}", "--version", version,
                                        "-o", "json", cluster=False) or "[]")
            if found:
                return
            if attempt == 1:
                self._ok(f"helm repo update {repo}", "repo", "update", repo, cluster=False)
        raise HelmError(f"chart {CHART} version {version} is not in repository {repo}",
                        hint="check hub.chart_version and hub.chart_repo")

    def release(self, name: str, namespace: str) -> Release | None:
        listed = json.loads(self._ok("helm list", "list", "--all", "--filter", f"^{name}$", "-n", namespace, "-o", "json")
                            or "[]")
        for item in listed:
            if item.get("name") == name:
                return Release(name, namespace, int(item.get("revision") or 0), str(item.get("status")), str(item.get("chart")))
        return None

    def upgrade(self, argv: Sequence[str], release: str, namespace: str) -> None:
        done = programs.run(argv, self.environ)
        if done.code != 0:
            tail = done.tail()
            if IN_PROGRESS in tail:
                raise HelmError(f"helm refused: {IN_PROGRESS} on release {release}",
                                hint=recovery(release, namespace, "pending-upgrade"))
            raise HelmError(f"helm upgrade --install {release} failed: {tail}",
                            hint=f"--cleanup-on-fail removed what this attempt created; `helm history {release} -n {namespace}`")

    def uninstall(self, release: str, namespace: str) -> None:
        self._ok(f"helm uninstall {release}", "uninstall", release, "-n", namespace, "--wait")
