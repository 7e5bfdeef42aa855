"""The seed's service-principal mode end to end, over the fake ARM and the fake Microsoft Graph.

The fake ARM learns the directory from the fake Graph, as AKS does from Microsoft Entra ID: it refuses a
principal (or secret) it does not see yet, and fails the create of a cluster whose principal cannot join
the node subnet. Provision must grant the principal its network role first, wait out the replication,
add one password only when a cluster is created, and destroy must delete the application.
"""

from __future__ import annotations

import os

import json

import pytest

from jhubctl.azure.desired import ROLES

from tests.provision.conftest import GRAPH_TOKEN, TOKEN, AzureEnv, assert_one_line_error, paths


def graph_writes(env: AzureEnv, since: int = 0) -> list[tuple[str, str]]:
    assert env.graph is not None
    return [(r.method, r.path.rsplit("/", 1)[-1]) for r in env.graph.requests.snapshot()[since:] if r.is_write]


def puts(env: AzureEnv) -> list[str]:
    return [r.path.lower() for r in env.writes() if r.method == "PUT"]


def test_service_principal_mode_grants_join_rights_before_the_cluster_and_shares_no_secret(make_env) -> None:
    env: AzureEnv = make_env("sp", graph=True)

    result = env.provision_ok("--json")

    assert env.graph is not None
    app = next(iter(env.graph.directory.applications.values()))
    sp = next(iter(env.graph.directory.service_principals.values()))
    assert app["displayName"] == "jhub-sp" and sp["appId"] == app["appId"]
    cluster = env.fake.resources.get(env.ids.cluster)
    assert cluster["properties"]["servicePrincipalProfile"] == {"clientId": app["appId"]}  # no secret returned
    assert "identity" not in cluster
    grants = {(ra["properties"]["scope"].lower(), ra["properties"]["roleDefinitionId"].rsplit("/", 1)[-1])
              for ra in env.fake.resources.role_assignments(principal_id=sp["id"])}
    ids = env.ids
    assert grants == {(ids.vnet.lower(), ROLES["Network Contributor"]), (ids.registry.lower(), ROLES["AcrPull"]),
                      (ids.storage.lower(), ROLES["Storage Blob Data Contributor"])}
    # The grant on the VNet came before the cluster create (else LinkedAuthorizationFailed).
    order = puts(env)
    network_grant = ids.role_assignment(ids.vnet, "Network Contributor", sp["id"]).lower()
    assert order.index(network_grant) < order.index(ids.cluster.lower())
    assert graph_writes(env) == [("POST", "applications"), ("POST", "servicePrincipals"), ("POST", "addPassword")]
    password = app["passwordCredentials"][0]
    assert password["displayName"] == "jhubctl demo: AKS cluster credential"
    # The secret went to ARM once, in the cluster's create body, and nowhere else.
    assert not env.graph.leaked_secrets(result.stdout, result.stderr, env.state_dir)
    carried = [r for r in env.fake.requests if env.graph.issued_secrets[0] in json.dumps(r.body)]
    assert [(r.method, r.path.lower()) for r in carried] == [("PUT", ids.cluster.lower())]
    identity = env.journal()["identity"]["outputs"]
    assert identity == {"mode": "service-principal", "app_id": app["appId"], "app_object_id": app["id"],
                        "principal_id": sp["id"]}


def test_rerun_adds_no_password_and_writes_nothing(make_env) -> None:
    env: AzureEnv = make_env("sp", graph=True)
    env.provision_ok()
    arm_seen, graph_seen = len(env.fake.requests), len(env.graph.requests)

    env.provision_ok()

    assert env.writes(arm_seen) == []
    assert graph_writes(env, graph_seen) == []
    assert len(next(iter(env.graph.directory.applications.values()))["passwordCredentials"]) == 1


def test_a_cluster_update_keeps_its_secret_and_adds_no_password(make_env) -> None:
    env: AzureEnv = make_env("sp", graph=True)
    env.provision_ok()
    env.write_config({"aks": {"max_count": 8}})
    arm_seen, graph_seen = len(env.fake.requests), len(env.graph.requests)

    env.provision_ok()

    assert paths(env.writes(arm_seen)) == [("PUT", env.ids.cluster.lower())]
    body = env.writes(arm_seen)[0].body
    assert "secret" not in body["properties"]["servicePrincipalProfile"]
    assert body["properties"]["agentPoolProfiles"][0]["maxCount"] == 8
    assert graph_writes(env, graph_seen) == []


def test_create_waits_while_the_new_principal_and_secret_replicate(make_env, monkeypatch) -> None:
    """AKS answers ServicePrincipalNotFound, then invalid credentials, while Entra ID replicates."""
    monkeypatch.setattr("jhubctl.azure.steps.REPLICATION_DELAY", 0.01)
    env: AzureEnv = make_env("sp", graph=True, replication_lag=2)

    result = env.provision_ok()

    refused = [r.response.body["error"]["code"] for r in env.fake.requests
               if r.method == "PUT" and r.path.lower() == env.ids.cluster.lower() and r.status == 400]
    assert refused == ["ServicePrincipalNotFound"] * 2 + ["BadRequest"] * 2
    assert result.stderr.count("AKS does not see the new service principal yet") >= 4
    assert env.journal()["aks"]["status"] == "succeeded"
    assert len(env.graph.issued_secrets) == 1, "a retry added another password"


