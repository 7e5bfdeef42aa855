"""jhubctl's adapter over the official client (``jhubctl.kube.client``), against the fake API server."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from jhubctl.errors import ExitCode, JhubctlError
from jhubctl.kube import KubeClient, KubeError
from jhubctl.local.process import free_port
from tests.fakes.kube import FakeKube

CSI = "blob.csi.azure.com"


def _driver(**spec: Any) -> dict[str, Any]:
    return {"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": CSI}, "spec": {"attachRequired": False, **spec}}


@pytest.fixture
def kube(kubeconfig: Path) -> Iterator[KubeClient]:
    with KubeClient.from_kubeconfig(kubeconfig, context="fake") as client:
        yield client


def test_importing_jhubctl_kube_does_not_import_kubernetes() -> None:
    code = "import sys, jhubctl.kube, jhubctl.kube.csidriver; sys.exit('kubernetes' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_server_version(kube: KubeClient, fake_kube_factory: Callable[..., FakeKube], tmp_path: Path) -> None:
    version = kube.server_version()
    assert (version.git_version, version.major, version.minor, str(version)) == ("v1.28.5", 1, 28, "v1.28.5")
    assert not version.at_least(1, 29) and version.at_least(1, 28)
    other = fake_kube_factory(git_version="v1.29.10")
    with KubeClient.from_kubeconfig(other.write_kubeconfig(tmp_path / "other", "x")) as client:  # current-context
        assert client.server_version().at_least(1, 29)


def test_csidriver_crud_returns_plain_camelcase_dicts(fake_kube: FakeKube, kube: KubeClient) -> None:
    assert kube.get_csidriver(CSI) is None
    created = kube.create_csidriver(_driver(tokenRequests=[{"audience": "api://AzureADTokenExchange"}]))
    assert isinstance(created, dict) and created["spec"]["tokenRequests"] == [{"audience": "api://AzureADTokenExchange"}]
    assert created["metadata"]["resourceVersion"] and "attachRequired" in created["spec"]
    got = kube.get_csidriver(CSI)
    assert got == fake_kube.get_object("csidrivers", CSI)
    assert got is not None
    patched = kube.patch_csidriver(CSI, {"spec": {"requiresRepublish": True}})
    assert patched["spec"]["requiresRepublish"] is True
    assert fake_kube.requests[-1].content_type == "application/merge-patch+json"
    deleted = kube.delete_csidriver(CSI, uid=got["metadata"]["uid"], resource_version=patched["metadata"]["resourceVersion"])
    assert deleted is not None and deleted["metadata"]["name"] == CSI
    assert fake_kube.requests[-1].body == {
        "apiVersion": "v1",
        "kind": "DeleteOptions",
        "preconditions": {"uid": got["metadata"]["uid"], "resourceVersion": patched["metadata"]["resourceVersion"]},
    }
    assert kube.get_csidriver(CSI) is None


def test_fields_unknown_to_the_client_models_survive(fake_kube: FakeKube, kube: KubeClient) -> None:
    """A newer cluster's fields must not be lost (the 37.x models reject them on write, drop them on read)."""
    future = {"nodeAllocatableUpdatePeriodSeconds": 60, "someFutureField": {"enabled": True}}
    fake_kube.seed(_driver(**future))
    got = kube.get_csidriver(CSI)
    assert got is not None and {k: got["spec"][k] for k in future} == future
    kube.delete_csidriver(CSI)
    again = kube.create_csidriver({k: v for k, v in got.items() if k != "metadata"} | {"metadata": {"name": CSI}})
    assert again["spec"]["someFutureField"] == {"enabled": True}


