"""Running provision again is safe: nothing changed means no write; a changed config means exactly that change.

The dry run is what an operator reads before saying yes, so it must come from real GETs, name the fields
that differ, and change nothing (no write request, no journal, no generated key).
"""

from __future__ import annotations

from typing import Any

import pytest

from jhubctl.azure.arm import PROVIDERS
from jhubctl.azure.provision import STEPS as PROVISION_STEPS

from tests.provision.conftest import AzureEnv, json_steps, only_source, paths, snapshot


def test_second_run_sends_no_write_and_reports_everything_unchanged(azure_env: AzureEnv) -> None:
    azure_env.provision_ok()
    before = snapshot(azure_env.fake)
    arm_seen, kube_seen = len(azure_env.fake.requests), len(azure_env.kube.requests)

    code, out, err = azure_env.provision("--json")

    assert code == 0, err
    assert azure_env.writes(arm_seen) == []
    assert azure_env.kube_writes(kube_seen) == []
    steps = json_steps(out)
    assert sorted(steps) == sorted(PROVISION_STEPS)
    for name, step in steps.items():
        assert step["status"] == "succeeded", (name, step)
        assert step["changes"], f"{name} reported no change at all"
        assert {c["action"] for c in step["changes"]} == {"unchanged"}, (name, step["changes"])
    assert snapshot(azure_env.fake) == before


def test_dry_run_on_a_fresh_subscription_plans_every_create_and_changes_nothing(make_env) -> None:
    env: AzureEnv = make_env("fresh", ssh="generate", unregistered_providers=PROVIDERS)

    code, out, err = env.run("provision", "--dry-run", "--json")

    assert code == 0, err
    assert env.writes() == [], paths(env.writes())
    assert all(r.method == "GET" for r in env.fake.requests), paths(list(env.fake.requests))
    assert env.fake.resources.ids() == []
    assert not env.state_file.exists(), "a dry run wrote the journal"
    assert not (env.state_dir / "ssh").exists(), "a dry run generated an SSH key"
    steps = json_steps(out)
    assert sorted(steps) == sorted(PROVISION_STEPS)
    for name, step in steps.items():
        actions = {c["action"] for c in step["changes"]}
        assert step["status"] == "planned", (name, step)
        if name == "identity":  # managed identity: nothing to create, the cluster brings it
            assert actions == {"unchanged"}, (name, step["changes"])
        elif name == "csi-driver":  # an object AKS installs; changed once the cluster exists
            assert actions == {"update"}, (name, step["changes"])
        else:
            assert actions == {"create"}, (name, step["changes"])
    ids = env.ids
    planned = {c["resource"].lower() for s in steps.values() for c in s["changes"]}
    for rid in (ids.group, ids.registry, ids.nsg, ids.vnet, ids.subnet, ids.storage, ids.container, ids.cluster):
        assert rid.lower() in planned, f"{rid} missing from the plan"
    assert {f"provider {ns}".lower() for ns in PROVIDERS} <= planned

    # The human table says the same: a create row for every resource (ids shown without the
    # subscription and group prefix, as `short` renders them).
    from jhubctl.azure.desired import short_id as short

    code, out, err = env.run("provision", "--dry-run")
    assert code == 0, err
    rows = [line.split() for line in out.splitlines()]
    for rid in (ids.group, ids.registry, ids.nsg, ids.vnet, ids.subnet, ids.storage, ids.container, ids.cluster):
        assert any(short(rid) in row and "create" in row for row in rows), f"no create row for {rid}:\n{out}"
    assert "resourceGroups/" + env.ids.group.rsplit("/", 1)[1] in out and "/subscriptions/" not in out
    assert env.writes() == [] and not env.state_file.exists()


CHANGES: dict[str, tuple[dict[str, Any], dict[str, list[str]], list[str]]] = {
    # name: (config change, {resource: substrings of the differing fields}, resources PUT by the real run)
    "registry sku": (
        {"registry": {"sku": "Standard"}},
        {"registry": ["sku.name"]},
        ["registry"],
    ),
    "source ips": (
        {"network": {"allowed_source_ips": ["198.51.100.9"]}},
        {"nsg": ["securityRules[AllowHttpsInbound].properties.sourceAddressPrefixes",
                 "securityRules[AllowHttpInbound].properties.sourceAddressPrefixes"],
         "storage": ["ipRules"]},
        ["nsg", "storage"],
    ),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_config_change_is_previewed_then_applied_alone(azure_env: AzureEnv, change: str) -> None:
    edit, fields, written = CHANGES[change]
    env = azure_env
    env.provision_ok()
    journal_before = env.state_file.read_bytes()
    env.write_config(edit)
    ids = env.ids
    rid = {"registry": ids.registry, "nsg": ids.nsg, "storage": ids.storage}
    seen = len(env.fake.requests)

    code, out, err = env.run("provision", "--dry-run", "--json")

    assert code == 0, err
    assert env.writes(seen) == [], paths(env.writes(seen))
    assert env.state_file.read_bytes() == journal_before, "a dry run touched the journal"
    planned = {c["resource"].lower(): c for s in json_steps(out).values() for c in s["changes"]}
    updates = {r: c for r, c in planned.items() if c["action"] != "unchanged"}
    assert sorted(updates) == sorted(rid[name].lower() for name in fields), updates
    for name, wanted in fields.items():
        change_ = updates[rid[name].lower()]
        assert change_["action"] == "update"
        for part in wanted:
            assert any(part in f for f in change_["fields"]), (part, change_["fields"])

    seen = len(env.fake.requests)
    env.provision_ok()

    assert sorted(paths(env.writes(seen))) == sorted(("PUT", rid[name].lower()) for name in written)
    touched = " ".join(r.path.lower() for r in env.writes(seen))
    assert "virtualnetworks" not in touched, "the VNet/subnet was written for a change that does not concern it"
    if change == "registry sku":
        assert env.fake.resources.get(ids.registry)["sku"]["name"] == "Standard"
    else:
        for rule in env.fake.resources.get(ids.nsg)["properties"]["securityRules"]:
            assert only_source(rule) == "198.51.100.9/32"
        ip_rules = env.fake.resources.get(ids.storage)["properties"]["networkAcls"]["ipRules"]
        assert "198.51.100.9" in [r["value"] for r in ip_rules]
    assert env.journal()["registry" if change == "registry sku" else "network"]["status"] == "succeeded"

    seen = len(env.fake.requests)
    env.provision_ok()
    assert env.writes(seen) == [], "not converged: a third run still writes"


def test_a_removed_source_ip_loses_storage_access_too(azure_env: AzureEnv) -> None:
    """An operator who replaces their IP expects the old one to lose access everywhere it was granted.

    The NSG rules are replaced (the old IP is gone), but the storage account's ipRules are merged by
    value, so the previous IP stays allowed on the account forever.
    """
    env = azure_env
    env.provision_ok()
    env.write_config({"network": {"allowed_source_ips": ["198.51.100.9"]}})
    env.provision_ok()

    for rule in env.fake.resources.get(env.ids.nsg)["properties"]["securityRules"]:
        assert only_source(rule) == "198.51.100.9/32"
    ip_rules = env.fake.resources.get(env.ids.storage)["properties"]["networkAcls"]["ipRules"]
    assert sorted(r["value"] for r in ip_rules) == ["198.51.100.9"], (
        f"old operator IPs still allowed on the storage account: {ip_rules}")
