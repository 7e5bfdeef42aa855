"""The helm values jhubctl generates: every decision the issue names is a key here, in both identity modes,
and every values file fits the chart's real schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from jhubctl.chart import schema
from jhubctl.chart.values import CHART_CULLER, REDACTED, Facts, dump, image_parts, merge, overlay, redact, values
from jhubctl.config import parse_config
from jhubctl.errors import UsageError
from jhubctl.services import API_SERVICE_SCOPES

#: The reference copy beside the project's checkout (`../shared`), where the workplace keeps one.
SHARED_SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "z2jh" / "values.schema.3.1.0.json"
BUNDLED = Path(__file__).parents[2] / "src" / "jhubctl" / "chart" / "values.schema.3.1.0.json"
TOKEN = "f" * 64
MODES = ["managed", "service-principal"]


def the_schema() -> dict[str, Any]:
    return json.loads(BUNDLED.read_text())


def config(identity: str, **changes: Any) -> Any:
    data: dict[str, Any] = {"target": "azure", "aks": {"identity": identity}, "registry": {"name": "jhubacr1"}}
    for key, value in changes.items():
        data.setdefault(key, {}).update(value)
    return parse_config(data)


SINGLEUSER = "jhubacr1.azurecr.io/singleuser:3.1.0-ba9876543210"


def facts(identity: str) -> Facts:
    return Facts("jhubacr1.azurecr.io/k8s-hub", "3.1.0-0123456789ab", "azure-blob-nfs-pvc", TOKEN, SINGLEUSER,
                 "acr-pull" if identity == "service-principal" else None)


def test_the_bundled_schema_is_the_charts_own() -> None:
    if not SHARED_SCHEMA.exists():
        pytest.skip("the reference copy of the chart's schema is not on this machine")
    assert BUNDLED.read_bytes() == SHARED_SCHEMA.read_bytes()


@pytest.mark.parametrize("identity", MODES)
def test_values_fit_the_charts_schema_in_both_identity_modes(identity: str) -> None:
    data = values(config(identity), facts(identity))
    assert schema.problems(data, the_schema()) == []
    assert schema.validate(data, "3.1.0") is True


@pytest.mark.parametrize("identity", MODES)
def test_every_decision_is_a_key(identity: str) -> None:
    cfg = config(identity, servers={"named_server_limit": 3, "mount_path": "/home/jovyan/conversation", "cpu_limit": 1.5})
    data = values(cfg, facts(identity))
    hub = data["hub"]
    assert hub["image"] == {"name": "jhubacr1.azurecr.io/k8s-hub", "tag": "3.1.0-0123456789ab"}
    assert hub["config"]["JupyterHub"] == {"spawner_class": "jhubctl.spawner.kube.KubeConversationSpawner",
                                           "authenticator_class": "jhubctl.spawner.auth.ConversationAuthenticator"}
    assert hub["config"]["KubeSpawner"] == {"delete_pvc": False, "args": [
        "--ZMQChannelsWebsocketConnection.iopub_data_rate_limit=1000000.0",
        "--ZMQChannelsWebsocketConnection.iopub_msg_rate_limit=1000.0",
        "--ServerApp.contents_manager_class=jhubctl.singleuser.contents.ConfinedContentsManager",
        "--ServerApp.kernel_websocket_connection_class=jhubctl.singleuser.kernelws.NoDelayConnection",
    ]}  # the same options the local hub's servers get
    assert hub["config"]["KubeConversationSpawner"] == {"shared_claim_name": "azure-blob-nfs-pvc",
                                                        "conversation_mount_path": "/home/jovyan/conversation"}
    assert (hub["allowNamedServers"], hub["namedServerLimitPerUser"]) == (True, 3)
    assert hub["consecutiveFailureLimit"] == 0
    assert hub["services"] == {"assistant": {"apiToken": TOKEN}}
    assert hub["loadRoles"] == {"assistant": {"scopes": API_SERVICE_SCOPES, "services": ["assistant"]}}
    singleuser = data["singleuser"]
    assert singleuser["image"] == {"name": "jhubacr1.azurecr.io/singleuser", "tag": "3.1.0-ba9876543210"}
    assert "extraFiles" not in singleuser and "extraEnv" not in singleuser  # the built image has the plugins
    assert (singleuser["uid"], singleuser["fsGid"], singleuser["storage"]) == (1000, 100, {"type": "none"})
    assert singleuser["memory"] == {"limit": "2G", "guarantee": None}
    assert singleuser["cpu"] == {"limit": 1.5, "guarantee": None}
    assert data["cull"] == {"enabled": True, "timeout": 3600, "every": 600, "concurrency": 10, "users": False,
                            "removeNamedServers": True, "maxAge": 0}
    assert "proxy" not in data  # no domain: no HTTPS section
    if identity == "service-principal":
        assert data["imagePullSecrets"] == ["acr-pull"]
    else:
        assert "imagePullSecrets" not in data


@pytest.mark.parametrize("identity", MODES)
def test_limits_and_guarantees_drive_the_singleuser_resources(identity: str) -> None:
    cfg = config(identity, servers={"cpu_limit": 2, "cpu_guarantee": 0.5, "mem_limit": "4G", "mem_guarantee": "512M"})
    data = values(cfg, facts(identity))
    assert data["singleuser"]["cpu"] == {"limit": 2.0, "guarantee": 0.5}
    assert data["singleuser"]["memory"] == {"limit": "4G", "guarantee": "512M"}
    assert schema.problems(data, the_schema()) == []
    # unset is null, not absent: helm then drops the chart's own default (memory.guarantee 1G), which a
    # smaller limit would contradict; Kubernetes reserves the limit of a container that names no request
    small = values(config(identity, servers={"mem_limit": "512M"}), facts(identity))
    assert small["singleuser"]["memory"] == {"limit": "512M", "guarantee": None}
    assert small["singleuser"]["cpu"] == {"limit": None, "guarantee": None}
    assert "guarantee: null" in dump(small)
    assert schema.problems(small, the_schema()) == []


def test_an_image_of_your_own_gets_the_plugins_as_files_that_fit_the_schema() -> None:
    from jhubctl import standalone

    cfg = config("managed", registry={"singleuser_image": "quay.io/example/notebook:2024-06-01"})
    data = values(cfg, Facts("r/k8s-hub", "3.1.0-x", "claim", TOKEN, "quay.io/example/notebook:2024-06-01"))
    singleuser = data["singleuser"]
    assert singleuser["image"] == {"name": "quay.io/example/notebook", "tag": "2024-06-01"}
    files = singleuser["extraFiles"]
    assert {f["mountPath"] for f in files.values()} == {f"/usr/local/share/jhubctl/{p}" for p in standalone.files("singleuser")}
    assert singleuser["extraEnv"] == {"PYTHONPATH": "/usr/local/share/jhubctl"}
    assert schema.problems(data, the_schema()) == []


def test_user_named_entries_are_checked_in_full() -> None:
    """The chart's defaults fill the required keys of its own objects, not of extraFiles entries."""
    def with_file(entry: dict[str, Any]) -> list[str]:
        return schema.problems({"singleuser": {"extraFiles": {"f": entry}}}, the_schema())

    assert with_file({"mountPath": "/etc/x.json", "data": {"a": 1}}) == []
    assert with_file({"mountPath": "/etc/x", "stringData": "x", "mode": 420}) == []
    assert with_file({"stringData": "x"}) == ["singleuser.extraFiles.f: 'mountPath' is a required property"]
    [both] = with_file({"mountPath": "/x", "stringData": "x", "binaryData": "eA=="})
    assert both.startswith("singleuser.extraFiles.f: ") and "is valid under each of" in both
    [neither] = with_file({"mountPath": "/x"})
    assert "is not valid under any of the given schemas" in neither
    assert schema.problems({"singleuser": {"image": {"name": "x"}}}, the_schema()) == []  # the chart's: relaxed


