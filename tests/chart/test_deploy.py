"""`jhubctl deploy-hub` through the real CLI: the helm argv (recorded by the stub), the 0600 values file,
the pull secret before helm, re-runs that write nothing, and the refusals."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path
from typing import Any

import pytest
import yaml

from jhubctl.image.build import lock_for_image, plan, singleuser_source
from jhubctl.state import Journal, Record
from tests.cluster.conftest import NAMESPACE, REGISTRY, TOKEN, ClusterEnv
from tests.fakes.graph.fixtures import fake_graph, fake_graph_factory  # noqa: F401
from tests.fakes.graph.server import FakeGraph
from tests.fakes.tools.fixtures import CHART_REPO
from tests.provision.conftest import assert_one_line_error as _one_line


def assert_one_line_error(stderr: str) -> str:
    """Progress lines may come first; the error is one line (and a hint) at the end, no traceback."""
    lines = stderr.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("error: ")), 0)
    return _one_line("\n".join(lines[start:]))


def built(env: ClusterEnv, *flags: str) -> str:
    """Both images built for the config; the hub image's name."""
    hub = env.ok("build-hub-image", *flags).stdout.strip()
    env.ok("build-singleuser-image", *flags)
    return hub


def singleuser_built(env: ClusterEnv) -> str:
    return env.journal()["build-singleuser-image"]["outputs"]["image"]


def upgrade_calls(env: ClusterEnv) -> list[dict[str, Any]]:
    return [c for c in env.tools.helm.calls() if c["argv"][:1] == ["upgrade"]]


def no_secret_anywhere(env: ClusterEnv, *texts: str) -> None:
    for call in env.tools.helm.calls() + env.tools.docker.calls():
        assert TOKEN not in json.dumps(call["argv"]), call["argv"]
        assert "JHUBCTL_API_TOKEN" not in call["env"]
    for text in texts:
        assert TOKEN not in text
    for path in env.state_dir.rglob("*"):
        if path.is_file() and path.name != "secrets.json":
            assert TOKEN.encode() not in path.read_bytes(), path


def test_dry_run_needs_no_cluster_helm_or_docker(cluster_env: ClusterEnv) -> None:
    cluster_env.extra_env["JHUBCTL_HELM"] = "/nonexistent/helm"
    cluster_env.extra_env["JHUBCTL_DOCKER"] = "/nonexistent/docker"
    cluster_env.write_config({"kubernetes": {"node_arch": "amd64"}})
    cluster_env.kube.stop()
    result = cluster_env.ok("deploy-hub", "--dry-run")
    header, _, body = result.stdout.partition("\n")
    kubeconfig = cluster_env.root / "kubeconfig"
    assert header == (
        "# /nonexistent/helm upgrade --install --cleanup-on-fail jhub jupyterhub/jupyterhub --version 3.1.0 "
        f"--namespace {NAMESPACE} --create-namespace --values '<0600 values file>' --timeout 20s "
        f"--kubeconfig {kubeconfig} --kube-context fake"
    )
    shown = yaml.safe_load(body)
    assert shown["hub"]["services"]["assistant"]["apiToken"] == "<redacted>"
    assert shown["hub"]["image"]["name"] == f"{REGISTRY}/k8s-hub"
    assert cluster_env.tools.helm.calls() == [] and cluster_env.tools.docker.calls() == []
    assert len(cluster_env.kube.requests) == 0
    no_secret_anywhere(cluster_env, result.stdout, result.stderr)


def test_dry_run_on_kubernetes_without_the_nodes_architecture_says_how(cluster_env: ClusterEnv) -> None:
    result = cluster_env.run("deploy-hub", "--dry-run")
    assert result.code == 2
    line = assert_one_line_error(result.stderr)
    assert "nodes' architecture" in line and "kubernetes.node_arch" in result.stderr
    assert len(cluster_env.kube.requests) == 0


