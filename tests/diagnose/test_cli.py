"""`jhubctl diagnose` and `jhubctl logs` through the real command line: exit codes, the table, JSON, logs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.diagnose.world import HUB_POD, TOKEN, World, hub_log
from tests.provision.conftest import CliResult, run_cli


def cli(world: World, monkeypatch: pytest.MonkeyPatch, *argv: str) -> CliResult:
    monkeypatch.chdir(world.root)
    monkeypatch.setenv("JHUBCTL_API_TOKEN", TOKEN)
    return run_cli(*argv)


def test_a_healthy_deployment_exits_0_with_a_table_per_area(make_world, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(hub={})
    result = cli(world, monkeypatch, "diagnose", "--only", "cluster", "--only", "hub")
    assert result.code == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "cluster" and "hub" in lines
    assert any(line.split()[:2] == ["ok", "JH321"] for line in lines)
    assert "local" not in lines and "azure" not in lines
    assert "fix:" not in result.stdout  # nothing to fix
    assert result.stderr.strip().endswith("19 ok")  # 14 cluster + 5 hub checks


def test_a_failure_exits_1_and_shows_what_was_seen_and_the_fix(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.registry.push("k8s-hub", "3.1.0-0123456789ab", "linux/arm64")
    result = cli(world, monkeypatch, "diagnose", "--only", "cluster")
    assert result.code == 1
    out = result.stdout
    assert "JH303 fail: the hub image has no build for the nodes' amd64 (exec format error)" in out
    assert f"  saw: hub image {world.hub_image}: linux/arm64" in out
    assert "  fix: `jhubctl build-hub-image` builds for the nodes' architecture, then `jhubctl deploy-hub`" in out
    assert "error: 1 failed, 13 ok" in result.stderr


def test_json_is_a_list_of_findings(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(world, monkeypatch, "diagnose", "--only", "cluster", "--json")
    findings = json.loads(result.stdout)
    assert isinstance(findings, list) and len(findings) == 14
    assert all(set(f) == {"code", "area", "status", "summary", "evidence", "fix"} for f in findings)
    assert {f["area"] for f in findings} == {"cluster"}
    assert cli(world, monkeypatch, "-o", "json", "diagnose", "--only", "cluster").stdout == result.stdout


def test_an_unusable_config_exits_2_with_jh101(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jhubctl.yaml").write_text("storage:\n  account_name: Not_Valid\n")
    result = run_cli("diagnose", "--json", "--only", "local")
    assert result.code == 2
    findings = json.loads(result.stdout)
    assert findings[0]["code"] == "JH101" and findings[0]["status"] == "fail"
    assert "'storage.account_name'" in findings[0]["summary"]
    assert {f["status"] for f in findings[1:]} == {"skip"} and {f["area"] for f in findings} == {"local"}


@pytest.mark.parametrize("argv", [["--only", "kitchen"], ["--conversation", "c1"], ["--user", "Bad Name"]])
def test_bad_options_are_usage_errors_before_anything_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  argv: list[str]) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli("diagnose", *argv)
    assert result.code == 2 and result.stdout == ""
    assert "Traceback" not in result.stderr


def test_an_unreachable_cluster_is_skips_with_reasons_not_a_crash(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.kube.stop()
    result = cli(world, monkeypatch, "diagnose", "--only", "cluster", "--json")
    world.kube.start()
    findings = json.loads(result.stdout)
    assert result.code == 1 and "Traceback" not in result.stderr
    assert [f["status"] for f in findings].count("skip") == 13


# -- logs --------------------------------------------------------------------------------------------------------
def test_logs_hub_finds_the_hub_pod_by_the_charts_labels(make_world, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(hub={})
    result = cli(world, monkeypatch, "logs", "hub")
    assert result.code == 0, result.stderr
    assert result.stdout == hub_log(("jupyterhub-idle-culler", _culler()))
    assert f"log of pod jhub/{HUB_POD} container hub" in result.stderr
    lists = [r for r in world.kube.requests if r.verb == "list" and r.resource == "pods"]
    assert lists[0].query["labelSelector"] == "component=hub,release=jhub"


def _culler() -> str:
    from tests.diagnose.world import CULLER

    return CULLER


def test_logs_culler_keeps_only_the_cullers_lines(make_world, monkeypatch: pytest.MonkeyPatch) -> None:
    world = make_world(hub={})
    text = hub_log(("jupyterhub-idle-culler", _culler())) + \
        "[I 240501 10:52:36 __init__:362] Culling user fran (inactive for 1:09:58.216145)\n"
    world.kube.set_pod_log("jhub", HUB_POD, text, "hub")
    lines = cli(world, monkeypatch, "logs", "culler").stdout.splitlines()
    assert lines == [line for line in text.splitlines() if "idle-culler" in line or "Culling" in line]
    assert lines[-1].endswith("Culling user fran (inactive for 1:09:58.216145)")


def test_logs_of_a_users_conversation_previous_and_since(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.kube.set_pod_log("jhub", "jupyter-user1--c1", "previous run\nKilled\n", "notebook", previous=True)
    result = cli(world, monkeypatch, "logs", "user1", "c1", "--previous", "--since", "1h30m")
    assert result.code == 0 and result.stdout == "previous run\nKilled\n"
    asked = [r for r in world.kube.requests if r.subresource == "log"][-1]
    assert asked.query == {"container": "notebook", "previous": "true", "sinceSeconds": "5400"}
    lists = [r for r in world.kube.requests if r.verb == "list" and r.resource == "pods"]
    assert lists[-1].query["labelSelector"] == "hub.jupyter.org/username=user1,hub.jupyter.org/servername=c1"


def test_logs_follow_streams_until_the_container_stops(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.kube.set_pod_log("jhub", "jupyter-user2--c2", "one\ntwo\nthree", "notebook")
    result = cli(world, monkeypatch, "logs", "user2", "-f", "--json")
    assert [json.loads(line)["line"] for line in result.stdout.splitlines()] == ["one", "two", "three"]
    asked = [r for r in world.kube.requests if r.subresource == "log"][-1]
    assert asked.query["follow"] == "true"


def test_logs_of_a_user_with_several_conversations_asks_which(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.diagnose.world import user_pod

    world.kube.seed(user_pod("user1", "c9", world.user_image))
    result = cli(world, monkeypatch, "logs", "user1")
    assert result.code == 2 and "user1 runs 2 conversations (c1, c9): name one" in result.stderr


def test_logs_without_such_a_pod_says_how_to_start_one(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    result = cli(world, monkeypatch, "logs", "nobody", "c1")
    assert result.code == 6 and "no pod of nobody/c1 in namespace jhub" in result.stderr
    assert "jhubctl start-server nobody c1" in result.stderr


@pytest.mark.parametrize(("argv", "said"), [
    (["logs", "hub", "c1"], "hub has no conversation"),
    (["logs", "hub", "--since", "5 minutes"], "is not a duration"),
    (["logs", "hub", "--since", "0s"], "is not a duration > 0"),
    (["logs", "hub", "--previous", "--follow"], "a previous run writes no more lines"),
    (["logs", "Not A User"], "user name"),
])
def test_logs_refuses_bad_input_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, argv: list[str],
                                              said: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = run_cli(*argv)
    assert result.code == 2 and said in result.stderr and "Traceback" not in result.stderr