def test_api_errors_become_one_line_kube_errors(fake_kube: FakeKube, kube: KubeClient) -> None:
    kube.create_csidriver(_driver())
    with pytest.raises(KubeError) as exc:
        kube.create_csidriver(_driver())
    err = exc.value
    assert isinstance(err, JhubctlError) and err.exit_code == ExitCode.ERROR
    assert (err.status, err.reason, err.already_exists, err.conflict) == (409, "AlreadyExists", True, False)
    assert err.message == f'creating CSIDriver {CSI} failed: 409 AlreadyExists: csidrivers.storage.k8s.io "{CSI}" already exists'
    with pytest.raises(KubeError) as exc:
        kube.patch_csidriver(CSI, {"spec": {"fsGroupPolicy": "File"}})
    err = exc.value
    assert (err.status, err.reason) == (422, "Invalid")
    assert err.is_immutable("spec.fsGroupPolicy") and err.is_immutable() and not err.is_immutable("spec.attachRequired")
    assert err.causes == [{"reason": "FieldValueInvalid", "message": 'Invalid value: "File": field is immutable', "field": "spec.fsGroupPolicy"}]
    assert "\n" not in err.message and err.message.startswith(f"patching CSIDriver {CSI} failed: 422 Invalid: CSIDriver.storage.k8s.io")
    stale = kube.get_csidriver(CSI)
    assert stale is not None
    kube.patch_csidriver(CSI, {"metadata": {"labels": {"x": "y"}}})
    with pytest.raises(KubeError) as exc:
        kube.patch_csidriver(CSI, {"metadata": {"resourceVersion": stale["metadata"]["resourceVersion"]}, "spec": {"requiresRepublish": True}})
    assert (exc.value.status, exc.value.conflict) == (409, True)
    fake_kube.faults.inject(503, "ServiceUnavailable", "etcd is sulking", verb="get")
    with pytest.raises(KubeError) as exc:
        kube.get_csidriver(CSI)
    assert exc.value.message == f"reading CSIDriver {CSI} failed: 503 ServiceUnavailable: etcd is sulking"


def test_403_carries_a_hint(fake_kube: FakeKube, kube: KubeClient) -> None:
    fake_kube.faults.inject(403, message=f'csidrivers.storage.k8s.io "{CSI}" is forbidden: User "u" cannot get resource')
    with pytest.raises(KubeError) as exc:
        kube.get_csidriver(CSI)
    assert exc.value.reason == "Forbidden" and exc.value.hint and "RBAC" in exc.value.hint


def test_wrong_token_is_a_401_kube_error(fake_kube: FakeKube, kube: KubeClient) -> None:
    fake_kube.token = "rotated"
    assert kube.server_version().minor == 28  # /version needs no credentials, as on a real cluster
    with pytest.raises(KubeError) as exc:
        kube.get_csidriver(CSI)
    assert (exc.value.status, exc.value.reason) == (401, "Unauthorized")
    assert exc.value.hint and "get-credentials" in exc.value.hint


def test_unreachable_server(tmp_path: Path, fake_kube: FakeKube) -> None:
    port = free_port()  # nobody listens there
    path = fake_kube.write_kubeconfig(tmp_path / "kc")
    path.write_text(path.read_text().replace(fake_kube.url, f"https://127.0.0.1:{port}"))
    with KubeClient.from_kubeconfig(path) as client:
        client.timeout = 2
        client._api.configuration.retries = 0  # no urllib3 retries: fail fast
        with pytest.raises(KubeError) as exc:
            client.get_csidriver(CSI)
    err = exc.value
    assert err.status is None and err.reason == "Unreachable"
    assert err.message.startswith(f"reading CSIDriver {CSI} failed: cannot reach the Kubernetes API at https://127.0.0.1:{port}")


def test_kubeconfig_problems_are_usage_errors(tmp_path: Path, kubeconfig: Path) -> None:
    with pytest.raises(KubeError) as exc:
        KubeClient.from_kubeconfig(tmp_path / "missing")
    assert exc.value.exit_code == ExitCode.USAGE and "no such file" in exc.value.message
    with pytest.raises(KubeError) as exc:
        KubeClient.from_kubeconfig(kubeconfig, context="nope")
    assert exc.value.exit_code == ExitCode.USAGE
    assert exc.value.message.startswith(f"cannot use kubeconfig {kubeconfig} (context nope):")
