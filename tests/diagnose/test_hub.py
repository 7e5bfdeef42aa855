"""Hub checks against the fake JupyterHub API (and the hub pod's log on the fake cluster)."""

from __future__ import annotations

from tests.diagnose.world import CULLER, HUB_POD, World, hub_log, one


def test_a_healthy_hub_gives_all_ok(hub_world: World) -> None:
    report = hub_world.diagnose("hub")
    assert {f.code: f.status for f in report.findings} == {c: "ok" for c in ("JH401", "JH402", "JH403", "JH404", "JH405")}, \
        [f for f in report.findings if f.status != "ok"]
    assert one(report, "JH404").summary == "jupyterhub-idle-culler runs with --timeout=3600"
    assert one(report, "JH401").evidence == (f"GET {hub_world.hub.url}/hub/api/: version 4.0.2",)


def test_a_wrong_token_fails_jh402_and_skips_what_needs_it(make_world) -> None:
    world = make_world(hub={"token": "another-token"})
    report = world.diagnose("hub")
    found = one(report, "JH402")
    assert found.status == "fail" and found.summary == "the hub refuses the API token: it does not know it"
    assert "GET /hub/api/user: 403 Forbidden" in found.evidence
    assert "token from: environment variable JHUBCTL_API_TOKEN" in found.evidence
    assert found.fix == "`jhubctl deploy-hub`"
    for code in ("JH403", "JH405"):
        assert one(report, code).status == "skip" and "(JH402)" in one(report, code).summary
    assert all(TOKEN_NOT_SHOWN(f) for f in report.findings)


def TOKEN_NOT_SHOWN(finding) -> bool:  # noqa: N802 - reads as the property it checks
    from tests.diagnose.world import TOKEN

    return TOKEN not in str(finding.as_dict())


def test_a_token_without_the_scopes_the_service_needs(make_world) -> None:
    world = make_world(hub={"scopes": ["read:users", "list:users"]})
    found = one(world.diagnose("hub"), "JH402")
    assert found.status == "fail" and found.summary.startswith("the token lacks admin:users, servers, access:servers")


def test_named_servers_off_is_found_without_touching_any_server(make_world) -> None:
    world = make_world(hub={"named_servers": False})
    found = one(world.diagnose("hub"), "JH403")
    assert found.status == "fail" and "named servers are off" in found.summary
    assert found.evidence[0].startswith("DELETE /hub/api/users/user0/servers/diagnose-")
    assert found.evidence[0].endswith(": 400 Named servers are not enabled.")
    assert all(not s["stopped"] for u in world.hub.users.values() for s in u["servers"].values())


def test_the_culler_absent_from_the_hubs_log_fails(hub_world: World) -> None:
    hub_world.kube.set_pod_log("jhub", HUB_POD, hub_log(), "hub")
    found = one(hub_world.diagnose("hub"), "JH404")
    assert found.status == "fail" and found.summary == "no idle culler started: idle servers are never stopped"
    assert found.evidence == (f"read: log of pod jhub/{HUB_POD}",)
    assert found.fix.endswith("then `jhubctl deploy-hub`")


def test_a_culler_that_exits_points_at_the_missing_package(hub_world: World) -> None:
    hub_world.kube.set_pod_log("jhub", HUB_POD, hub_log(("jupyterhub-idle-culler", CULLER),
                                                        exits=("jupyterhub-idle-culler",)), "hub")
    found = one(hub_world.diagnose("hub"), "JH404")
    assert found.status == "fail" and "exits right after it starts" in found.summary
    assert any("Service jupyterhub-idle-culler exited with status 1" in line for line in found.evidence)
    assert found.fix.startswith("the hub image lacks jupyterhub_idle_culler")


def test_the_seeds_second_culler_and_another_timeout_are_reported(hub_world: World) -> None:
    seed = "['python3', '-m', 'jupyterhub_idle_culler', '--timeout=3600', '--cull-users', '--api-page-size=200']"
    hub_world.kube.set_pod_log("jhub", HUB_POD, hub_log(("jupyterhub-idle-culler", CULLER),
                                                        ("jupyterhub-idle-culler-service", seed)), "hub")
    assert one(hub_world.diagnose("hub"), "JH404").status == "warn"
    hub_world.write_config({"hub": {"cull": {"timeout": 1800}}})
    hub_world.kube.set_pod_log("jhub", HUB_POD, hub_log(("jupyterhub-idle-culler", CULLER)), "hub")
    found = one(hub_world.diagnose("hub"), "JH404")
    assert found.summary == "the culler stops servers after 3600 s idle, the config says 1800 (hub.cull.timeout)"


def test_a_server_pending_longer_than_the_start_timeout(hub_world: World) -> None:
    hub_world.hub.add_user("alice", {"c9": {"pending": "spawn", "started": "2024-05-01T10:00:00Z"}})
    found = one(hub_world.diagnose("hub"), "JH405")
    assert found.status == "fail" and found.evidence[0].startswith("server alice/c9: pending spawn for ")
    assert found.fix == "`jhubctl stop-server alice c9`, then read why: `jhubctl logs alice c9`"


def test_every_page_of_users_is_read(make_world) -> None:
    world = make_world(users=450, hub={})
    world.hub.add_user("zz-last", {"late": {"pending": "spawn", "started": "2024-05-01T10:00:00Z"}})
    report = world.diagnose("hub")
    assert one(report, "JH405").evidence[0].startswith("server zz-last/late")
    pages = [r for r in world.hub.requests if r.path == "/hub/api/users"]
    assert [r.query.get("offset") for r in pages if r.query.get("state") == "active"] == ["0", "200", "400"]


def test_an_unreachable_hub_fails_jh401_and_skips_the_rest(hub_world: World) -> None:
    hub_world.hub.stop()
    report = hub_world.diagnose("hub")
    assert one(report, "JH401").status == "fail" and "does not answer" in one(report, "JH401").summary
    assert one(report, "JH401").fix == "`jhubctl deploy-hub`"
    for code in ("JH402", "JH403", "JH405"):
        assert one(report, code).status == "skip" and "(JH401)" in one(report, code).summary, code
    hub_world.hub.start()


def test_no_hub_recorded_says_how_to_deploy_one(world: World) -> None:
    import json

    state = world.state_dir / "state.json"
    doc = json.loads(state.read_text())
    del doc["steps"]["deploy-hub"]
    state.write_text(json.dumps(doc))
    found = one(world.diagnose("hub"), "JH401")
    assert found.status == "fail" and "no hub is recorded" in found.summary and found.fix == "`jhubctl deploy-hub`"


def test_user_servers_with_user_and_conversation(hub_world: World) -> None:
    report = hub_world.diagnose("hub", user="user1", conversation="c1")
    found = one(report, "JH406")
    assert found.status == "ok" and found.summary == "user1/c1 is ready at /user/user1/c1/"
    missing = one(hub_world.diagnose("hub", user="user1", conversation="nope"), "JH406")
    assert missing.status == "fail" and missing.fix == "`jhubctl start-server user1 nope`"
    nobody = one(hub_world.diagnose("hub", user="ghost"), "JH406")
    assert nobody.status == "fail" and nobody.fix == "see which servers run: `jhubctl servers`"
    assert not [f for f in hub_world.diagnose("hub").findings if f.code == "JH406"]  # only with --user
