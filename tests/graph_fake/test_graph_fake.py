"""The fake Microsoft Graph, exercised with plain httpx the way jhubctl's service-principal mode calls it."""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest
import trustme

from tests.fakes.base.tokens import ARM_AUDIENCE, GRAPH_AUDIENCE, jwt
from tests.fakes.graph import FakeGraph


@pytest.fixture
def graph(fake_graph: FakeGraph) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake_graph.v1, verify=fake_graph.ssl_context(), headers=fake_graph.headers()) as c:
        yield c


def _is_guid(value: object) -> bool:
    try:
        return str(uuid.UUID(str(value))) == value
    except ValueError:
        return False


def _error(resp: httpx.Response) -> tuple[int, str]:
    err = resp.json()["error"]
    assert err["message"] and err["innerError"]["request-id"]
    return resp.status_code, err["code"]


def test_graph_app_password_sp_flow(fake_graph: FakeGraph, graph: httpx.Client) -> None:
    r = graph.post("/applications", json={"displayName": "jhub-sp"})
    assert r.status_code == 201
    app = r.json()
    assert _is_guid(app["id"]) and _is_guid(app["appId"]) and app["id"] != app["appId"]
    assert app["displayName"] == "jhub-sp" and app["passwordCredentials"] == []

    r = graph.post(f"/applications/{app['id']}/addPassword", json={"passwordCredential": {"displayName": "jhubctl"}})
    assert r.status_code == 200
    cred = r.json()
    assert cred["secretText"] == fake_graph.issued_secrets[-1] and 16 <= len(cred["secretText"]) <= 64
    assert _is_guid(cred["keyId"]) and cred["displayName"] == "jhubctl" and cred["hint"] == cred["secretText"][:3]
    start = datetime.fromisoformat(cred["startDateTime"].replace("Z", "+00:00"))
    end = datetime.fromisoformat(cred["endDateTime"].replace("Z", "+00:00"))
    assert end.year == start.year + 2  # Graph's default lifetime

    r = graph.post(f"/applications/{app['id']}/addPassword",
                   json={"passwordCredential": {"displayName": "short", "endDateTime": "2030-01-01T00:00:00Z"}})
    assert r.json()["endDateTime"] == "2030-01-01T00:00:00Z"

    stored = graph.get(f"/applications/{app['id']}").json()
    assert [c["keyId"] for c in stored["passwordCredentials"]][0] == cred["keyId"]
    assert all(c.get("secretText") is None for c in stored["passwordCredentials"])
    assert not fake_graph.leaked_secrets(graph.get("/applications").text, graph.get(f"/applications/{app['id']}").text)

    r = graph.post("/servicePrincipals", json={"appId": app["appId"]})
    assert r.status_code == 201
    sp = r.json()
    assert _is_guid(sp["id"]) and sp["id"] not in (app["id"], app["appId"])
    assert (sp["appId"], sp["displayName"]) == (app["appId"], "jhub-sp")
    assert graph.get(f"/servicePrincipals/{sp['id']}").json()["id"] == sp["id"]

    r = graph.post(f"/applications/{app['id']}/removePassword", json={"keyId": cred["keyId"]})
    assert r.status_code == 204 and r.content == b""
    assert len(graph.get(f"/applications/{app['id']}").json()["passwordCredentials"]) == 1
    r = graph.post(f"/applications/{app['id']}/removePassword", json={"keyId": cred["keyId"]})
    assert _error(r) == (400, "Request_BadRequest")

    writes = fake_graph.writes()
    assert [(w.method, w.path.rsplit("/", 1)[-1]) for w in writes] == [
        ("POST", "applications"), ("POST", "addPassword"), ("POST", "addPassword"),
        ("POST", "servicePrincipals"), ("POST", "removePassword"), ("POST", "removePassword"),
    ]
    assert writes[0].body == {"displayName": "jhub-sp"}
    assert all("authorization" not in {k.lower() for k in rec.headers} for rec in fake_graph.requests)