def test_values_out_writes_redacted_values_and_stops(cluster_env: ClusterEnv) -> None:
    cluster_env.write_config({"kubernetes": {"node_arch": "arm64"}})
    target = cluster_env.root / "recovered" / "values.yaml"
    result = cluster_env.ok("deploy-hub", "--values-out", str(target))
    data = yaml.safe_load(target.read_text())
    assert data["hub"]["services"]["assistant"]["apiToken"] == "<redacted>"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert result.stdout == "" and cluster_env.tools.helm.calls() == [] and len(cluster_env.kube.requests) == 0
    no_secret_anywhere(cluster_env, target.read_text())


def test_install_runs_helm_with_a_0600_values_file_that_is_gone_afterwards(cluster_env: ClusterEnv) -> None:
    image = built(cluster_env)
    result = cluster_env.ok("deploy-hub", "--no-wait", "--yes")
    helm = cluster_env.tools.helm
    kube_flags = ["--kubeconfig", str(cluster_env.root / "kubeconfig"), "--kube-context", "fake"]
    argvs = helm.argvs()
    assert argvs[:5] == [
        ["version", "--short"],
        ["list", "--all", "--filter", "^jhub$", "-n", NAMESPACE, "-o", "json", *kube_flags],
        ["repo", "list", "-o", "json"],
        ["repo", "add", "jupyterhub", CHART_REPO],
        ["search", "repo", "jupyterhub/jupyterhub", "--version", "3.1.0", "-o", "json"],
    ]
    [upgrade] = upgrade_calls(cluster_env)
    values_path = upgrade["values"]["path"]
    assert upgrade["argv"] == [
        "upgrade", "--install", "--cleanup-on-fail", "jhub", "jupyterhub/jupyterhub", "--version", "3.1.0",
        "--namespace", NAMESPACE, "--create-namespace", "--values", values_path, "--timeout", "20s", *kube_flags,
    ]
    assert upgrade["values"]["mode"] == "0o600" and Path(values_path).parent == cluster_env.state_dir / "tmp"
    assert not Path(values_path).exists()
    sent = yaml.safe_load(upgrade["values"]["text"])
    assert sent["hub"]["services"]["assistant"]["apiToken"] == TOKEN  # the one place the token goes
    assert f"{sent['hub']['image']['name']}:{sent['hub']['image']['tag']}" == image
    singleuser = singleuser_built(cluster_env)
    assert singleuser.startswith(f"{REGISTRY}/singleuser:3.1.0-")
    assert f"{sent['singleuser']['image']['name']}:{sent['singleuser']['image']['tag']}" == singleuser
    assert "extraFiles" not in sent["singleuser"]  # the built image has the plugins installed
    assert argvs[-1] == ["list", "--all", "--filter", "^jhub$", "-n", NAMESPACE, "-o", "json", *kube_flags]
    record = cluster_env.journal()["deploy-hub"]
    assert record["status"] == "succeeded"
    assert {k: record["outputs"][k] for k in ("release", "namespace", "revision", "image", "singleuser_image")} == {
        "release": "jhub", "namespace": NAMESPACE, "revision": 1, "image": image, "singleuser_image": singleuser}
    assert "url" in record["outputs"]  # the fake load balancer answered at once
    assert "release jhub revision 1: installed" in result.stderr
    no_secret_anywhere(cluster_env, result.stdout, result.stderr)


def test_a_rerun_skips_helm_and_writes_nothing(cluster_env: ClusterEnv) -> None:
    built(cluster_env)
    cluster_env.ok("deploy-hub", "--no-wait", "--yes")
    calls, requests = len(cluster_env.tools.helm.calls()), len(cluster_env.kube.requests)
    result = cluster_env.ok("deploy-hub", "--no-wait")  # no --yes needed: nothing to change
    assert upgrade_calls(cluster_env)[1:] == []
    assert [c["argv"][0] for c in cluster_env.tools.helm.calls()[calls:]] == ["version", "list"]
    assert cluster_env.all_writes(requests) == []
    assert "release jhub revision 1: unchanged" in result.stderr


