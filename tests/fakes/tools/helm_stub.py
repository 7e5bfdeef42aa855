"""A stand-in for helm 3, as far as jhubctl uses it (see the package docstring).

Answers: ``version --short``; ``repo list -o json`` / ``repo add`` / ``repo update``; ``search repo``;
``list --all --filter ^name$ -n NS -o json``; ``upgrade --install``; ``uninstall``; the last three refuse a
kubeconfig that does not exist or lacks the context, as helm does. Messages and exit codes are helm's own. State (``state.json``):

* ``repos``: ``[{"name", "url"}]``; ``index``: url -> chart versions the repository serves; ``fresh``:
  urls whose local index is up to date (``repo add``/``update`` make it so);
* ``releases``: ``"<ns>/<name>"`` -> ``{name, namespace, revision, status, chart, app_version}``;
* ``fail_next_upgrade``: a message the next upgrade fails with (the release is then ``failed``);
* ``proxy_port``: the port of the ``proxy-public`` Service an install creates; ``kube``: whether an
  install creates the chart's Deployments and Service through the kubeconfig it was given (as helm would).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import ssl
import stat
import sys
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

import yaml  # noqa: E402

from common import fail, option, positionals, record, state  # noqa: E402

GLOBAL_WITH_VALUE = {"--kubeconfig", "--kube-context", "-n", "--namespace", "-o", "--output", "--version", "--values",
                     "-f", "--filter", "--timeout"}
CHART = "jupyterhub"
APP_VERSION = "4.0.2"


def main() -> None:
    args = sys.argv[1:]
    words = positionals(args, GLOBAL_WITH_VALUE)
    values_path = option(args, "--values", "-f")
    extra: dict[str, Any] = {}
    if values_path:
        path = Path(values_path)
        extra["values"] = {"path": values_path, "exists": path.exists(),
                           "mode": oct(stat.S_IMODE(path.stat().st_mode)) if path.exists() else None,
                           "text": path.read_text() if path.exists() else None}
    record("helm", **extra)
    command = words[:2]
    if words[:1] in (["list"], ["upgrade"], ["uninstall"]):
        reach(args)
    if words[:1] == ["version"]:
        print("v3.14.4+g81c902a")
    elif command == ["repo", "list"]:
        repo_list()
    elif command == ["repo", "add"]:
        repo_add(words[2], words[3])
    elif command == ["repo", "update"]:
        repo_update(words[2:])
    elif command == ["search", "repo"]:
        search(words[2], option(args, "--version"))
    elif words[:1] == ["list"]:
        release_list(option(args, "-n", "--namespace") or "default", option(args, "--filter"))
    elif words[:1] == ["upgrade"]:
        upgrade(args, words[1], words[2])
    elif words[:1] == ["uninstall"]:
        uninstall(args, words[1], option(args, "-n", "--namespace") or "default")
    else:
        fail(f'Error: unknown command "{" ".join(words)}" for "helm"')


def reach(args: list[str]) -> None:
    """What helm checks before it talks to the cluster: the kubeconfig exists and names the context.
    Without this the stub listed its releases even through a missing kubeconfig, and `down` took that
    for "nothing installed"."""
    path = option(args, "--kubeconfig") or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube/config")
    if not Path(path).is_file():
        fail(f"Error: Kubernetes cluster unreachable: {path}: no such file or directory")
    context = option(args, "--kube-context")
    config = yaml.safe_load(Path(path).read_text()) or {}
    if context and context not in {c.get("name") for c in config.get("contexts") or []}:
        fail(f'Error: Kubernetes cluster unreachable: context "{context}" does not exist')


def repo_list() -> None:
    with state() as s:
        repos = s.get("repos") or []
    if not repos:
        fail("Error: no repositories to show")
    print(json.dumps([{"name": r["name"], "url": r["url"]} for r in repos]))


def repo_add(name: str, url: str) -> None:
    with state() as s:
        repos = s.setdefault("repos", [])
        for repo in repos:
            if repo["name"] == name:
                if repo["url"] == url:
                    print(f'"{name}" already exists with the same configuration, skipping')
                    return
                fail(f"Error: repository name ({name}) already exists, please specify a different name")
        repos.append({"name": name, "url": url})
        s.setdefault("fresh", []).append(url)
    print(f'"{name}" has been added to your repositories')


def repo_update(names: list[str]) -> None:
    with state() as s:
        repos = [r for r in s.get("repos") or [] if not names or r["name"] in names]
        if names and len(repos) != len(names):
            fail(f"Error: no repositories found matching '{names[0]}'.  Nothing will be updated")
        fresh = s.setdefault("fresh", [])
        fresh += [r["url"] for r in repos if r["url"] not in fresh]
    print("Hang tight while we grab the latest from your chart repositories...")
    for repo in repos:
        print(f'...Successfully got an update from the "{repo["name"]}" chart repository')
    print("Update Complete. ⎈Happy Helming!⎈")


def _repo(s: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((r for r in s.get("repos") or [] if r["name"] == name), None)


def search(ref: str, version: str | None) -> None:
    repo_name, _, chart = ref.partition("/")
    with state() as s:
        repo = _repo(s, repo_name)
        known = (s.get("index") or {}).get(repo["url"], []) if repo and repo["url"] in (s.get("fresh") or []) else []
    found = [v for v in known if chart == CHART and (version is None or v == version)]
    print(json.dumps([{"name": ref, "version": v, "app_version": APP_VERSION, "description": "Multi-user Jupyter installation"}
                      for v in found]))


def release_list(namespace: str, pattern: str | None) -> None:
    import re

    with state() as s:
        releases = [r for r in (s.get("releases") or {}).values() if r["namespace"] == namespace]
    if pattern:
        releases = [r for r in releases if re.search(pattern, r["name"])]
    print(json.dumps([{"name": r["name"], "namespace": r["namespace"], "revision": str(r["revision"]),
                       "updated": "2024-05-01 10:00:00.000000 +0000 UTC", "status": r["status"],
                       "chart": r["chart"], "app_version": APP_VERSION} for r in releases]))


def upgrade(args: list[str], release: str, ref: str) -> None:
    namespace = option(args, "-n", "--namespace") or "default"
    version = option(args, "--version")
    if "--install" not in args:
        fail("Error: UPGRADE FAILED: jhubctl always passes --install")
    repo_name, _, chart = ref.partition("/")
    with state() as s:
        repo = _repo(s, repo_name)
        if repo is None:
            fail(f"Error: repo {repo_name} not found")
        assert repo is not None
        if repo["url"] not in (s.get("fresh") or []) or version not in (s.get("index") or {}).get(repo["url"], []):
            fail(f'Error: chart "{chart}" matching {version} not found in {repo_name} index. (try \'helm repo update\')')
        key = f"{namespace}/{release}"
        current = (s.get("releases") or {}).get(key)
        if current and current["status"].startswith("pending"):
            fail("Error: UPGRADE FAILED: another operation (install/upgrade/rollback) is in progress")
        values = yaml.safe_load(Path(option(args, "--values", "-f") or "/dev/null").read_text()) or {}
        failure = s.pop("fail_next_upgrade", None)
        revision = (current["revision"] if current else 0) + 1
        release_record = {"name": release, "namespace": namespace, "revision": revision,
                          "status": "failed" if failure else "deployed", "chart": f"{chart}-{version}"}
        s.setdefault("releases", {})[key] = release_record
        create_objects = s.get("kube", True) and not failure
        port = int(s.get("proxy_port", 80))
    if failure:
        fail(f"Error: UPGRADE FAILED: {failure}" if current else f"Error: INSTALLATION FAILED: {failure}")
    if create_objects:
        Kube(args).apply_chart(namespace, release, values, port, create_namespace="--create-namespace" in args)
    if current is None:
        print(f'Release "{release}" does not exist. Installing it now.')
    else:
        print(f'Release "{release}" has been upgraded. Happy Helming!')
    print(f"NAME: {release}\nNAMESPACE: {namespace}\nSTATUS: deployed\nREVISION: {revision}")


def uninstall(args: list[str], release: str, namespace: str) -> None:
    with state() as s:
        if (s.get("releases") or {}).pop(f"{namespace}/{release}", None) is None:
            fail(f"Error: uninstall: Release not loaded: {release}: release: not found")
        remove = s.get("kube", True)
    if remove:
        Kube(args).delete_chart(namespace)
    print(f'release "{release}" uninstalled')


class Kube:
    """Just enough of a Kubernetes client to create what the chart would, through the given kubeconfig."""

    def __init__(self, args: list[str]):
        path = option(args, "--kubeconfig") or os.environ.get("KUBECONFIG") or str(Path.home() / ".kube/config")
        config = yaml.safe_load(Path(path).read_text())
        name = option(args, "--kube-context") or config["current-context"]
        context = next(c["context"] for c in config["contexts"] if c["name"] == name)
        cluster = next(c["cluster"] for c in config["clusters"] if c["name"] == context["cluster"])
        user = next(u["user"] for u in config["users"] if u["name"] == context["user"])
        self.server, self.token = cluster["server"], user["token"]
        self.ssl = None
        if "certificate-authority-data" in cluster:
            ca = tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False)
            ca.write(base64.b64decode(cluster["certificate-authority-data"]))
            ca.close()
            self.ssl = ssl.create_default_context(cafile=ca.name)

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.server + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self.token}", "Content-Type": "application/json", "User-Agent": "Helm/3.14.4 (stub)"})
        try:
            with urllib.request.urlopen(request, context=self.ssl) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def _put(self, collection: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        status, live = self._call("GET", f"{collection}/{name}")
        if status == 404:
            status, answer = self._call("POST", collection, obj)
        else:
            obj["metadata"]["resourceVersion"] = live["metadata"]["resourceVersion"]
            status, answer = self._call("PUT", f"{collection}/{name}", obj)
        if status >= 300:
            fail(f"Error: UPGRADE FAILED: {answer.get('message') if isinstance(answer, dict) else answer}")

    def apply_chart(self, namespace: str, release: str, values: dict[str, Any], port: int, *, create_namespace: bool) -> None:
        if self._call("GET", f"/api/v1/namespaces/{namespace}")[0] == 404:
            if not create_namespace:
                fail(f'Error: create: failed to create: namespaces "{namespace}" not found')
            self._call("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        hub = values.get("hub") or {}
        image = hub.get("image") or {}
        checksum = hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
        https = ((values.get("proxy") or {}).get("https") or {}).get("enabled")
        images = {"hub": f"{image.get('name', 'jupyterhub/k8s-hub')}:{image.get('tag', '3.1.0')}",
                  "proxy": "jupyterhub/configurable-http-proxy:4.5.6"}
        if https:
            images["autohttps"] = "traefik:v2.10.4"
        apps = f"/apis/apps/v1/namespaces/{namespace}/deployments"
        for component, ref in images.items():
            labels = {"app": "jupyterhub", "component": component, "release": release}
            self._put(apps, {
                "apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": component, "namespace": namespace, "labels": labels},
                "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                         "template": {"metadata": {"labels": labels, "annotations": {"checksum/config-map": checksum}},
                                      "spec": {"containers": [{"name": component, "image": ref}]}}},
            })
        ports = [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}]
        if https:
            ports.append({"name": "https", "port": 443, "targetPort": "https", "protocol": "TCP"})
        self._put(f"/api/v1/namespaces/{namespace}/services", {
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "proxy-public", "namespace": namespace},
            "spec": {"type": "LoadBalancer", "selector": {"component": "proxy", "release": release}, "ports": ports},
        })

    def delete_chart(self, namespace: str) -> None:
        for component in ("hub", "proxy", "autohttps"):
            self._call("DELETE", f"/apis/apps/v1/namespaces/{namespace}/deployments/{component}")
        self._call("DELETE", f"/api/v1/namespaces/{namespace}/services/proxy-public")


if __name__ == "__main__":
    main()