def test_graph_filter_lookups(fake_graph: FakeGraph, graph: httpx.Client) -> None:
    a = graph.post("/applications", json={"displayName": "jhub-a"}).json()
    graph.post("/applications", json={"displayName": "jhub-b"})
    odd = graph.post("/applications", json={"displayName": "O'Brien & co"}).json()

    # httpx params (percent-encoded), a hand-written URL with raw spaces/quotes, and a fully encoded one.
    assert [x["id"] for x in graph.get("/applications", params={"$filter": "displayName eq 'jhub-a'"}).json()["value"]] == [a["id"]]
    assert [x["id"] for x in graph.get("/applications?$filter=displayName eq 'jhub-a'").json()["value"]] == [a["id"]]
    assert len(graph.get("/applications?%24filter=displayName%20eq%20%27jhub-a%27").json()["value"]) == 1
    found = graph.get("/applications", params={"$filter": "displayName eq 'O''Brien & co'"}).json()
    assert [x["id"] for x in found["value"]] == [odd["id"]] and found["@odata.context"].endswith("#applications")
    assert graph.get("/applications", params={"$filter": "displayName eq 'nope'"}).json()["value"] == []
    assert len(graph.get("/applications").json()["value"]) == 3

    r = graph.get("/applications", params={"$filter": "startswith(displayName,'jhub')"})
    assert _error(r) == (400, "Request_UnsupportedQuery")
    r = graph.get("/applications", params={"$filter": "displayName eq jhub-a"})  # literal without quotes
    assert _error(r) == (400, "Request_UnsupportedQuery")

    flt = {"$filter": f"appId eq '{a['appId']}'"}
    assert graph.get("/servicePrincipals", params=flt).json()["value"] == []
    sp = graph.post("/servicePrincipals", json={"appId": a["appId"]}).json()
    assert [x["id"] for x in graph.get("/servicePrincipals", params=flt).json()["value"]] == [sp["id"]]


def test_graph_duplicate_and_orphan_service_principal(graph: httpx.Client) -> None:
    app = graph.post("/applications", json={"displayName": "dup"}).json()
    assert graph.post("/servicePrincipals", json={"appId": app["appId"]}).status_code == 201
    r = graph.post("/servicePrincipals", json={"appId": app["appId"]})
    assert _error(r) == (409, "Request_MultipleObjectsWithSameKeyValue")
    assert app["appId"] in r.json()["error"]["message"]

    r = graph.post("/servicePrincipals", json={"appId": str(uuid.uuid4())})
    assert _error(r) == (400, "Request_BadRequest")
    assert r.json()["error"]["details"][0]["code"] == "NoBackingApplicationObject"
    assert _error(graph.post("/applications", json={})) == (400, "Request_BadRequest")


def test_graph_not_found_and_delete_cascades(graph: httpx.Client) -> None:
    missing = str(uuid.uuid4())
    for path in (f"/applications/{missing}", f"/servicePrincipals/{missing}"):
        r = graph.get(path)
        assert _error(r) == (404, "Request_ResourceNotFound") and missing in r.json()["error"]["message"]
    assert _error(graph.post(f"/applications/{missing}/addPassword", json={})) == (404, "Request_ResourceNotFound")
    assert _error(graph.get("/applications/not-a-guid")) == (400, "Request_BadRequest")
    assert _error(graph.get("/groups")) == (400, "BadRequest")

    app = graph.post("/applications", json={"displayName": "gone"}).json()
    sp = graph.post("/servicePrincipals", json={"appId": app["appId"]}).json()
    assert graph.delete(f"/applications/{app['id']}").status_code == 204
    assert graph.get(f"/applications/{app['id']}").status_code == 404
    assert graph.get(f"/servicePrincipals/{sp['id']}").status_code == 404  # deleted with its application
    assert _error(graph.delete(f"/applications/{app['id']}")) == (404, "Request_ResourceNotFound")