def test_a_changed_image_rolls_out_and_no_pod_is_deleted(cluster_env: ClusterEnv) -> None:
    first = built(cluster_env)
    cluster_env.ok("deploy-hub", "--no-wait", "--yes")
    hub = cluster_env.kube.get_object("deployments", "hub", NAMESPACE)
    assert hub is not None and hub["metadata"]["generation"] == 1
    cluster_env.write_config({"kubernetes": {"node_arch": "arm64"}})  # another platform: another tag
    cluster_env.kube.controllers.rollout = True
    second = built(cluster_env, "--force")
    assert second != first and second.startswith(f"{REGISTRY}/k8s-hub:3.1.0-")
    cluster_env.ok("deploy-hub", "--no-wait", "--yes")
    hub = cluster_env.kube.get_object("deployments", "hub", NAMESPACE)
    assert hub is not None and hub["spec"]["template"]["spec"]["containers"][0]["image"] == second
    assert hub["metadata"]["generation"] == 2
    assert not [r for r in cluster_env.kube.requests if r.verb in ("delete", "deletecollection")]
    assert cluster_env.journal()["deploy-hub"]["outputs"]["revision"] == 2


def test_without_a_build_deploy_hub_says_to_build(cluster_env: ClusterEnv) -> None:
    result = cluster_env.run("deploy-hub", "--no-wait", "--yes")
    assert result.code == 2 and "the hub image" in result.stderr and "has not been built" in result.stderr
    assert "run `jhubctl build-hub-image` first" in result.stderr
    cluster_env.ok("build-hub-image")
    result = cluster_env.run("deploy-hub", "--no-wait", "--yes")
    assert result.code == 2 and "the singleuser image" in result.stderr and "has not been built" in result.stderr
    assert "run `jhubctl build-singleuser-image` first" in result.stderr
    assert upgrade_calls(cluster_env) == [] and cluster_env.all_writes() == []


def test_a_singleuser_image_built_from_an_older_lock_is_not_deployed(cluster_env: ClusterEnv) -> None:
    """The lock changed since the build: deploy-hub names the image the new lock makes, which is not built."""
    old = built(cluster_env) and singleuser_built(cluster_env)
    lock = cluster_env.state_dir / "interpreter" / "requirements.lock"
    lock.write_text(lock.read_text().replace("# python: 3.11", "# python: 3.11\n# note: changed by hand"))
    assert "built from an older lock; not deployed yet" in cluster_env.ok("status").stdout
    result = cluster_env.run("deploy-hub", "--no-wait", "--yes")
    assert result.code == 2 and "the singleuser image" in result.stderr and "has not been built" in result.stderr
    assert old not in result.stderr and upgrade_calls(cluster_env) == []
    assert cluster_env.ok("build-singleuser-image").stdout.strip() != old  # another lock, another tag


def test_dry_run_names_the_lock_it_needs(cluster_env: ClusterEnv) -> None:
    cluster_env.write_config({"kubernetes": {"node_arch": "amd64"}})
    (cluster_env.state_dir / "interpreter" / "requirements.lock").unlink()
    result = cluster_env.run("deploy-hub", "--dry-run")
    assert result.code == 2
    line = assert_one_line_error(result.stderr)
    assert "the singleuser image is built from the interpreter lock" in line and "does not exist yet" in line
    assert "build-singleuser-image" in result.stderr and "registry.singleuser_image" in result.stderr
    cluster_env.write_config({"interpreter": {"requirements": ["ipykernel", "iniconfig"]}})  # input changed
    cluster_env.ok("build-singleuser-image", "--context-out", str(cluster_env.root / "ctx"))  # resolves it
    cluster_env.write_config({"interpreter": {"requirements": ["ipykernel"]}})
    result = cluster_env.run("deploy-hub", "--dry-run")
    assert result.code == 2 and "was resolved from another interpreter config" in result.stderr


