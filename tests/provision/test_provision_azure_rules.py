"""Requests real Azure refuses: the fake refuses each one as Azure does, and provision never sends it.

Each test has two halves. The first sends the bad request to the fake ARM through the real SDK and checks
the refusal (status, code, message shape as Azure answers; see tests/fakes/arm/store.py). The second runs
provision with the configuration that would lead there: either the config is refused before any request
(exit 2, one line naming the key), or provision sends the request in the form Azure accepts.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

from jhubctl.azure.arm import api_version

from tests.fakes.arm.store import NSG_BOTH_PREFIXES_CODE
from tests.provision.conftest import AzureEnv, assert_one_line_error, only_source


def put(env: AzureEnv, rid: str, body: dict[str, Any]) -> dict[str, Any]:
    from azure.mgmt.resource.resources import ResourceManagementClient

    client = ResourceManagementClient(env.fake.credential(), env.fake.subscription_id, base_url=env.fake.url)
    return client.resources.begin_create_or_update_by_id(rid, body, api_version=api_version(rid)).result().as_dict()


def refusal(env: AzureEnv, rid: str, body: dict[str, Any]) -> tuple[int, str, str]:
    with pytest.raises(HttpResponseError) as caught:
        put(env, rid, body)
    return caught.value.status_code, caught.value.error.code, caught.value.error.message


def current(env: AzureEnv, rid: str) -> dict[str, Any]:
    body = env.fake.resources.get(rid)
    assert body is not None
    return copy.deepcopy(body)


def refused_before_any_request(env: AzureEnv, change: dict[str, Any], *words: str) -> None:
    env.write_config(change)
    code, out, err = env.provision()
    assert code == 2, err
    line = assert_one_line_error(err)
    for word in words:
        assert word in line, line
    assert len(env.fake.requests) == 0, "a request was sent"


@pytest.fixture
def provisioned(make_env) -> AzureEnv:
    env: AzureEnv = make_env("done")
    env.provision_ok()
    return env


IP_RULE_REFUSED = ["10.1.2.3", "172.20.0.0/16", "192.168.1.0/24", "100.64.0.1", "127.0.0.1", "2001:db8::1",
                   "203.0.113.7/32", "203.0.113.6/31"]


@pytest.mark.parametrize("value", IP_RULE_REFUSED)
def test_storage_ip_rules_take_public_ipv4_only_and_no_host_prefix(provisioned: AzureEnv, make_env, value: str) -> None:
    body = current(provisioned, provisioned.ids.storage)
    body["properties"]["networkAcls"]["ipRules"] = [{"value": value, "action": "Allow"}]
    status, code, message = refusal(provisioned, provisioned.ids.storage, body)
    assert (status, code) == (400, "InvalidValuesForRequestParameters")
    assert message.startswith("Values for request parameters are invalid: networkAcls.ipRule[*].value.")

    fresh: AzureEnv = make_env("fresh")
    if value.endswith("/32"):  # a host: provision writes it as a plain address
        fresh.write_config({"network": {"allowed_source_ips": [value]}})
        fresh.provision_ok()
        rules = fresh.fake.resources.get(fresh.ids.storage)["properties"]["networkAcls"]["ipRules"]
        assert rules == [{"value": value.removesuffix("/32"), "action": "Allow"}]
    else:
        refused_before_any_request(fresh, {"network": {"allowed_source_ips": ["198.51.100.0/24", value]}},
                                   "allowed_source_ips", value)


def test_auto_source_must_be_a_public_ipv4_answer(make_env, ip_echo) -> None:
    env: AzureEnv = make_env("auto", config={"network": {"allowed_source_ips": "auto"}})
    env.extra_env["JHUBCTL_IP_ECHO_URL"] = ip_echo.url
    for answer in ("2001:db8::7\n", "10.0.0.7\n", "100.64.1.2\n"):
        ip_echo.answer = answer
        code, _, err = env.provision()
        assert code == 2, err
        assert answer.strip() in assert_one_line_error(err)
    assert len(env.fake.requests) == 0


def test_nsg_rule_takes_one_source_field_and_stores_a_single_prefix_in_the_singular(provisioned: AzureEnv) -> None:
    env = provisioned
    ids = env.ids
    body = current(env, ids.nsg)
    rule = body["properties"]["securityRules"][0]["properties"]
    rule["sourceAddressPrefix"], rule["sourceAddressPrefixes"] = "*", ["198.51.100.0/24"]
    status, code, message = refusal(env, ids.nsg, body)
    assert (status, code) == (400, NSG_BOTH_PREFIXES_CODE) and "SourceAddressPrefixes" in message
    body = current(env, ids.nsg)
    rule = body["properties"]["securityRules"][0]["properties"]
    rule.pop("sourceAddressPrefix", None)
    rule["sourceAddressPrefixes"] = ["192.0.2.1/32"]
    stored = put(env, ids.nsg, body)["properties"]["securityRules"][0]["properties"]
    assert (stored["sourceAddressPrefix"], stored["sourceAddressPrefixes"]) == ("192.0.2.1/32", [])


@pytest.mark.parametrize("narrowed", [["198.51.100.0/24", "203.0.113.7"], ["203.0.113.7"]])
def test_narrowing_an_open_nsg_sends_one_field_and_then_converges(make_env, narrowed: list[str]) -> None:
    env: AzureEnv = make_env("open", config={"network": {"allowed_source_ips": ["*"], "allow_any_source": True}})
    env.provision_ok()
    env.write_config({"network": {"allowed_source_ips": narrowed, "allow_any_source": False}})
    seen = len(env.fake.requests)

    env.provision_ok()

    nsg_puts = [r for r in env.writes(seen) if r.path.lower() == env.ids.nsg.lower()]
    assert len(nsg_puts) == 1
    for rule in nsg_puts[0].body["properties"]["securityRules"]:
        fields = {k for k in ("sourceAddressPrefix", "sourceAddressPrefixes") if rule["properties"].get(k)}
        assert len(fields) == 1, rule
    for rule in env.fake.resources.get(env.ids.nsg)["properties"]["securityRules"]:
        if len(narrowed) == 1:
            assert only_source(rule) == "203.0.113.7/32"
        else:
            assert sorted(rule["properties"]["sourceAddressPrefixes"]) == ["198.51.100.0/24", "203.0.113.7/32"]
    seen = len(env.fake.requests)
    env.provision_ok()
    assert env.writes(seen) == [], "Azure's normalised answer was taken for a difference"


def test_service_cidr_must_stay_outside_the_vnet(provisioned: AzureEnv, make_env) -> None:
    env = provisioned
    body = current(env, env.ids.cluster)
    body["properties"]["networkProfile"].update(serviceCidr="10.240.0.0/16", dnsServiceIP="10.240.0.10")
    status, code, message = refusal(env, env.ids.cluster, body)
    assert (status, code) == (400, "ServiceCidrOverlapExistingSubnetsCidr")
    assert message == "The specified service CIDR 10.240.0.0/16 is conflicted with an existing subnet CIDR 10.240.0.0/16"

    # The seed's own value lies inside its VNet: Azure takes it until another subnet uses the range.
    refused_before_any_request(make_env("seed"), {"aks": {"service_cidr": "10.0.0.0/16", "dns_service_ip": "10.0.0.10"}},
                               "aks.service_cidr", "network.vnet_cidr")


def test_nfs_accounts_refuse_geo_redundant_skus_and_premium_needs_block_blob(provisioned: AzureEnv, make_env) -> None:
    env = provisioned
    body = current(env, env.ids.storage)
    body["sku"] = {"name": "Standard_GRS"}
    assert refusal(env, env.ids.storage, body) == (
        400, "InvalidRequestPropertyValue", "The value 'True' is not allowed for property isNfsv3Enabled.")
    body["sku"] = {"name": "Premium_LRS"}
    status, code, message = refusal(env, env.ids.storage, body)
    assert (status, code) == (400, "InvalidRequestPropertyValue") and "isHnsEnabled" in message

    refused_before_any_request(make_env("grs"), {"storage": {"sku": "Standard_GRS"}}, "storage.sku", "geo-redundant")
    premium: AzureEnv = make_env("premium", config={"storage": {"sku": "Premium_LRS"}})
    premium.provision_ok()
    account = premium.fake.resources.get(premium.ids.storage)
    assert (account["kind"], account["sku"]["name"]) == ("BlockBlobStorage", "Premium_LRS")


def test_kubenet_refuses_the_azure_network_policy(provisioned: AzureEnv, make_env) -> None:
    body = current(provisioned, provisioned.ids.cluster)
    body["properties"]["networkProfile"]["networkPlugin"] = "kubenet"
    assert refusal(provisioned, provisioned.ids.cluster, body)[:2] == (400, "NetworkPolicyAzureNotSupportedForKubenet")
    refused_before_any_request(make_env("kubenet"), {"aks": {"network_plugin": "kubenet"}}, "network_policy", "kubenet")


@pytest.mark.parametrize("name", ["jhub_aks", "-jhub", "a" * 55])
def test_cluster_name_must_be_a_dns_prefix(provisioned: AzureEnv, make_env, name: str) -> None:
    body = current(provisioned, provisioned.ids.cluster)
    body["properties"]["dnsPrefix"] = name
    status, _, message = refusal(provisioned, provisioned.ids.cluster, body)
    assert status == 400 and "dnsPrefix" in message
    refused_before_any_request(make_env("name"), {"aks": {"cluster_name": name}}, "aks.cluster_name", "DNS prefix")


def test_a_principal_without_join_rights_cannot_create_nodes(make_env) -> None:
    env: AzureEnv = make_env("sp", graph=True)
    env.provision_ok()  # provision grants Network Contributor on the VNet first: the create succeeds
    assert env.fake.resources.get(env.ids.cluster)["properties"]["provisioningState"] == "Succeeded"

    env.fake.resources.learn("servicePrincipal", {"appId": "5b2c1f3a-0000-4000-8000-000000000001",
                                                  "id": "5b2c1f3a-0000-4000-8000-000000000002"})
    env.fake.resources.learn("password", {"appId": "5b2c1f3a-0000-4000-8000-000000000001", "secretText": "s3cret"})
    body = current(env, env.ids.cluster)
    body["properties"]["servicePrincipalProfile"] = {"clientId": "5b2c1f3a-0000-4000-8000-000000000001",
                                                     "secret": "s3cret"}
    other = env.ids.cluster + "2"
    body["properties"]["dnsPrefix"] = "jhub-aks2"
    _, code, message = refusal(env, other, body)  # the create starts, then its operation ends Failed
    assert code == "LinkedAuthorizationFailed"
    assert env.fake.resources.get(other)["properties"]["provisioningState"] == "Failed"
    assert "'Microsoft.Network/virtualNetworks/subnets/join/action' on the linked scope(s)" in message


@pytest.mark.parametrize(("target", "state", "conflict"), [
    ("storage", "ResolvingDNS", "StorageAccountOperationInProgress"),
    ("cluster", "Upgrading", "OperationNotAllowed"),
    ("cluster", "Scaling", "OperationNotAllowed"),
])
def test_a_busy_resource_is_waited_for(provisioned: AzureEnv, target: str, state: str, conflict: str) -> None:
    env = provisioned
    rid = getattr(env.ids, target)
    body = current(env, rid)
    env.fake.resources.hold(rid, state, polls=3)
    assert env.fake.resources.get(rid)["properties"]["provisioningState"] == state
    assert refusal(env, rid, body)[:2] == (409, conflict)

    env.fake.resources.hold(rid, state, polls=3)
    if target == "storage":  # a change to write as soon as the account is free again
        env.write_config({"network": {"allowed_source_ips": ["198.51.100.0/24"]}})
    seen = len(env.fake.requests)

    code, out, err = env.provision()

    assert code == 0, err
    assert "waiting" in err and state in err
    assert [r for r in env.fake.requests.snapshot()[seen:] if r.status == 409] == [], "a write met the busy resource"
    assert env.fake.resources.get(rid)["properties"]["provisioningState"] == "Succeeded"
    assert all(s["status"] == "succeeded" for s in env.journal().values())