def test_graph_requires_bearer_token(fake_graph: FakeGraph, fake_graph_factory: Callable[..., FakeGraph]) -> None:
    with httpx.Client(base_url=fake_graph.v1, verify=fake_graph.ssl_context()) as anon:
        r = anon.post("/applications", json={"displayName": "x"})
        assert _error(r) == (401, "InvalidAuthenticationToken")
        assert r.json()["error"]["message"] == "Access token is empty." and "WWW-Authenticate" in r.headers
        assert _error(anon.get("/applications", headers={"Authorization": "Basic abc"}))[0] == 401
    assert fake_graph.directory.applications == {}  # refused, not performed
    assert [(r.method, r.status) for r in fake_graph.requests] == [("POST", 401), ("GET", 401)]

    strict = fake_graph_factory(expected_token=jwt(GRAPH_AUDIENCE))
    with httpx.Client(base_url=strict.v1, verify=strict.ssl_context()) as c:
        assert c.get("/applications", headers={"Authorization": f"Bearer {jwt(GRAPH_AUDIENCE)}"}).status_code == 401
        assert c.get("/applications", headers=strict.headers()).status_code == 200


def test_graph_refuses_a_token_of_another_audience(fake_graph: FakeGraph) -> None:
    """An Azure Resource Manager token sent to Graph: 401, as real Graph answers it."""
    with httpx.Client(base_url=fake_graph.v1, verify=fake_graph.ssl_context()) as c:
        r = c.get("/applications", headers={"Authorization": f"Bearer {jwt(ARM_AUDIENCE)}"})
        assert _error(r) == (401, "InvalidAuthenticationToken")
        assert r.json()["error"]["message"] == "Access token validation failure. Invalid audience."
        r = c.get("/applications", headers={"Authorization": "Bearer not-a-jwt"})
        assert _error(r) == (401, "InvalidAuthenticationToken")


def test_graph_tells_listeners_what_aks_will_see(graph: httpx.Client, fake_graph: FakeGraph) -> None:
    events: list[tuple[str, dict]] = []
    fake_graph.directory.listeners.append(lambda event, data: events.append((event, data)))
    app = graph.post("/applications", json={"displayName": "jhub-sp"}).json()
    sp = graph.post("/servicePrincipals", json={"appId": app["appId"]}).json()
    secret = graph.post(f"/applications/{app['id']}/addPassword", json={}).json()["secretText"]
    graph.delete(f"/applications/{app['id']}")
    assert events == [("servicePrincipal", {"appId": app["appId"], "id": sp["id"]}),
                      ("password", {"appId": app["appId"], "secretText": secret}),
                      ("deleted", {"appId": app["appId"]})]


def test_graph_fault_injection(fake_graph: FakeGraph, graph: httpx.Client) -> None:
    fake_graph.faults.set_rate(1.0, statuses=(429,))
    r = graph.get("/applications")
    assert _error(r) == (429, "TooManyRequests") and r.headers["Retry-After"] == "0"
    fake_graph.faults.set_rate(0.5, statuses=(429, 503), seed=7)
    statuses = [graph.get("/applications").status_code for _ in range(40)]
    assert set(statuses) == {200, 429, 503}
    fake_graph.faults.set_rate(0.0)

    fake_graph.faults.inject(503, method="POST", path_contains="/servicePrincipals", retry_after="2")
    app = graph.post("/applications", json={"displayName": "f"}).json()
    r = graph.post("/servicePrincipals", json={"appId": app["appId"]})
    assert _error(r) == (503, "serviceNotAvailable") and r.headers["Retry-After"] == "2"
    assert fake_graph.directory.service_principals == {}  # answered before it took effect
    assert graph.post("/servicePrincipals", json={"appId": app["appId"]}).status_code == 201

    # Lost reply: the password is added, the client sees a 500 and never gets the secret.
    fake_graph.faults.inject(500, path_contains="addPassword", after=True)
    assert graph.post(f"/applications/{app['id']}/addPassword", json={}).status_code == 500
    assert len(fake_graph.directory.applications[app["id"]]["passwordCredentials"]) == 1

    fake_graph.faults.inject(403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation.",
                             method="DELETE")
    assert _error(graph.delete(f"/applications/{app['id']}")) == (403, "Authorization_RequestDenied")

    assert fake_graph.faults.count(503) >= 1 and fake_graph.faults.count(403) == 1
    assert [w.path.rsplit("/", 1)[-1] for w in fake_graph.writes()] == ["applications", "servicePrincipals"]
    assert len(fake_graph.writes(include_faulted=True)) == 5


