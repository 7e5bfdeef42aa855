"""`jhubctl destroy`: delete what provision made, and only that.

A resource group jhubctl created (its tag says so) and that holds nothing else goes as one delete. A group
that existed before (or that someone else's resource now shares) stays: only resources tagged with this
environment are deleted, the cluster first (it uses the subnet and holds the role assignments' principals).
"""

from __future__ import annotations

import json

from jhubctl.azure.provision import STEPS as PROVISION_STEPS

from tests.conftest import lock_held_elsewhere
from tests.provision.conftest import AzureEnv, paths

FOREIGN_NSG = "/providers/Microsoft.Network/networkSecurityGroups/someone-elses-nsg"


def deletes(env: AzureEnv, since: int) -> list[str]:
    return [r.path.lower() for r in env.writes(since) if r.method == "DELETE"]


def test_destroy_deletes_the_group_it_created_and_clears_the_journal(azure_env: AzureEnv) -> None:
    env = azure_env
    env.provision_ok()
    assert env.journal()["resource-group"]["outputs"]["owned"] is True
    seen = len(env.fake.requests)

    code, out, err = env.run("destroy", "--yes", "--json")

    assert code == 0, err
    assert paths(env.writes(seen)) == [("DELETE", env.ids.group.lower())], "expected exactly one group delete"
    assert env.fake.resources.ids() == []
    assert env.ids.group in out
    steps = env.journal() if env.state_file.exists() else {}
    assert not set(steps) & set(PROVISION_STEPS), f"provision steps left in the journal: {sorted(steps)}"
    assert not (env.state_dir / "kubeconfig").exists()
    # And provision builds it all again from nothing.
    env.provision_ok()
    assert env.ids.cluster in env.fake.resources


def test_destroy_dry_run_lists_what_would_go_and_deletes_nothing(azure_env: AzureEnv) -> None:
    """Read-only, so it needs no lock (it runs beside a provision) and no --yes."""
    env = azure_env
    env.provision_ok()
    before, journal, seen = env.fake.resources.ids(), env.journal(), len(env.fake.requests)

    with lock_held_elsewhere(env.state_dir, "provision"):
        code, out, err = env.run("destroy", "--dry-run", "--json")

    assert code == 0, err
    assert json.loads(out) == {"dry_run": True, "deleted": [], "would_delete": [env.ids.group], "application": None}
    assert f"would delete {env.ids.group}" in err
    assert env.writes(seen) == [] and env.fake.resources.ids() == before and env.journal() == journal


def test_destroy_in_a_pre_existing_group_deletes_only_ours_cluster_first(azure_env: AzureEnv) -> None:
    env = azure_env
    ids = env.ids
    env.fake.resources.seed(ids.group, {"location": "eastus", "tags": {"owner": "platform-team"}})
    env.fake.resources.seed(ids.group + FOREIGN_NSG, {"location": "eastus", "tags": {"owner": "platform-team"}})
    env.provision_ok()
    assert ("PUT", ids.group.lower()) not in paths(env.writes()), "provision re-wrote a group it does not own"
    assert env.fake.resources.get(ids.group)["tags"] == {"owner": "platform-team"}
    assert env.journal()["resource-group"]["outputs"]["owned"] is False
    seen = len(env.fake.requests)

    code, _, err = env.run("destroy", "--yes")

    assert code == 0, err
    deleted = deletes(env, seen)
    ours = [ids.cluster, ids.storage, ids.registry, ids.vnet, ids.nsg]
    assert sorted(deleted) == sorted(r.lower() for r in ours)
    assert deleted[0] == ids.cluster.lower(), f"the cluster must go first: {deleted}"
    assert deleted.index(ids.vnet.lower()) < deleted.index(ids.nsg.lower()), "the NSG is still on the subnet"
    assert ids.group.lower() not in deleted
    assert sorted(r.lower() for r in env.fake.resources.ids()) == sorted(
        [ids.group.lower(), (ids.group + FOREIGN_NSG).lower()])
    assert not any(FOREIGN_NSG.lower() in r.path.lower() for r in env.writes())
    assert env.fake.resources.role_assignments() == []


def test_destroy_keeps_our_group_when_someone_else_put_a_resource_in_it(azure_env: AzureEnv) -> None:
    env = azure_env
    ids = env.ids
    env.provision_ok()
    env.fake.resources.seed(ids.group + FOREIGN_NSG, {"location": "eastus"})
    seen = len(env.fake.requests)

    code, _, err = env.run("destroy", "--yes")

    assert code == 0, err
    deleted = deletes(env, seen)
    assert ids.group.lower() not in deleted
    assert deleted[0] == ids.cluster.lower()
    assert (ids.group + FOREIGN_NSG) in env.fake.resources
    assert ids.cluster not in env.fake.resources and ids.storage not in env.fake.resources


def test_destroy_without_yes_and_without_a_terminal_deletes_nothing(azure_env: AzureEnv) -> None:
    env = azure_env
    env.provision_ok()
    before = sorted(env.fake.resources.ids())
    journal = env.state_file.read_bytes()
    seen = len(env.fake.requests)

    code, _, err = env.run("destroy")

    assert code == 2, err
    assert "--yes" in err and "Traceback" not in err
    assert env.writes(seen) == []
    assert sorted(env.fake.resources.ids()) == before
    assert env.state_file.read_bytes() == journal


def test_destroy_with_nothing_there_is_a_no_op(azure_env: AzureEnv) -> None:
    code, _, err = azure_env.run("destroy", "--yes")
    assert code == 0, err
    assert azure_env.writes() == []