def test_an_image_of_your_own_needs_no_build_and_gets_the_plugins_as_files(cluster_env: ClusterEnv) -> None:
    from jhubctl import standalone

    cluster_env.write_config({"registry": {"singleuser_image": "quay.io/example/notebook:2024-06-01"}})
    cluster_env.ok("build-hub-image")
    cluster_env.ok("deploy-hub", "--no-wait", "--yes")
    assert [c for c in cluster_env.tools.docker.calls() if c["argv"][:2] == ["buildx", "build"]][1:] == []
    sent = yaml.safe_load(upgrade_calls(cluster_env)[0]["values"]["text"])
    singleuser = sent["singleuser"]
    assert singleuser["image"] == {"name": "quay.io/example/notebook", "tag": "2024-06-01"}
    files = standalone.files("singleuser")
    assert singleuser["extraFiles"] == {
        path.replace("/", "-"): {"mountPath": f"/usr/local/share/jhubctl/{path}", "stringData": content.decode(),
                                 "mode": 0o644}
        for path, content in files.items()}
    assert singleuser["extraEnv"] == {"PYTHONPATH": "/usr/local/share/jhubctl"}
    assert cluster_env.journal()["deploy-hub"]["outputs"]["singleuser_image"] == "quay.io/example/notebook:2024-06-01"
    status = cluster_env.ok("status").stdout
    assert "image: quay.io/example/notebook:2024-06-01 (registry.singleuser_image: not built from the lock)" in status


def test_a_pending_release_is_refused_with_the_way_out(cluster_env: ClusterEnv) -> None:
    built(cluster_env)
    cluster_env.tools.helm.set(releases={f"{NAMESPACE}/jhub": {"name": "jhub", "namespace": NAMESPACE, "revision": 4,
                                                               "status": "pending-upgrade", "chart": "jupyterhub-3.1.0"}})
    result = cluster_env.run("deploy-hub", "--no-wait", "--yes")
    assert result.code == 1
    line = assert_one_line_error(result.stderr)
    assert "release jhub in namespace jhub is pending-upgrade (revision 4)" in line
    assert f"helm history jhub -n {NAMESPACE}" in result.stderr and "helm rollback jhub <revision>" in result.stderr
    assert upgrade_calls(cluster_env) == [] and cluster_env.all_writes() == []


def test_a_failed_install_reports_helm_and_leaves_no_values_file(cluster_env: ClusterEnv) -> None:
    built(cluster_env)
    cluster_env.tools.helm.set(fail_next_upgrade="timed out waiting for the condition")
    result = cluster_env.run("deploy-hub", "--no-wait", "--yes")
    assert result.code == 1
    assert "helm upgrade --install jhub failed: Error: INSTALLATION FAILED: timed out waiting for the condition" in result.stderr
    assert list((cluster_env.state_dir / "tmp").iterdir()) == []
    record = cluster_env.journal()["deploy-hub"]
    assert record["status"] == "failed" and "INSTALLATION FAILED" in record["error"]
    no_secret_anywhere(cluster_env, result.stdout, result.stderr)


def test_a_missing_helm_is_one_line_naming_the_key_and_how_to_get_it(cluster_env: ClusterEnv) -> None:
    built(cluster_env)
    cluster_env.extra_env["JHUBCTL_HELM"] = "helm-that-is-not-installed"
    result = cluster_env.run("deploy-hub", "--no-wait", "--yes")
    assert result.code == 1
    assert_one_line_error(result.stderr)
    assert "'helm-that-is-not-installed' (tools.helm) was not found on PATH" in result.stderr
    assert "https://helm.sh/docs/intro/install/" in result.stderr and "JHUBCTL_HELM" in result.stderr


def test_no_terminal_and_no_yes_changes_nothing(cluster_env: ClusterEnv) -> None:
    built(cluster_env)
    result = cluster_env.run("deploy-hub", "--no-wait")
    assert result.code == 2 and "no terminal to ask" in result.stderr and "--yes" in result.stderr
    assert upgrade_calls(cluster_env) == [] and cluster_env.all_writes() == []


def test_an_existing_repository_name_is_reused_and_a_stale_index_updated(cluster_env: ClusterEnv) -> None:
    built(cluster_env)
    cluster_env.tools.helm.set(repos=[{"name": "jupyterhub", "url": "https://example.org/other"},
                                      {"name": "z2jh", "url": CHART_REPO}], fresh=[])
    cluster_env.ok("deploy-hub", "--no-wait", "--yes")
    argvs = cluster_env.tools.helm.argvs()
    assert ["repo", "update", "z2jh"] in argvs and not [a for a in argvs if a[:2] == ["repo", "add"]]
    assert upgrade_calls(cluster_env)[0]["argv"][4] == "z2jh/jupyterhub"


