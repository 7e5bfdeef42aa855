"""`jhubctl up` / `down` on target kubernetes end to end: the fake Kubernetes API with its controllers, the
helm and docker stubs, and a real JupyterHub behind the fake load balancer's address, so the wait for the
hub's API and the health gate run real code."""

from __future__ import annotations

import hashlib
import json

import pytest
import yaml

from jhubctl.hubapi.client import HubClient
from jhubctl.local.process import LocalHub
from tests.cluster.conftest import NAMESPACE, TOKEN, ClusterEnv, hub_port

pytestmark = pytest.mark.hub


@pytest.fixture
def env(cluster_env: ClusterEnv, local_hub: LocalHub) -> ClusterEnv:
    cluster_env.tools.helm.set(proxy_port=hub_port(local_hub))
    return cluster_env


def test_up_runs_the_whole_cluster_half_and_ends_with_a_health_check(env: ClusterEnv, local_hub: LocalHub) -> None:
    result = env.ok("up")
    assert result.stdout.strip() == f"hub URL:   {local_hub.url}"
    err = result.stderr
    assert "apply-storage: claim jhub/azure-blob-nfs-pvc is Bound" in err
    assert "build-hub-image: registry.example:5000/k8s-hub:3.1.0-" in err and "built for linux/amd64" in err
    assert "build-singleuser-image: registry.example:5000/singleuser:3.1.0-" in err
    assert f"deploy-hub: release jhub revision 1, hub 4.0.2 at {local_hub.url}" in err
    assert "health check: print(6 * 7) printed 42" in err and "removed" in err
    order = [err.index(f"{step}: ") for step in ("apply-storage", "build-hub-image", "build-singleuser-image", "deploy-hub")]
    assert order == sorted(order)
    steps = env.journal()
    names = ("apply-storage", "build-hub-image", "build-singleuser-image", "deploy-hub")
    assert [steps[s]["status"] for s in names] == ["succeeded"] * 4
    assert steps["deploy-hub"]["outputs"]["url"] == local_hub.url
    # deploy-hub put the image the build made, from the lock in the state dir, into the values
    lock = env.loaded().state_dir / "interpreter" / "requirements.lock"
    built = steps["build-singleuser-image"]["outputs"]
    assert built["lock"] == str(lock) and built["lock_sha256"] == hashlib.sha256(lock.read_bytes()).hexdigest()
    assert steps["deploy-hub"]["outputs"]["singleuser_image"] == built["image"]
    [upgrade] = [c for c in env.tools.helm.calls() if c["argv"][0] == "upgrade"]
    sent = yaml.safe_load(upgrade["values"]["text"])["singleuser"]["image"]
    assert f"{sent['name']}:{sent['tag']}" == built["image"]
    assert [c["argv"][:2] for c in env.tools.helm.calls() if c["argv"][0] == "upgrade"] == [["upgrade", "--install"]]
    with HubClient(local_hub.url, TOKEN) as hub:
        assert [s for s in hub.servers() if s.user == "jhubctl-health"] == []  # stopped and removed
    # The recorded URL is all the conversation commands need.
    listed = env.ok("-o", "json", "servers")
    assert isinstance(json.loads(listed.stdout), list)
    status = json.loads(env.ok("-o", "json", "status").stdout)
    assert status["hub"]["url"] == local_hub.url and status["hub"]["version"] == "4.0.2"
    assert status["interpreter"]["image"] == {"image": built["image"], "lock": str(lock),
                                              "lock_sha256": built["lock_sha256"],
                                              "state": "built from the current lock; deployed"}
    assert (f"image: {built['image']} (lock sha256 {built['lock_sha256'][:12]}; built from the current lock; "
            "deployed)") in env.ok("status").stdout


def test_a_second_up_changes_nothing_and_says_so_step_by_step(env: ClusterEnv) -> None:
    lock = env.state_dir / "interpreter" / "requirements.lock"
    given = lock.read_text()
    lock.unlink()  # the first `up` resolves it (the same input as of the same date: the same lock)
    first = env.ok("up", "--no-smoke-test")
    assert f"interpreter lock {lock} resolved (" in first.stderr and lock.read_text() == given
    stamp = lock.stat().st_mtime_ns
    seen, helm_calls, docker_calls = len(env.kube.requests), len(env.tools.helm.calls()), len(env.tools.docker.calls())
    result = env.ok("up", "--no-smoke-test")
    assert env.all_writes(seen) == []
    assert [c["argv"][0] for c in env.tools.helm.calls()[helm_calls:]] == ["version", "list"]
    assert [c["argv"][:2] for c in env.tools.docker.calls()[docker_calls:]] == [["buildx", "version"], ["buildx", "imagetools"]] * 2
    assert lock.stat().st_mtime_ns == stamp  # not resolved again
    err = result.stderr
    assert f"interpreter lock {lock} resolved" not in err
    assert "apply-storage: nothing to do (claim jhub/azure-blob-nfs-pvc is Bound)" in err
    assert "build-hub-image: nothing to do (registry.example:5000/k8s-hub:3.1.0-" in err and "is in the registry)" in err
    assert "build-singleuser-image: nothing to do (registry.example:5000/singleuser:3.1.0-" in err
    assert "deploy-hub: nothing to do (release jhub revision 1" in err