def test_graph_secret_leak_helpers(fake_graph: FakeGraph, graph: httpx.Client, tmp_path: Path) -> None:
    app = graph.post("/applications", json={"displayName": "s"}).json()
    secret = graph.post(f"/applications/{app['id']}/addPassword", json={}).json()["secretText"]
    assert fake_graph.issued_secrets == [secret]
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "ok.json").write_text('{"clientId": "x"}')
    assert fake_graph.leaked_secrets(tmp_path / "state", "log line") == []
    (tmp_path / "state" / "deep").mkdir()
    (tmp_path / "state" / "deep" / "bad.log").write_text(f"secret={secret}")
    assert fake_graph.leaked_secrets(tmp_path / "state") == [secret]
    assert fake_graph.secrets_sent_back() == []
    graph.get("/applications", params={"$filter": f"displayName eq '{secret}'"})
    assert fake_graph.secrets_sent_back() == [secret]


def test_graph_shared_ca_and_ssl_cert_file(fake_graph_factory: Callable[..., FakeGraph], tmp_path: Path) -> None:
    ca = trustme.CA()
    one = fake_graph_factory(ca=ca)
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    ca.private_key_pem.write_to_path(str(tmp_path / "ca.key"))
    two = fake_graph_factory(ca=(tmp_path / "ca.pem", tmp_path / "ca.key"))
    assert one.ca_pem_path.read_bytes() == two.ca_pem_path.read_bytes() == ca.cert_pem.bytes()
    # The fixture's SSL_CERT_FILE bundle: a plain client trusts the fakes with no verify= at all.
    with httpx.Client(headers=one.headers()) as plain:
        assert plain.get(f"{one.v1}/applications").status_code == 200
        assert plain.get(f"{two.v1}/servicePrincipals").status_code == 200
    with httpx.Client(verify=True, trust_env=False) as certifi_only, pytest.raises(httpx.ConnectError):
        certifi_only.get(f"{one.v1}/applications")


def test_graph_bundle_includes_fake_arm_ca(fake_arm, fake_graph_factory: Callable[..., FakeGraph]) -> None:
    graph = fake_graph_factory()  # after fake_arm: the bundle holds both fakes' CAs
    fake_graph_factory()  # a second start keeps the ARM CA in the bundle
    assert os.environ["SSL_CERT_FILE"] == os.environ["REQUESTS_CA_BUNDLE"]
    with httpx.Client(headers=graph.headers()) as plain:
        assert plain.get(f"{graph.v1}/applications").status_code == 200
        r = plain.get(f"{fake_arm.url}/subscriptions/{fake_arm.subscription_id}/resourcegroups",
                      params={"api-version": "2022-09-01"},
                      headers={"Authorization": f"Bearer {fake_arm.credential().token}"})
        assert r.status_code == 200 and r.json()["value"] == []
    from azure.mgmt.resource.resources import ResourceManagementClient  # requests: reads REQUESTS_CA_BUNDLE

    arm = ResourceManagementClient(fake_arm.credential(), fake_arm.subscription_id, base_url=fake_arm.url)
    assert list(arm.resource_groups.list()) == []