# -- service-principal mode: the pull secret -----------------------------------------------------------
@pytest.fixture
def sp_env(cluster_env: ClusterEnv, fake_graph: FakeGraph) -> ClusterEnv:
    app = fake_graph.directory.create_app({"displayName": "jhub-sp"})
    cluster_env.write_config({"target": "azure", "aks": {"identity": "service-principal", "node_vm_size": "Standard_D2s_v3"},
                              "azure": {"subscription_id": "0b1f6471-1bf0-4dda-aec3-cb9272f09590",
                                        "graph_endpoint": fake_graph.url},
                              "registry": {"name": "jhubacr1"}})
    cluster_env.extra_env["JHUBCTL_GRAPH_ACCESS_TOKEN"] = fake_graph.token  # a Graph token is for Graph only
    journal = Journal(cluster_env.state_dir)
    journal.record("identity", Record("succeeded", outputs={"mode": "service-principal", "app_id": app["appId"],
                                                            "app_object_id": app["id"]}))
    loaded = cluster_env.loaded()
    image = plan(loaded, cluster=None)
    journal.record("build-hub-image", Record("succeeded", outputs={"image": image.image}))
    singleuser = plan(loaded, singleuser_source(loaded, lock_for_image(loaded)), cluster=None)
    journal.record("build-singleuser-image", Record("succeeded", outputs={"image": singleuser.image}))
    return cluster_env


def test_the_pull_secret_is_in_the_namespace_before_helm_runs(sp_env: ClusterEnv, fake_graph: FakeGraph) -> None:
    result = sp_env.ok("deploy-hub", "--no-wait", "--yes")
    requests = sp_env.kube.requests.snapshot()
    secret_at = next(i for i, r in enumerate(requests) if r.verb == "create" and r.resource == "secrets")
    helm_at = next(i for i, r in enumerate(requests) if r.headers.get("User-Agent", "").startswith("Helm/"))
    assert requests[secret_at].namespace == NAMESPACE and secret_at < helm_at
    secret = sp_env.kube.get_object("secrets", "acr-pull", NAMESPACE)
    assert secret is not None and secret["type"] == "kubernetes.io/dockerconfigjson"
    auths = json.loads(base64.b64decode(secret["data"][".dockerconfigjson"]))["auths"]
    app = next(iter(fake_graph.directory.applications.values()))
    assert list(auths) == [REGISTRY] and auths[REGISTRY]["username"] == app["appId"]
    assert auths[REGISTRY]["password"] == fake_graph.issued_secrets[0]
    assert [c["displayName"] for c in app["passwordCredentials"]] == ["jhubctl demo: image pull secret"]
    sent = yaml.safe_load(upgrade_calls(sp_env)[0]["values"]["text"])
    assert sent["imagePullSecrets"] == ["acr-pull"]
    assert fake_graph.leaked_secrets(result.stdout, result.stderr, sp_env.state_dir) == []
    for call in sp_env.tools.helm.calls():
        assert fake_graph.leaked_secrets(json.dumps(call)) == []

    requests_before = len(sp_env.kube.requests)
    sp_env.ok("deploy-hub", "--no-wait")
    assert len(fake_graph.issued_secrets) == 1  # a re-run mints no new password
    assert sp_env.all_writes(requests_before) == []


@pytest.mark.parametrize("where", ["global", "command"])
def test_kubeconfig_and_context_flags_reach_helm_like_kubectls(cluster_env: ClusterEnv, where: str) -> None:
    cluster_env.write_config({"kubernetes": {"node_arch": "amd64"}})
    flags = ["--kubeconfig", "/elsewhere/kubeconfig", "--context", "prod"]
    argv = [*flags, "deploy-hub", "--dry-run"] if where == "global" else ["deploy-hub", "--dry-run", *flags]
    header = cluster_env.ok(*argv).stdout.splitlines()[0]
    assert header.endswith("--kubeconfig /elsewhere/kubeconfig --kube-context prod")
