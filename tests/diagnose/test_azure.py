"""Azure checks on the fake ARM, after a real `jhubctl provision` against it; then each thing broken."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from jhubctl.config import load_config
from jhubctl.diagnose.finding import Report
from jhubctl.diagnose.runner import run
from tests.diagnose.world import one
from tests.provision.conftest import (AzureEnv, IpEcho, fake_arm, fake_arm_factory, fake_graph_factory, ip_echo,  # noqa: F401
                                      make_env, shared_ssh_key)

CODES = ("JH201", "JH202", "JH203", "JH204", "JH205", "JH206", "JH207")


def diagnose(env: AzureEnv, *areas: str) -> Report:
    loaded = load_config(env.root / "jhubctl.yaml", environ=dict(os.environ))
    return run(loaded, areas=areas or ("azure",))


@pytest.fixture
def provisioned(make_env: Callable[..., AzureEnv], ip_echo: IpEcho) -> AzureEnv:
    env = make_env("az")
    env.extra_env["JHUBCTL_IP_ECHO_URL"] = ip_echo.url
    env.provision_ok()
    return env


def mutate(env: AzureEnv, rid: str, change: Callable[[dict[str, Any]], None]) -> None:
    resource = env.fake.resources.get_resource(rid)
    assert resource is not None, rid
    change(resource.body)


def test_a_freshly_provisioned_environment_gives_all_ok(provisioned: AzureEnv, ip_echo: IpEcho) -> None:
    report = diagnose(provisioned)
    assert {f.code: f.status for f in report.findings} == {c: "ok" for c in CODES}, \
        [f for f in report.findings if f.status != "ok"]
    assert "port 443: rule AllowHttpsInbound (priority 100, Allow, from 198.51.100.0/24, 203.0.113.7/32)" in \
        one(report, "JH205").evidence
    assert ip_echo.hits == 1
    writes = [r for r in provisioned.fake.requests if r.is_write]
    report = diagnose(provisioned)
    assert [r for r in provisioned.fake.requests if r.is_write] == writes  # diagnose never writes


def test_an_nsg_without_the_operators_ip(provisioned: AzureEnv, ip_echo: IpEcho) -> None:
    ip_echo.answer = "192.0.2.50\n"
    found = one(diagnose(provisioned), "JH205")
    assert found.status == "fail" and found.summary == "the hub is closed to 192.0.2.50 on port 80 and 443"
    assert "port 80: no rule admits it (the NSG's default DenyAllInBound applies)" in found.evidence
    assert found.fix == (f"add 192.0.2.50/32 to network.allowed_source_ips in {provisioned.root / 'jhubctl.yaml'}, then "
                         "`jhubctl provision --only network`")


def test_a_deny_rule_of_higher_priority_closes_the_port(provisioned: AzureEnv) -> None:
    provisioned.fake.resources.seed(f"{provisioned.ids.nsg}/securityRules/DenyWeb", {"properties": {
        "priority": 50, "direction": "Inbound", "access": "Deny", "protocol": "*", "sourceAddressPrefix": "*",
        "sourcePortRange": "*", "destinationAddressPrefix": "*", "destinationPortRange": "80"}}, "2024-05-01")
    found = one(diagnose(provisioned), "JH205")
    assert found.summary.endswith("on port 80") and "port 80: rule DenyWeb (priority 50, Deny, from *)" in found.evidence


def test_storage_that_does_not_admit_the_subnet(provisioned: AzureEnv) -> None:
    mutate(provisioned, provisioned.ids.storage,
           lambda body: body["properties"]["networkAcls"].update(virtualNetworkRules=[]))
    found = one(diagnose(provisioned), "JH206")
    assert found.status == "fail" and found.summary.startswith("the account's firewall does not admit the AKS subnet")
    assert found.fix == "`jhubctl provision --only network --only storage`"


def test_a_subnet_without_the_storage_endpoint(provisioned: AzureEnv) -> None:
    mutate(provisioned, provisioned.ids.subnet, lambda body: body["properties"].update(serviceEndpoints=[]))
    found = one(diagnose(provisioned), "JH206")
    assert "the subnet lacks the Microsoft.Storage service endpoint" in found.summary
    assert any(line.endswith("service endpoints: none") for line in found.evidence)


def test_a_stopped_cluster_says_how_to_start_it(provisioned: AzureEnv) -> None:
    mutate(provisioned, provisioned.ids.cluster, lambda body: body["properties"].update(powerState={"code": "Stopped"}))
    found = one(diagnose(provisioned), "JH204")
    assert found.status == "fail" and found.fix == "`az aks start --resource-group jhub-rg --name jhub-aks`"


def test_a_kubelet_without_acr_pull(provisioned: AzureEnv) -> None:
    assignment = provisioned.journal()["role-assignments"]["outputs"]["assignments"]["AcrPull"]
    provisioned.fake.resources.remove_tree(assignment)
    report = diagnose(provisioned)
    found = one(report, "JH207")
    assert found.status == "fail" and "lacks AcrPull" in found.summary
    assert found.fix == "`jhubctl provision --only role-assignments`"
    assert one(report, "JH203").status == "fail"  # the journal recorded it: it is gone


def test_a_deleted_resource_and_an_unregistered_provider(provisioned: AzureEnv) -> None:
    provisioned.fake.resources.remove_tree(provisioned.ids.storage)
    provisioned.fake.resources.set_provider_state("Microsoft.Storage", "NotRegistered")
    report = diagnose(provisioned)
    gone = one(report, "JH203")
    assert gone.status == "fail" and "Microsoft.Storage/storageAccounts/jhubstore1: missing (journal: storage)" in \
        gone.evidence
    assert gone.fix == "`jhubctl provision --only storage`"
    providers = one(report, "JH202")
    assert providers.status == "fail" and "Microsoft.Storage: NotRegistered" in providers.evidence
    assert providers.fix == "`jhubctl provision --only providers`"


def test_a_refused_credential_fails_jh201_and_skips_the_rest(provisioned: AzureEnv,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.provision.conftest import GRAPH_TOKEN

    monkeypatch.setenv("JHUBCTL_AZURE_ACCESS_TOKEN", GRAPH_TOKEN)  # a token for another service
    report = diagnose(provisioned)
    found = one(report, "JH201")
    assert found.status == "fail" and "holds a token for Microsoft Graph" in found.summary
    assert found.fix.startswith("`az login`")
    assert GRAPH_TOKEN not in str([f.as_dict() for f in report.findings])
    assert all(f.status == "skip" and "(JH201)" in f.summary for f in report.findings if f.code != "JH201"), \
        report.findings


def test_azure_checks_skip_on_other_targets(tmp_path: Path) -> None:
    (tmp_path / "jhubctl.yaml").write_text("target: kubernetes\n")
    report = run(load_config(tmp_path / "jhubctl.yaml", environ={}), areas=("azure",))
    assert {f.summary for f in report.findings} == {"target kubernetes: jhubctl made no Azure resources"}


def test_service_principal_mode_checks_the_pull_secret_against_the_registry(
        make_env: Callable[..., AzureEnv], ip_echo: IpEcho, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from jhubctl.chart import pullsecret
    from tests.fakes.base.fixtures import stop_all, write_ca_bundle
    from tests.fakes.registry import FakeRegistry

    registry = FakeRegistry(ca_dir=tmp_path / "registry-ca").start()
    try:
        env = make_env("sp", graph=True, config={"registry": {"server": registry.host}})
        env.extra_env["JHUBCTL_IP_ECHO_URL"] = ip_echo.url
        env.provision_ok()
        assert env.graph is not None
        bundle = write_ca_bundle(tmp_path / "all.pem", [env.fake.ca_pem, env.graph.ca_pem, registry.ca_pem])
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
        app_id = env.journal()["identity"]["outputs"]["app_id"]
        registry.users[app_id] = "the-right-password"
        registry.push("k8s-hub", "3.1.0", "linux/amd64")

        missing = one(diagnose(env), "JH207")
        assert missing.status == "fail" and missing.summary == (
            f"there is no pull secret jhub/acr-pull: the nodes cannot pull from {registry.host}")
        assert missing.fix == "`jhubctl deploy-hub`"

        env.kube.seed(pullsecret.manifest("jhub", registry.host, app_id, "an-expired-password"))
        expired = one(diagnose(env), "JH207")
        assert expired.status == "fail" and "refuses the pull secret's login" in expired.summary
        assert expired.fix == ("delete it, and deploy-hub makes a new one: `kubectl --namespace jhub delete secret "
                               "acr-pull`, then `jhubctl deploy-hub`")
        assert "an-expired-password" not in str(expired.as_dict())

        env.kube.seed(pullsecret.manifest("jhub", registry.host, app_id, "the-right-password"))
        works = one(diagnose(env), "JH207")
        assert works.status == "ok" and works.summary == f"the pull secret logs in to {registry.host}"
        assert base64.b64encode(b"the-right-password").decode() not in json.dumps(works.as_dict())
    finally:
        stop_all([registry], "the fake registry")


def test_on_azure_the_image_platforms_are_read_with_the_acr_token_of_the_credential(
        provisioned: AzureEnv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """JH303 on target azure: the Azure token is exchanged for the registry's (what `az acr login` does)."""
    from tests.diagnose.world import deployment, node
    from tests.fakes.base.fixtures import stop_all, write_ca_bundle
    from tests.fakes.registry import FakeRegistry
    from tests.provision.conftest import TOKEN

    registry = FakeRegistry(aad_token=TOKEN, ca_dir=tmp_path / "registry-ca").start()
    try:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(write_ca_bundle(tmp_path / "all.pem",
                                                                     [provisioned.fake.ca_pem, registry.ca_pem])))
        provisioned.write_config({"registry": {"server": registry.host,
                                               "singleuser_image": f"{registry.host}/singleuser:3.1.0"}})
        for i in range(2):
            provisioned.kube.seed(node(f"aks-nodepool1-{i}"))
        provisioned.kube.seed(deployment("hub", f"{registry.host}/k8s-hub:3.1.0-0123456789ab"))
        registry.push("k8s-hub", "3.1.0-0123456789ab", "linux/arm64")
        registry.push_index("singleuser", "3.1.0", ("linux/amd64", "linux/arm64"))
        found = one(diagnose(provisioned, "cluster"), "JH303")
        assert found.status == "fail" and found.summary.startswith("the hub image has no build for the nodes' amd64")
        logins = [(r.method, r.path) for r in registry.requests if r.path.startswith("/oauth2/")]
        assert logins[0] == ("POST", "/oauth2/exchange") and ("POST", "/oauth2/token") in logins
        assert TOKEN not in str(found.as_dict())
    finally:
        stop_all([registry], "the fake registry")