def test_scopes_come_from_services_not_a_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    import jhubctl.chart.values as module

    monkeypatch.setattr(module, "API_SERVICE_SCOPES", ["servers", "access:servers", "tokens"])
    data = values(config("managed"), facts("managed"))
    assert data["hub"]["loadRoles"]["assistant"]["scopes"] == ["servers", "access:servers", "tokens"]


def test_one_culler_the_charts_with_the_flag_it_lacks() -> None:
    data = values(config("managed"), facts("managed"))
    extra = data["hub"]["extraConfig"]
    assert list(extra) == ["jhubctl-culler"]
    assert "services" not in {k.lower() for k in data["hub"]["config"]["JupyterHub"]}  # no second culler service
    # The snippet runs in the chart's jupyterhub_config.py after the chart built its culler service.
    class C:
        pass

    c = C()
    c.JupyterHub = C()
    c.JupyterHub.services = [{"name": CHART_CULLER, "command": ["python3", "-m", "jupyterhub_idle_culler", "--timeout=3600"]},
                             {"name": "assistant"}]
    exec(extra["jhubctl-culler"], {"c": c})  # noqa: S102 - the very code the hub will exec
    assert c.JupyterHub.services[0]["command"][-1] == "--api-page-size=200"
    assert c.JupyterHub.services[1] == {"name": "assistant"}
    off = values(config("managed", hub={"cull": {"enabled": False}}), facts("managed"))
    assert off["cull"]["enabled"] is False and "extraConfig" not in off["hub"]


