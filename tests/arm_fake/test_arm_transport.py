"""HTTPS, auth, api-version, request log, ids and 404 answers of the fake ARM."""

from __future__ import annotations

import pytest
import requests
from azure.core.exceptions import ResourceNotFoundError

from tests.fakes.arm import FakeArm
from tests.fakes.base.tokens import GRAPH_AUDIENCE, jwt


def test_https_with_test_ca_and_bearer_required(fake_arm: FakeArm) -> None:
    url = f"{fake_arm.url}/subscriptions/{fake_arm.subscription_id}/resourcegroups/x?api-version=2021-04-01"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, verify=requests.certs.where(), timeout=5)  # public CAs do not know the test CA

    anonymous = requests.get(url, verify=str(fake_arm.ca_pem_path), timeout=5)
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "AuthenticationFailed"
    assert "WWW-Authenticate" in anonymous.headers

    basic = requests.get(url, headers={"Authorization": "Basic abc"}, verify=str(fake_arm.ca_pem_path), timeout=5)
    assert basic.status_code == 401

    bearer = {"Authorization": f"Bearer {fake_arm.credential().token}"}
    no_version = requests.get(url.split("?")[0], headers=bearer, verify=str(fake_arm.ca_pem_path), timeout=5)
    assert no_version.status_code == 400
    assert no_version.json()["error"]["code"] == "MissingApiVersionParameter"


def test_a_token_for_another_service_is_refused(fake_arm: FakeArm) -> None:
    """A Microsoft Graph token sent to ARM: 401 InvalidAuthenticationTokenAudience, as ARM answers it."""
    url = f"{fake_arm.url}/subscriptions/{fake_arm.subscription_id}/resourcegroups/x?api-version=2021-04-01"
    graph = requests.get(url, headers={"Authorization": f"Bearer {jwt(GRAPH_AUDIENCE)}"},
                         verify=str(fake_arm.ca_pem_path), timeout=5)
    assert graph.status_code == 401
    error = graph.json()["error"]
    assert error["code"] == "InvalidAuthenticationTokenAudience"
    assert error["message"].startswith(f"The access token has been obtained for wrong audience or resource "
                                       f"'{GRAPH_AUDIENCE}'. It should exactly match with one of the allowed audiences")
    opaque = requests.get(url, headers={"Authorization": "Bearer t"}, verify=str(fake_arm.ca_pem_path), timeout=5)
    assert opaque.status_code == 401 and opaque.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_request_log_records_bodies_without_authorization(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    arm_clients.network.network_security_groups.begin_create_or_update(
        rg, "nsg1", {"location": "eastus", "tags": {"app": "jhub"}}
    ).result()
    put = next(r for r in fake_arm.requests if r.method == "PUT" and r.path.endswith("/nsg1"))
    assert put.body == {"location": "eastus", "tags": {"app": "jhub"}}
    assert put.query["api-version"]
    assert put.status == 201
    assert all("authorization" not in {k.lower() for k in r.headers} for r in fake_arm.requests)
    # writes(): the two PUTs, not the polls or the final GET
    assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in fake_arm.writes()] == [("PUT", "rg1"), ("PUT", "nsg1")]


def test_ids_are_case_insensitive_and_keep_first_casing(fake_arm: FakeArm, arm_clients) -> None:
    arm_clients.resource.resource_groups.create_or_update("MyGroup", {"location": "West Europe"})
    got = arm_clients.resource.resource_groups.get("mygroup")
    assert got.name == "MyGroup"
    assert got.location == "westeurope"
    assert got.id == f"/subscriptions/{fake_arm.subscription_id}/resourceGroups/MyGroup"
    assert arm_clients.resource.resource_groups.check_existence("MYGROUP") is True
    assert arm_clients.resource.resource_groups.check_existence("other") is False

    arm_clients.containerregistry.registries.begin_create("MYGROUP", "MyRegistry01", {"location": "westeurope", "sku": {"name": "Basic"}}).result()
    reg = arm_clients.containerregistry.registries.get("mygroup", "myregistry01")
    assert reg.name == "MyRegistry01"
    assert reg.login_server == "myregistry01.azurecr.io"
    assert reg.id == f"/subscriptions/{fake_arm.subscription_id}/resourceGroups/MyGroup/providers/Microsoft.ContainerRegistry/registries/MyRegistry01"
    assert fake_arm.resources.get(reg.id.upper())["name"] == "MyRegistry01"


def test_not_found_answers_use_arm_error_codes(arm_clients, rg: str) -> None:
    with pytest.raises(ResourceNotFoundError) as missing_rg:
        arm_clients.resource.resource_groups.get("nope")
    assert missing_rg.value.error.code == "ResourceGroupNotFound"

    with pytest.raises(ResourceNotFoundError) as missing:
        arm_clients.network.virtual_networks.get(rg, "nope")
    assert missing.value.error.code == "ResourceNotFound"

    # a child of a missing resource group
    with pytest.raises(ResourceNotFoundError) as orphan:
        arm_clients.network.virtual_networks.begin_create_or_update("ghost", "v", {"location": "eastus"})
    assert orphan.value.error.code == "ResourceGroupNotFound"


def test_resource_group_resources_list_for_destroy(fake_arm: FakeArm, arm_clients, rg: str) -> None:
    arm_clients.network.virtual_networks.begin_create_or_update(
        rg, "vnet1", {"location": "eastus", "properties": {"subnets": [{"name": "a", "properties": {"addressPrefix": "10.0.0.0/24"}}]}}
    ).result()
    arm_clients.storage.storage_accounts.begin_create(rg, "acct1", {"location": "eastus", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"}).result()
    listed = sorted((r.type, r.name) for r in arm_clients.resource.resources.list_by_resource_group(rg))
    # top-level resources only: no subnet, no blob service
    assert listed == [("Microsoft.Network/virtualNetworks", "vnet1"), ("Microsoft.Storage/storageAccounts", "acct1")]

    arm_clients.resource.resource_groups.begin_delete(rg).result()
    assert arm_clients.resource.resource_groups.check_existence(rg) is False
    assert fake_arm.resources.ids() == []  # the group delete took everything inside with it


def test_unmodelled_types_answer_invalid_resource_type(fake_arm: FakeArm, rg: str) -> None:
    url = (
        f"{fake_arm.url}/subscriptions/{fake_arm.subscription_id}/resourceGroups/{rg}"
        "/providers/Microsoft.Compute/virtualMachines/vm1?api-version=2024-03-01"
    )
    answer = requests.get(url, headers={"Authorization": f"Bearer {fake_arm.credential().token}"},
                          verify=str(fake_arm.ca_pem_path), timeout=5)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "InvalidResourceType"
    other_sub = url.replace(fake_arm.subscription_id, "00000000-0000-0000-0000-000000000000")
    answer = requests.get(other_sub, headers={"Authorization": f"Bearer {fake_arm.credential().token}"},
                          verify=str(fake_arm.ca_pem_path), timeout=5)
    assert answer.json()["error"]["code"] == "SubscriptionNotFound"


def test_two_fakes_side_by_side(fake_arm_factory) -> None:
    from tests.fakes.arm.fixtures import make_clients

    first, second = fake_arm_factory(), fake_arm_factory()
    for fake in (first, second):
        make_clients(fake).resource.resource_groups.create_or_update("rg1", {"location": "eastus"})
    assert len(first.writes()) == len(second.writes()) == 1
