"""`provision --only STEP`: run chosen steps, with the outputs of earlier successful runs as their inputs."""

from __future__ import annotations

from tests.provision.conftest import AzureEnv, assert_one_line_error, json_steps


def test_only_a_step_whose_dependencies_never_ran_is_refused_without_a_write(azure_env: AzureEnv) -> None:
    code, out, err = azure_env.run("provision", "--yes", "--only", "registry")

    assert code == 2, err
    line = [x for x in err.splitlines() if x.startswith("error: ")]
    assert len(line) == 1, err
    assert "registry" in line[0] and "resource-group" in line[0] and "providers" in line[0], line[0]
    assert "Traceback" not in err
    assert azure_env.writes() == []
    assert azure_env.fake.resources.ids() == []


def test_only_network_after_a_full_run_runs_only_that_step(azure_env: AzureEnv) -> None:
    env = azure_env
    env.provision_ok()
    journal = env.journal()
    seen = len(env.fake.requests)

    code, out, err = env.run("provision", "--yes", "--only", "network", "--json")

    assert code == 0, err
    steps = json_steps(out)
    assert list(steps) == ["network"]
    assert steps["network"]["status"] == "succeeded"
    assert {c["action"] for c in steps["network"]["changes"]} == {"unchanged"}
    assert env.writes(seen) == []
    ids = env.ids
    network_paths = (ids.nsg.lower(), ids.vnet.lower())
    for rec in env.fake.requests.snapshot()[seen:]:
        path = rec.path.lower()
        assert path.startswith(network_paths) or "/providers/microsoft.network/locations/" in path or (
            path.endswith("/providers/microsoft.resources")), f"--only network sent {rec.method} {rec.path}"
    after = env.journal()
    assert {k: v for k, v in after.items() if k != "network"} == {k: v for k, v in journal.items() if k != "network"}
    assert after["network"]["status"] == "succeeded"
    assert after["network"]["outputs"] == journal["network"]["outputs"]


def test_only_network_applies_a_network_change_alone(azure_env: AzureEnv) -> None:
    env = azure_env
    env.provision_ok()
    env.write_config({"network": {"allowed_source_ips": ["192.0.2.44"]}})
    seen = len(env.fake.requests)

    code, _, err = env.run("provision", "--yes", "--only", "network")

    assert code == 0, err
    assert [(r.method, r.path.lower()) for r in env.writes(seen)] == [("PUT", env.ids.nsg.lower())]


def test_only_with_its_dependencies_named_works_on_a_fresh_subscription(azure_env: AzureEnv) -> None:
    code, _, err = azure_env.run("provision", "--yes", "--only", "providers", "--only", "resource-group",
                                 "--only", "registry")
    assert code == 0, err
    ids = azure_env.ids
    assert sorted(r.lower() for r in azure_env.fake.resources.ids()) == sorted([ids.group.lower(), ids.registry.lower()])
    assert sorted(azure_env.journal()) == ["providers", "registry", "resource-group"]
    assert_no_error = [x for x in err.splitlines() if x.startswith("error")]
    assert assert_no_error == []


def test_only_unknown_step_names_the_known_ones(azure_env: AzureEnv) -> None:
    code, _, err = azure_env.run("provision", "--yes", "--only", "dns")
    assert code == 2
    line = assert_one_line_error(err)
    assert "dns" in line
    assert "network" in err  # the hint lists the steps