def test_a_changed_interpreter_rebuilds_only_the_singleuser_image_and_rolls_it_out(env: ClusterEnv) -> None:
    env.ok("up", "--no-smoke-test")
    before = env.journal()
    env.write_config({"interpreter": {"requirements": ["ipykernel", "iniconfig"]}})
    result = env.ok("up", "--no-smoke-test")
    after = env.journal()
    assert after["build-hub-image"]["outputs"]["built"] is False
    assert after["build-singleuser-image"]["outputs"]["built"] is True
    new = after["build-singleuser-image"]["outputs"]["image"]
    assert new != before["build-singleuser-image"]["outputs"]["image"]
    assert after["deploy-hub"]["outputs"]["singleuser_image"] == new and after["deploy-hub"]["outputs"]["revision"] == 2
    assert "iniconfig" in (env.state_dir / "interpreter" / "requirements.lock").read_text()
    assert f"build-singleuser-image: {new} built for linux/amd64" in result.stderr


def test_down_uninstalls_the_release_keeps_the_data_and_forgets_the_url(env: ClusterEnv) -> None:
    env.ok("up", "--no-smoke-test")
    result = env.ok("down")
    assert ("release jhub uninstalled from namespace jhub; the claim jhub/azure-blob-nfs-pvc and every "
            "conversation's files stay") in result.stderr
    assert ["uninstall", "jhub", "-n", NAMESPACE, "--wait"] == env.tools.helm.argvs()[-1][:5]
    assert env.kube.get_object("deployments", "hub", NAMESPACE) is None
    assert env.kube.get_object("persistentvolumeclaims", "azure-blob-nfs-pvc", NAMESPACE) is not None
    assert env.kube.get_object("persistentvolumes", "azure-blob-nfs-pv") is not None
    assert "deploy-hub" not in env.journal()
    status = json.loads(env.ok("-o", "json", "status").stdout)
    assert status["hub"]["health"] == "not deployed"
    again = env.ok("down")
    assert "no release jhub in namespace jhub: nothing to uninstall" in again.stderr


def test_up_and_down_take_kubeconfig_and_context_after_the_command(env: ClusterEnv) -> None:
    """As the step commands do and kubectl users type: the flags after `up`/`down` win over the config."""
    moved = env.root / "elsewhere.kubeconfig"
    moved.write_text((env.root / "kubeconfig").read_text())
    (env.root / "kubeconfig").unlink()  # the config's kubeconfig is gone: only the flag can reach the cluster
    env.ok("up", "--no-smoke-test", "--kubeconfig", str(moved), "--context", "fake")
    install = next(a for a in env.tools.helm.argvs() if a[:1] == ["upgrade"])
    assert install[install.index("--kubeconfig") + 1] == str(moved)
    assert install[install.index("--kube-context") + 1] == "fake"
    env.ok("down", "--kubeconfig", str(moved), "--context", "fake")
    uninstall = env.tools.helm.argvs()[-1]
    assert uninstall[:2] == ["uninstall", "jhub"] and uninstall[uninstall.index("--kubeconfig") + 1] == str(moved)
    assert env.run("down").code != 0  # without the flag the configured (now missing) kubeconfig is used


def test_waits_time_out_naming_what_they_waited_for(env: ClusterEnv) -> None:
    env.ok("build-hub-image")
    env.ok("build-singleuser-image")
    env.kube.controllers.load_balancer_ip = None
    result = env.run("deploy-hub", "--yes", "--timeout", "1")
    assert result.code == 4
    assert ("timed out after 1 s waiting for Service jhub/proxy-public to get an external address: EXTERNAL-IP is "
            "still <pending>; SyncLoadBalancerFailed: Error syncing load balancer") in result.stderr
    assert "kubernetes.wait_timeout" in result.stderr
    env.kube.controllers.load_balancer_ip = "127.0.0.1"
    env.kube.controllers.stuck["hub"] = ("ImagePullBackOff", 'Back-off pulling image "registry.example:5000/k8s-hub"')
    env.kube.seed({**env.kube.get_object("deployments", "hub", NAMESPACE), "status": {}})  # a fresh rollout
    seen = len(env.tools.helm.calls())
    result = env.run("deploy-hub", "--timeout", "1")
    assert result.code == 4
    assert "waiting for Deployment jhub/hub to roll out" in result.stderr
    assert "ImagePullBackOff: Back-off pulling image" in result.stderr
    # helm succeeded the first time: a re-run after a failed wait only waits again
    assert [c["argv"][0] for c in env.tools.helm.calls()[seen:]] == ["version", "list"]