def test_a_domain_turns_on_https_with_automatic_certificates() -> None:
    cfg = config("managed", hub={"domain": "hub.example.org", "letsencrypt_email": "ops@example.org"})
    data = values(cfg, facts("managed"))
    assert data["proxy"] == {"https": {"enabled": True, "type": "letsencrypt", "hosts": ["hub.example.org"],
                                       "letsencrypt": {"contactEmail": "ops@example.org"}}}
    assert schema.problems(data, the_schema()) == []


def test_redaction_removes_the_token_and_nothing_else() -> None:
    cfg = config("service-principal")
    data = values(cfg, facts("service-principal"))
    shown = redact(cfg, data)
    assert TOKEN not in yaml.safe_dump(shown)
    assert shown["hub"]["services"]["assistant"]["apiToken"] == REDACTED
    assert data["hub"]["services"]["assistant"]["apiToken"] == TOKEN  # the original is untouched
    shown["hub"]["services"]["assistant"]["apiToken"] = TOKEN
    assert shown == data


def test_the_users_values_file_is_merged_last_and_checked(tmp_path: Path) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text("singleuser:\n  memory: {limit: 4G}\nhub:\n  extraEnv: {TZ: Europe/Paris}\n")
    cfg = config("managed", hub={"values_file": str(extra)})
    data = overlay(cfg, values(cfg, facts("managed")))
    assert data["singleuser"]["memory"] == {"limit": "4G", "guarantee": None} and data["singleuser"]["uid"] == 1000
    assert data["hub"]["extraEnv"] == {"TZ": "Europe/Paris"}
    schema.validate(data, "3.1.0")
    extra.write_text("singleuser:\n  memry: {limit: 4G}\nhub:\n  image: {name: x, tag: 3}\n")
    with pytest.raises(UsageError) as exc:
        schema.validate(overlay(cfg, values(cfg, facts("managed"))), "3.1.0")
    message = exc.value.message
    assert message.startswith("the helm values do not fit chart 3.1.0's schema: ")
    assert "hub.image.tag: 3 is not of type 'string'" in message
    assert "singleuser: Additional properties are not allowed ('memry' was unexpected)" in message


def test_a_chart_version_without_a_bundled_schema_is_not_checked() -> None:
    assert schema.validate({"anything": 1}, "9.9.9") is False


def test_helpers() -> None:
    assert image_parts("localhost:5001/team/k8s-hub:3.1.0-abc") == ("localhost:5001/team/k8s-hub", "3.1.0-abc")
    assert image_parts("jupyterhub/k8s-singleuser-sample:3.1.0") == ("jupyterhub/k8s-singleuser-sample", "3.1.0")
    assert merge({"a": {"b": 1, "c": [1]}}, {"a": {"c": [2]}}) == {"a": {"b": 1, "c": [2]}}