def test_the_wait_for_replication_is_bounded(make_env, monkeypatch) -> None:
    monkeypatch.setattr("jhubctl.azure.steps.REPLICATION_DELAY", 0.01)
    monkeypatch.setattr("jhubctl.azure.steps.REPLICATION_TIMEOUT", 0.05)
    env: AzureEnv = make_env("sp", graph=True, replication_lag=1000)

    code, _, err = env.provision()

    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error: aks: ")]
    assert len(errors) == 1 and "ServicePrincipalNotFound" in errors[0] and "still after" in errors[0], err
    assert "Traceback" not in err


def test_destroy_deletes_the_application_with_its_principal(make_env) -> None:
    env: AzureEnv = make_env("sp", graph=True)
    env.provision_ok()
    app = next(iter(env.graph.directory.applications.values()))
    graph_seen = len(env.graph.requests)

    code, out, err = env.run("destroy", "--yes", "--json")

    assert code == 0, err
    assert graph_writes(env, graph_seen) == [("DELETE", app["id"])]
    assert env.graph.directory.applications == {} and env.graph.directory.service_principals == {}
    assert env.fake.resources.ids() == []
    assert "identity" not in (env.journal() if env.state_file.exists() else {})
    # And provision builds it all again, with a new principal.
    env.provision_ok()
    assert len(env.graph.directory.applications) == 1


def test_without_a_graph_token_nothing_is_sent_anywhere(make_env) -> None:
    """An ARM token is refused by Graph (wrong audience): provision must not send it there, and must stop
    before any request, naming the variable to set."""
    env: AzureEnv = make_env("sp", graph=True)
    env.extra_env["JHUBCTL_GRAPH_ACCESS_TOKEN"] = ""

    code, out, err = env.provision()

    assert code == 2
    line = assert_one_line_error(err)
    assert "JHUBCTL_GRAPH_ACCESS_TOKEN" in line
    assert len(env.graph.requests) == 0
    assert len(env.fake.requests) == 0
    assert TOKEN not in out + err and GRAPH_TOKEN not in out + err


@pytest.mark.parametrize(("variable", "token"), [("JHUBCTL_AZURE_ACCESS_TOKEN", GRAPH_TOKEN),
                                                  ("JHUBCTL_GRAPH_ACCESS_TOKEN", TOKEN)])
def test_a_token_in_the_wrong_variable_is_refused_before_any_request(make_env, variable: str, token: str) -> None:
    env: AzureEnv = make_env("sp", graph=True)
    env.extra_env[variable] = token

    code, out, err = env.provision()

    assert code == 2
    assert variable in assert_one_line_error(err)
    assert len(env.graph.requests) == 0 and len(env.fake.requests) == 0
    assert token not in out + err


def test_pull_credential_reuses_the_application_and_adds_one_named_password_per_run(make_env, monkeypatch) -> None:
    """deploy-hub's image pull secret in service-principal mode: provision's principal, a secret for it."""
    from jhubctl.azure import principal
    from jhubctl.config import load_config

    monkeypatch.setattr(principal, "_issued", {})  # one process = one run
    env: AzureEnv = make_env("sp", graph=True)
    env.provision_ok()  # also exports the fake Graph's token, as a pipeline would
    loaded = load_config(env.root / "jhubctl.yaml", environ={**os.environ, "JHUBCTL_GRAPH_ENDPOINT": env.graph.url})
    graph_seen = len(env.graph.requests)

    first = principal.pull_credential(loaded)
    again = principal.pull_credential(loaded)

    app = next(iter(env.graph.directory.applications.values()))
    assert first == again and first.client_id == app["appId"]
    assert first.secret == env.graph.issued_secrets[-1] and len(env.graph.issued_secrets) == 2
    assert graph_writes(env, graph_seen) == [("POST", "addPassword")]
    assert [c["displayName"] for c in app["passwordCredentials"]] == [
        "jhubctl demo: AKS cluster credential", "jhubctl demo: image pull secret"]
    assert first.secret not in repr(first)
    assert len(env.graph.directory.applications) == 1  # the application was reused, not created


def test_pull_credential_is_refused_in_managed_mode_and_before_provision(make_env) -> None:
    from jhubctl.azure.principal import pull_credential
    from jhubctl.errors import UsageError

    managed: AzureEnv = make_env("managed")
    with pytest.raises(UsageError, match="only with aks.identity: service-principal"):
        pull_credential(managed.loaded())
    fresh: AzureEnv = make_env("sp", graph=True)
    with pytest.raises(UsageError, match="has not created the service principal"):
        pull_credential(fresh.loaded())
    assert len(fresh.graph.requests) == 0
