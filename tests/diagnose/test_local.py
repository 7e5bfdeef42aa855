"""Local checks: the config, the programs, the journal, and on target local the hub's processes, port and modes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from jhubctl.config import load_config
from jhubctl.diagnose.finding import Report
from jhubctl.diagnose.runner import run
from jhubctl.state import Journal, Record
from tests.diagnose.world import one


def diagnose(root: Path, config: dict, *areas: str, user: str | None = None, conversation: str | None = None,
             environ: dict[str, str] | None = None) -> Report:
    (root / "jhubctl.yaml").write_text(yaml.safe_dump(config))
    loaded = load_config(root / "jhubctl.yaml", environ={**os.environ, **(environ or {})})
    return run(loaded, areas=areas or ("local",), user=user, conversation=conversation)


def test_a_fresh_local_folder_says_to_run_up_and_nothing_else_is_wrong(tmp_path: Path) -> None:
    report = diagnose(tmp_path, {"target": "local"})
    statuses = {f.code: f.status for f in report.findings}
    assert statuses == {"JH101": "ok", "JH102": "skip", "JH103": "skip", "JH104": "skip", "JH105": "ok", "JH106": "ok",
                        "JH110": "fail", "JH111": "ok", "JH112": "ok", "JH113": "ok"}
    assert one(report, "JH110").fix == "`jhubctl up`"
    assert one(report, "JH102").summary == "target local runs no helm, docker or kubectl"


def test_a_config_incomplete_for_its_target_names_the_key(tmp_path: Path) -> None:
    report = diagnose(tmp_path, {"target": "azure", "storage": {"account_name": "jhubstore1"}})
    found = one(report, "JH101")
    assert found.status == "fail" and found.summary == "azure.subscription_id, registry.name must be set for target azure"
    assert found.fix == f"correct azure.subscription_id in {tmp_path / 'jhubctl.yaml'}, then `jhubctl config validate`"


def test_a_values_file_that_is_not_yaml_is_a_config_failure(tmp_path: Path) -> None:
    (tmp_path / "values.yaml").write_text("hub: [unclosed\n")
    found = one(diagnose(tmp_path, {"target": "local", "hub": {"values_file": str(tmp_path / "values.yaml")}}), "JH101")
    assert found.status == "fail" and "is not valid YAML" in found.summary


def test_missing_programs_are_named_with_how_to_get_them(tmp_path: Path) -> None:
    config = {"target": "kubernetes", "registry": {"server": "registry.example:5000"},
              "storage": {"account_name": "jhubstore1"},
              "tools": {"helm": str(tmp_path / "no-helm"), "docker": str(tmp_path / "no-docker"),
                        "kubectl": str(tmp_path / "no-kubectl")}}
    report = diagnose(tmp_path, config)
    helm = one(report, "JH102")
    assert helm.status == "fail" and helm.summary == f"{str(tmp_path / 'no-helm')!r} (tools.helm) is not found"
    assert helm.fix == ("install helm (https://helm.sh/docs/intro/install/) or set tools.helm to its path, then "
                        "`helm version --short`")
    assert one(report, "JH103").status == "fail"
    assert one(report, "JH104").status == "warn"  # jhubctl never runs kubectl itself


def test_the_helm_stub_is_found_and_its_version_shown(tmp_path: Path) -> None:
    from tests.fakes.tools.fixtures import make_tools

    tools = make_tools(tmp_path / "tools")
    config = {"target": "kubernetes", "registry": {"server": "registry.example:5000"},
              "storage": {"account_name": "jhubstore1"}, "tools": {"helm": str(tools.helm.path)}}
    found = one(diagnose(tmp_path, config), "JH102")
    assert found.status == "ok" and found.evidence == ("helm version --short: v3.14.4+g81c902a",)


def test_an_interrupted_step_and_a_recorded_file_that_is_gone(tmp_path: Path) -> None:
    journal = Journal(tmp_path / ".jhubctl")
    journal.record("aks", Record("running", "2024-05-01T10:00:00+00:00"))
    journal.record("kubeconfig", Record("succeeded", "2024-05-01T10:00:00+00:00", "2024-05-01T10:01:00+00:00",
                                        None, {"path": str(tmp_path / ".jhubctl" / "kubeconfig"), "context": "x"}))
    journal.record("deploy-hub", Record("failed", "2024-05-01T10:00:00+00:00", "2024-05-01T10:02:00+00:00",
                                        None, {}, "timed out waiting for Deployment jhub/hub"))
    report = diagnose(tmp_path, {"target": "local"})
    found = {f.summary: f.fix for f in report.findings if f.code == "JH106"}
    assert found == {
        "step aks was interrupted (started 2024-05-01T10:00:00+00:00, no jhubctl holds the lock)":
            "run it again, it resumes where it stopped: `jhubctl provision`",
        f"step kubeconfig recorded {tmp_path / '.jhubctl' / 'kubeconfig'}, which is gone":
            "run it again, it resumes where it stopped: `jhubctl provision`",
        "step deploy-hub failed: timed out waiting for Deployment jhub/hub":
            "run it again, it resumes where it stopped: `jhubctl deploy-hub`",
    }


def test_secrets_readable_by_others_fail_with_the_chmod_that_fixes_them(tmp_path: Path) -> None:
    from jhubctl.state import Secrets

    Secrets(tmp_path / ".jhubctl", environ={}).api_token()
    secrets_file = tmp_path / ".jhubctl" / "secrets.json"
    secrets_file.chmod(0o644)
    found = one(diagnose(tmp_path, {"target": "local"}), "JH113")
    assert found.status == "fail" and f"{secrets_file}: 0644" in found.evidence
    assert found.fix == f"`chmod 600 {secrets_file}`"
    token = json.loads(secrets_file.read_text())["api_token"]
    assert token not in str(found)


def test_a_port_taken_by_another_program(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        found = one(diagnose(tmp_path, {"target": "local", "local": {"port": port}}), "JH112")
    assert found.status == "fail" and found.summary == (f"127.0.0.1:{port} (local.port) is taken by another program: the "
                                                        "hub cannot start")
    assert found.fix == f"set local.port to a free port (or 0) in {tmp_path / 'jhubctl.yaml'}, then `jhubctl up`"


@pytest.fixture
def leftover(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process carrying this state dir's marker, as a killed hub's proxy would."""
    from jhubctl.local.hubconfig import MARKER_ENV

    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "configurable-http-proxy"],
                            env={**os.environ, MARKER_ENV: str((tmp_path / ".jhubctl" / "local").absolute())})
    yield proc
    proc.kill()
    proc.wait()


def test_what_a_killed_hub_left_behind_is_listed_and_down_ends_it(tmp_path: Path, leftover) -> None:
    found = one(diagnose(tmp_path, {"target": "local"}), "JH111")
    assert found.status == "fail" and found.summary == "1 process left by a hub that no longer runs"
    assert found.evidence[0].startswith(f"proxy pid {leftover.pid}: ")
    assert found.fix == "`jhubctl down` stops them (the state dir records them)"


def test_cluster_and_azure_areas_skip_on_target_local_with_the_reason(tmp_path: Path) -> None:
    report = diagnose(tmp_path, {"target": "local"}, "cluster", "azure")
    assert report.findings and all(f.status == "skip" for f in report.findings)
    assert {f.summary for f in report.findings if f.area == "cluster"} == {"target local: there is no cluster"}
