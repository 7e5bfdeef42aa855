"""The seed's last 5.2 step, end to end: the blob CSI driver gets `fsGroupPolicy: File` on the new cluster.

Provision runs the whole graph: the fake ARM hands out the fake Kubernetes API's kubeconfig from
listClusterUserCredential, the kubeconfig step writes it, and the csi-driver step changes the CSIDriver
AKS installed (--enable-blob-driver) — in place where the API server allows it (1.29+), by delete and
create before — keeping every other field, after a backup.
"""

from __future__ import annotations

import re
import stat

import pytest
import yaml

from jhubctl.config import AksConfig

from tests.fakes.kube.objects import BLOB_CSI_DRIVER as DRIVER, aks_blob_csidriver
from tests.provision.conftest import AzureEnv, json_steps


def successful_writes(env: AzureEnv, since: int = 0) -> list[tuple[str, str]]:
    return [(r.verb, r.target) for r in env.kube.requests.snapshot()[since:] if r.is_write and (r.status or 0) < 400]


@pytest.mark.parametrize(("version", "writes"), [
    ("v1.29.2", [("patch", f"csidrivers/{DRIVER}")]),
    ("v1.28.5", [("delete", f"csidrivers/{DRIVER}"), ("create", "csidrivers")]),
])
def test_provision_sets_fs_group_policy_file_and_keeps_the_rest(make_env, version: str,
                                                                 writes: list[tuple[str, str]]) -> None:
    env: AzureEnv = make_env("csi", kube_kwargs={"git_version": version})

    code, out, err = env.provision("--json")

    assert code == 0, err
    assert json_steps(out)["csi-driver"]["status"] == "succeeded"
    driver = env.kube.get_object("csidrivers", DRIVER)
    assert driver["spec"]["fsGroupPolicy"] == "File"
    aks = aks_blob_csidriver()
    for key, value in aks["spec"].items():
        if key != "fsGroupPolicy":
            assert driver["spec"][key] == value, key
    assert driver["metadata"]["labels"] == aks["metadata"]["labels"]
    assert successful_writes(env) == writes
    # The kubeconfig jhubctl used is the one the cluster's listClusterUserCredential handed out.
    kubeconfig = yaml.safe_load((env.state_dir / "kubeconfig").read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"] == env.kube.url
    # The live object was backed up (0600) before the first write.
    backups = sorted((env.state_dir / "backups").glob("*.yaml"))
    assert len(backups) == 1
    assert stat.S_IMODE(backups[0].stat().st_mode) == 0o600
    assert yaml.safe_load(backups[0].read_text())["spec"]["fsGroupPolicy"] == "ReadWriteOnceWithFSType"
    outputs = env.journal()["csi-driver"]["outputs"]
    assert outputs["fs_group_policy"] == "File"

    seen = len(env.kube.requests)
    code, out, err = env.provision("--json")
    assert code == 0, err
    assert env.kube_writes(seen) == []
    assert {c["action"] for c in json_steps(out)["csi-driver"]["changes"]} == {"unchanged"}
    assert len(list((env.state_dir / "backups").glob("*.yaml"))) == 1


def test_a_driver_reconciled_back_is_fixed_by_the_next_run(make_env) -> None:
    """Whether AKS's add-on manager puts the default back is unknown: a re-run must notice and fix it."""
    env: AzureEnv = make_env("csi", kube_kwargs={"git_version": "v1.29.2"})
    env.provision_ok()
    env.kube.seed(aks_blob_csidriver())  # the add-on manager restored the original
    seen = len(env.kube.requests)

    code, out, err = env.run("provision", "--dry-run", "--json")
    assert code == 0, err
    assert {c["action"] for c in json_steps(out)["csi-driver"]["changes"]} == {"update"}
    assert env.kube_writes(seen) == []

    env.provision_ok()
    assert env.kube.get_object("csidrivers", DRIVER)["spec"]["fsGroupPolicy"] == "File"
    assert successful_writes(env, seen) == [("patch", f"csidrivers/{DRIVER}")]


def test_cluster_without_the_blob_driver_fails_only_that_step_cleanly(make_env) -> None:
    env: AzureEnv = make_env("csi")
    env.kube.store.delete(env.kube.registry.find("csidrivers"), None, DRIVER)

    code, out, err = env.provision()

    assert code == 1
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("error: csi-driver: ")]
    assert len(errors) == 1 and "blob" in errors[0].lower(), err
    # Any config key the message points at exists.
    for key in re.findall(r"\baks\.([a-z_]+)", err):
        assert key in AksConfig.model_fields, f"the error points at aks.{key}, which is no config key"
    journal = env.journal()
    assert journal["csi-driver"]["status"] == "failed"
    assert all(s["status"] == "succeeded" for name, s in journal.items() if name != "csi-driver"), journal
    assert env.kube_writes() == []
