"""`jhubctl build-hub-image` through the real CLI: docker buildx argv (recorded by the stub) on target
kubernetes, ACR Tasks over the fake ARM on target azure, skips, refusals and failures."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from jhubctl.image.context import hub_context
from tests.cluster.conftest import REGISTRY, ClusterEnv, node
from tests.image.conftest import ACR, ARM_TOKEN, AcrEnv

TASKS = "2019-06-01-preview"


def builds(env: ClusterEnv) -> list[dict]:
    return [c for c in env.tools.docker.calls() if c["argv"][:2] == ["buildx", "build"]]


def test_docker_builds_for_the_nodes_platform_and_pushes(cluster_env: ClusterEnv) -> None:
    result = cluster_env.ok("build-hub-image")
    image = result.stdout.strip()
    assert image.startswith(f"{REGISTRY}/k8s-hub:3.1.0-")
    calls = cluster_env.tools.docker.calls()
    assert [c["argv"][:3] for c in calls] == [["buildx", "version"], ["buildx", "imagetools", "inspect"],
                                              ["buildx", "build", "--platform"]]
    assert calls[1]["argv"] == ["buildx", "imagetools", "inspect", image]
    [build] = builds(cluster_env)
    context = Path(build["argv"][-1])
    assert build["argv"] == ["buildx", "build", "--platform", "linux/amd64", "--tag", image, "--push",
                             "--file", str(context / "Dockerfile"), str(context)]
    expected = hub_context("jupyterhub/k8s-hub:3.1.0")
    assert build["context_files"] == sorted(p for p, _, _ in expected.files)
    assert build["dockerfile"] == expected.dockerfile
    assert not context.exists()  # the temporary context is gone
    assert cluster_env.tools.docker.state()["pushed"][image]["platform"] == "linux/amd64"
    outputs = cluster_env.journal()["build-hub-image"]["outputs"]
    assert outputs == {"image": image, "tag": image.rsplit(":", 1)[1], "platform": "linux/amd64", "builder": "docker",
                       "base": "jupyterhub/k8s-hub:3.1.0", "built": True}
    assert [(r.verb, r.target) for r in cluster_env.kube.requests] == [("list", "nodes")]


def test_a_rerun_finds_the_tag_in_the_registry_and_builds_nothing(cluster_env: ClusterEnv) -> None:
    first = cluster_env.ok("build-hub-image").stdout
    again = cluster_env.ok("build-hub-image")
    assert again.stdout == first and len(builds(cluster_env)) == 1
    assert "is in the registry already: nothing to build" in again.stderr
    assert cluster_env.journal()["build-hub-image"]["outputs"]["built"] is False


def test_arm64_nodes_get_an_arm64_image_with_its_own_tag(make_cluster_env) -> None:
    amd = make_cluster_env("amd").ok("build-hub-image").stdout.strip()
    env = make_cluster_env("arm", arch="arm64")
    arm = env.ok("build-hub-image").stdout.strip()
    assert arm != amd
    assert builds(env)[0]["argv"][3] == "linux/arm64"


def test_an_image_that_would_not_run_on_the_nodes_is_refused_before_building(cluster_env: ClusterEnv) -> None:
    result = cluster_env.run("build-hub-image", "--platform", "linux/arm64")
    assert result.code == 2
    assert "linux/arm64 would not run on the cluster's amd64 nodes (exec format error)" in result.stderr
    assert cluster_env.tools.docker.calls() == []


def test_mixed_nodes_are_refused(make_cluster_env) -> None:
    env = make_cluster_env("mixed")
    env.kube.seed(node("arm-pool-0", "arm64"))
    result = env.run("build-hub-image")
    assert result.code == 1 and "mix architectures (amd64, arm64)" in result.stderr and "node_arch" in result.stderr
    assert env.tools.docker.calls() == []


@pytest.mark.parametrize(("command", "config", "refusal", "froms"), [
    ("build-hub-image", {"hub": {"base_image": "jupyterhub/k8s-hub:3.2.1"}},
     "jupyterhub/k8s-hub:3.2.1 is not version 3.1.0 (hub.chart_version)", 1),
    ("build-singleuser-image", {"interpreter": {"base_image": "python:3.12.14-slim-trixie"}},
     "must be built on Python 3.11 (the lock's): python:3.12.14-slim-trixie is Python 3.12", 2),
])
def test_a_base_image_of_another_version_is_refused_unless_forced(cluster_env: ClusterEnv, command: str,
                                                                   config: dict, refusal: str, froms: int) -> None:
    cluster_env.write_config(config)
    result = cluster_env.run(command)
    assert result.code == 2 and refusal in result.stderr
    assert cluster_env.tools.docker.calls() == []
    cluster_env.ok(command, "--force")
    base = next(iter(next(iter(config.values())).values()))
    assert builds(cluster_env)[0]["dockerfile"].count(f"FROM {base}") == froms


def test_a_failed_docker_build_shows_the_end_of_its_output(cluster_env: ClusterEnv) -> None:
    cluster_env.tools.docker.set(fail_next_build=["#7 [3/3] RUN python3 -c \"import jhubctl.spawner.kube\"",
                                                  "#7 ModuleNotFoundError: No module named 'kubespawner'"])
    result = cluster_env.run("build-hub-image")
    assert result.code == 1
    assert "docker buildx build of" in result.stderr and "ModuleNotFoundError: No module named 'kubespawner'" in result.stderr
    assert cluster_env.journal()["build-hub-image"]["status"] == "failed"


def test_docker_without_buildx_is_one_clear_error(cluster_env: ClusterEnv) -> None:
    cluster_env.tools.docker.set(no_buildx=True)
    result = cluster_env.run("build-hub-image")
    assert result.code == 1 and "docker buildx is not available" in result.stderr and "docs.docker.com" in result.stderr


def test_context_out_only_writes_the_context(cluster_env: ClusterEnv, tmp_path: Path) -> None:
    result = cluster_env.ok("build-hub-image", "--context-out", str(tmp_path / "ctx"))
    written = sorted(str(p.relative_to(tmp_path / "ctx")) for p in (tmp_path / "ctx").rglob("*") if p.is_file())
    assert written == sorted(p for p, _, _ in hub_context("jupyterhub/k8s-hub:3.1.0").files)
    assert len(result.stdout.splitlines()) == len(written)
    assert cluster_env.tools.docker.calls() == [] and len(cluster_env.kube.requests) == 0


def test_dry_run_says_what_it_would_build_and_calls_nothing(cluster_env: ClusterEnv) -> None:
    cluster_env.write_config({"kubernetes": {"node_arch": "arm64"}})
    result = cluster_env.ok("-o", "json", "build-hub-image", "--dry-run")
    plan = json.loads(result.stdout)
    assert plan["dry_run"] is True and plan["platform"] == "linux/arm64" and plan["builder"] == "docker"
    assert plan["image"].startswith(f"{REGISTRY}/k8s-hub:3.1.0-") and "Dockerfile" in plan["files"]
    assert cluster_env.tools.docker.calls() == [] and len(cluster_env.kube.requests) == 0


def test_target_kubernetes_needs_a_registry(cluster_env: ClusterEnv) -> None:
    cluster_env.config["registry"].pop("server")
    cluster_env.write_config()
    result = cluster_env.run("build-hub-image", "--dry-run")
    assert result.code == 2 and "registry.server must be set for target kubernetes" in result.stderr


# -- ACR Tasks ---------------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    import jhubctl.image.acr

    monkeypatch.setattr(jhubctl.image.acr, "POLL", 0.01)


def arm_calls(acr: AcrEnv) -> list[tuple[str, str]]:
    return [(r.method, r.path.rsplit("/registries/", 1)[-1]) for r in acr.arm.requests
            if "/registries/" in r.path]


def test_acr_tasks_upload_schedule_follow_and_push(acr_env: AcrEnv) -> None:
    acr_env.tasks.polls = 2
    env = acr_env.env
    result = env.ok("-v", "build-hub-image")
    image = result.stdout.strip()
    tag = image.rsplit(":", 1)[1]
    assert image == f"{acr_env.registry.host}/k8s-hub:{tag}"
    assert arm_calls(acr_env) == [
        ("POST", f"{ACR}/listBuildSourceUploadUrl"), ("POST", f"{ACR}/scheduleRun"),
        ("GET", f"{ACR}/runs/ca1"), ("POST", f"{ACR}/runs/ca1/listLogSasUrl"),
        ("GET", f"{ACR}/runs/ca1"), ("POST", f"{ACR}/runs/ca1/listLogSasUrl"),
        ("GET", f"{ACR}/runs/ca1"), ("POST", f"{ACR}/runs/ca1/listLogSasUrl"),
    ]
    assert {r.query["api-version"] for r in acr_env.arm.requests if "/registries/" in r.path} == {TASKS}
    [upload] = [r for r in acr_env.blob.requests if r.method == "PUT"]
    assert upload.headers["x-ms-blob-type"] == "BlockBlob"
    assert upload.raw == hub_context("jupyterhub/k8s-hub:3.1.0").tarball()
    source = upload.path.lstrip("/")
    [body] = acr_env.tasks.requests
    assert body == {"type": "DockerBuildRequest", "isArchiveEnabled": False, "imageNames": [f"k8s-hub:{tag}"],
                    "isPushEnabled": True, "noCache": False, "dockerFilePath": "Dockerfile", "timeout": 3600,
                    "platform": {"os": "Linux", "architecture": "amd64"}, "sourceLocation": source}
    assert acr_env.registry.images == {("k8s-hub", tag): "linux/amd64"}
    assert "Step 2/5 : COPY" in result.stderr and "was successful" in result.stderr  # the run's log, streamed
    outputs = env.journal()["build-hub-image"]["outputs"]
    assert (outputs["builder"], outputs["run_id"], outputs["built"]) == ("acr-tasks", "ca1", True)
    # the tag was looked up first, through the registry's own API with an exchanged token
    registry_paths = [(r.method, r.path) for r in acr_env.registry.requests]
    assert registry_paths[:3] == [("POST", "/oauth2/exchange"), ("POST", "/oauth2/token"),
                                  ("HEAD", f"/v2/k8s-hub/manifests/{tag}")]
    exchange = {k: v[0] for k, v in parse_qs(acr_env.registry.requests[0].body).items()}
    assert exchange == {"grant_type": "access_token", "service": acr_env.registry.host, "access_token": ARM_TOKEN}
    pull = {k: v[0] for k, v in parse_qs(acr_env.registry.requests[1].body).items()}
    assert pull.pop("refresh_token") in acr_env.registry._refresh
    assert pull == {"grant_type": "refresh_token", "service": acr_env.registry.host, "scope": "repository:k8s-hub:pull"}


def test_acr_rerun_skips_with_zero_arm_writes(acr_env: AcrEnv) -> None:
    env = acr_env.env
    env.ok("build-hub-image")
    seen = len(acr_env.arm.requests)
    again = env.ok("build-hub-image")
    assert acr_env.arm.requests.snapshot()[seen:] == []
    assert "nothing to build" in again.stderr and len(acr_env.tasks.requests) == 1


def test_a_failed_acr_run_shows_the_tail_of_its_log(acr_env: AcrEnv) -> None:
    acr_env.tasks.fail_next = ["Step 5/5 : RUN python3 -c \"import jhubctl.spawner.kube, jhubctl.spawner.auth\"",
                               "ModuleNotFoundError: No module named 'kubespawner'",
                               "The command '/bin/sh -c python3 -c ...' returned a non-zero code: 1"]
    result = acr_env.env.run("build-hub-image")
    assert result.code == 1
    assert "the ACR build run ca1 ended Failed (failed during run, err: exit status 1); the end of its log:" in result.stderr
    assert "ModuleNotFoundError: No module named 'kubespawner'" in result.stderr
    assert f"az acr task logs --registry {ACR} --run-id ca1" in result.stderr
    assert acr_env.registry.images == {}


def test_local_docker_on_azure_logs_in_with_a_registry_token_on_stdin(acr_env: AcrEnv) -> None:
    env = acr_env.env
    env.ok("build-hub-image", "--local-docker")
    [login] = [c for c in env.tools.docker.calls() if c["argv"][:1] == ["login"]]
    assert login["argv"] == ["login", "--username", "00000000-0000-0000-0000-000000000000", "--password-stdin",
                             acr_env.registry.host]
    assert login["stdin_sha256"] in {hashlib.sha256(t.encode()).hexdigest() for t in acr_env.registry._refresh}
    for call in env.tools.docker.calls():
        assert not any(t in json.dumps(call["argv"]) for t in acr_env.registry._refresh)
        assert "JHUBCTL_AZURE_ACCESS_TOKEN" not in call["env"] and ARM_TOKEN not in json.dumps(call)
    assert builds(env)[0]["argv"][3] == "linux/amd64"  # Standard_D4s_v5
    assert acr_env.tasks.requests == []


# -- build-singleuser-image ----------------------------------------------------------------------------------
def singleuser_expected(env: ClusterEnv):
    from jhubctl.image.build import lock_for_image, singleuser_source

    return singleuser_source(env.loaded(), lock_for_image(env.loaded())).context


def test_singleuser_builds_the_lock_for_the_nodes_platform_and_records_which_lock(cluster_env: ClusterEnv) -> None:
    result = cluster_env.ok("build-singleuser-image")
    image = result.stdout.strip()
    assert image.startswith(f"{REGISTRY}/singleuser:3.1.0-")
    [build] = builds(cluster_env)
    context = Path(build["argv"][-1])
    assert build["argv"] == ["buildx", "build", "--platform", "linux/amd64", "--tag", image, "--push",
                             "--file", str(context / "Dockerfile"), str(context)]
    expected = singleuser_expected(cluster_env)
    assert build["context_files"] == sorted(p for p, _, _ in expected.files)
    assert build["dockerfile"] == expected.dockerfile
    lock = cluster_env.state_dir / "interpreter" / "requirements.lock"
    outputs = cluster_env.journal()["build-singleuser-image"]["outputs"]
    assert outputs == {"image": image, "tag": image.rsplit(":", 1)[1], "platform": "linux/amd64", "builder": "docker",
                       "base": "python:3.11.16-slim-trixie", "lock": str(lock),
                       "lock_sha256": hashlib.sha256(lock.read_bytes()).hexdigest(), "built": True}
    again = cluster_env.ok("build-singleuser-image")
    assert again.stdout == result.stdout and len(builds(cluster_env)) == 1 and "nothing to build" in again.stderr
    assert "build-hub-image" not in cluster_env.journal()  # one image, one step


def test_singleuser_resolves_a_missing_lock_first_and_a_dry_run_writes_none(cluster_env: ClusterEnv) -> None:
    lock = cluster_env.state_dir / "interpreter" / "requirements.lock"
    given = lock.read_text()
    lock.unlink()
    cluster_env.write_config({"kubernetes": {"node_arch": "amd64"}})
    dry = cluster_env.ok("-o", "json", "build-singleuser-image", "--dry-run")
    plan = json.loads(dry.stdout)
    assert "would be resolved (not written: a dry run)" in dry.stderr and not lock.exists()
    assert plan["lock_sha256"] == hashlib.sha256(given.encode()).hexdigest()  # what a real run resolves
    assert "requirements.lock" in plan["files"] and cluster_env.tools.docker.calls() == []
    result = cluster_env.ok("build-singleuser-image")
    assert f"interpreter lock {lock} resolved" in result.stderr and lock.read_text() == given
    assert result.stdout.strip() == plan["image"]  # the dry run named the image the build made


def test_singleuser_context_out_writes_the_lock_and_the_plugins(cluster_env: ClusterEnv, tmp_path: Path) -> None:
    out = cluster_env.ok("build-singleuser-image", "--context-out", str(tmp_path / "ctx"))
    written = sorted(str(p.relative_to(tmp_path / "ctx")) for p in (tmp_path / "ctx").rglob("*") if p.is_file())
    assert written == sorted(p for p, _, _ in singleuser_expected(cluster_env).files)
    lock = cluster_env.state_dir / "interpreter" / "requirements.lock"
    assert (tmp_path / "ctx" / "requirements.lock").read_bytes() == lock.read_bytes()
    assert len(out.stdout.splitlines()) == len(written) and cluster_env.tools.docker.calls() == []


def test_acr_tasks_build_the_singleuser_image_from_the_context(acr_env: AcrEnv) -> None:
    env = acr_env.env
    image = env.ok("build-singleuser-image").stdout.strip()
    tag = image.rsplit(":", 1)[1]
    assert image == f"{acr_env.registry.host}/singleuser:{tag}"
    [upload] = [r for r in acr_env.blob.requests if r.method == "PUT"]
    assert upload.raw == singleuser_expected(env).tarball()
    [body] = acr_env.tasks.requests
    assert body["imageNames"] == [f"singleuser:{tag}"] and body["platform"] == {"os": "Linux", "architecture": "amd64"}
    assert acr_env.registry.images == {("singleuser", tag): "linux/amd64"}
    seen = len(acr_env.arm.requests)
    again = env.ok("build-singleuser-image")
    assert acr_env.arm.requests.snapshot()[seen:] == [] and "nothing to build" in again.stderr
