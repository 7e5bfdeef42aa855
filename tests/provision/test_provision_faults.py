"""Trouble during provision: throttling and 500s, lost answers, operations that end Failed, a killed process.

Whatever happens, a run succeeds or fails cleanly (exit 1, `error:` lines, no traceback, the resume command);
a re-run (with the trouble gone) converges to the very end state of a clean run: nothing missing, nothing
duplicated (role assignments counted per principal/role/scope), nothing left over.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

from jhubctl.azure.provision import STEPS as PROVISION_STEPS

from tests.provision.conftest import (
    AzureEnv,
    assert_converged,
    json_steps,
    role_assignment_counts,
    snapshot,
)

MESSAGES = {
    "aks": ("QuotaExceeded", "Operation could not be completed as it results in exceeding approved standardDSv3Family "
            "Cores quota. Additional details - Deployment Model: Resource Manager, Location: eastus, Current Limit: 4."),
    "storage": ("StorageAccountLimitReached", "The subscription has reached its limit of 250 storage accounts in "
                "region eastus."),
}


def reference(make_env) -> dict[str, Any]:
    """The end state of a clean run (same subscription, same SSH key)."""
    env: AzureEnv = make_env("reference")
    env.provision_ok()
    return snapshot(env.fake)


def assert_clean_failure(code: int, stderr: str) -> None:
    assert code == 1, stderr
    assert "Traceback" not in stderr, stderr
    assert "unexpected" not in stderr, stderr  # jhubctl's own "a bug" path
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert errors, stderr


def assert_csi_converged(env: AzureEnv) -> None:
    driver = env.kube.get_object("csidrivers", "blob.csi.azure.com")
    assert driver is not None and driver["spec"]["fsGroupPolicy"] == "File"


def assert_all_succeeded(env: AzureEnv) -> None:
    journal = env.journal()
    assert sorted(journal) == sorted(PROVISION_STEPS)
    assert {name: s["status"] for name, s in journal.items()} == {name: "succeeded" for name in PROVISION_STEPS}


# -- transient 429/500 -----------------------------------------------------------------------------------------

#: (rate, statuses, seed). 500s cost the SDK's backoff (0, 1.6, 3.2 s), so they stay at a low rate; a high
#: rate of 429s (Retry-After honoured, fast) makes steps run out of retries at varied places.
TRANSIENT = [(0.2, (429, 500), 1), (0.2, (429, 500), 3), (0.45, (429,), 2), (0.45, (429,), 3), (0.45, (429,), 9)]


@pytest.mark.parametrize(("rate", "statuses", "seed"), TRANSIENT, ids=[f"{r}-{'/'.join(map(str, s))}-seed{n}"
                                                                       for r, s, n in TRANSIENT])
def test_transient_faults_then_rerun_converges(make_env, rate: float, statuses: tuple[int, ...], seed: int) -> None:
    ref = reference(make_env)
    env: AzureEnv = make_env("faulty")
    env.fake.faults.set_rate(rate, statuses=statuses, seed=seed)

    code, _, err = env.provision()

    assert env.fake.faults.count() > 0, "no fault was injected: the test proves nothing"
    if code != 0:
        assert_clean_failure(code, err)
        assert_journal_parses(env)  # absent when the very first read (the preflight) ran out of retries
    env.fake.faults.clear()
    env.provision_ok()
    assert_converged(env.fake, ref)
    assert_csi_converged(env)
    assert_all_succeeded(env)


def test_lost_answer_to_a_role_assignment_put_makes_no_duplicate(make_env) -> None:
    """The PUT took effect but its answer was a 500: the SDK retries the same deterministic name."""
    ref = reference(make_env)
    env: AzureEnv = make_env("lost")
    env.fake.faults.inject(500, "InternalServerError", "answer lost", method="PUT", path_contains="/roleAssignments/",
                           after=True)
    env.provision_ok()
    assert env.fake.faults.count(500) == 1
    assert_converged(env.fake, ref)


LOST_CREATES = {"aks": "/managedClusters/", "vnet": "/virtualNetworks/", "storage": "/storageAccounts/"}


@pytest.mark.parametrize("target", list(LOST_CREATES))
def test_lost_answer_to_a_create_fails_cleanly_and_a_rerun_converges(make_env, target: str) -> None:
    """A create whose answer was lost: the SDK's retry meets Azure's 'operation in progress' 409.
    Acceptable outcomes: success, or a clean failure that the next run repairs without a duplicate."""
    ref = reference(make_env)
    env: AzureEnv = make_env("lost")
    env.fake.faults.inject(500, "InternalServerError", "answer lost", method="PUT", path_contains=LOST_CREATES[target],
                           after=True)
    code, _, err = env.provision()
    assert env.fake.faults.count(500) == 1, "the answer was never lost: the test proves nothing"
    if code != 0:
        assert_clean_failure(code, err)
    env.provision_ok()
    assert_converged(env.fake, ref)


# -- long-running operations that end Failed ----------------------------------------------------------------------


def failing_env(make_env, target: str) -> tuple[AzureEnv, str, str]:
    """The target's LRO ends Failed at once, while its sibling (same dependencies) still runs for 0.5 s."""
    sibling_latency = {"aks": {"Microsoft.Storage/storageAccounts": 0.5},
                       "storage": {"Microsoft.ContainerService/managedClusters": 0.5}}[target]
    env: AzureEnv = make_env("failing", latency=sibling_latency)
    ids = env.ids
    code, message = MESSAGES[target]
    env.fake.faults.fail_lro(ids.cluster if target == "aks" else ids.storage, code=code, message=message)
    return env, code, message


@pytest.mark.parametrize("target", ["aks", "storage"])
def test_failed_operation_is_reported_with_its_azure_code_and_siblings_finish(make_env, target: str) -> None:
    env, azure_code, azure_message = failing_env(make_env, target)
    sibling = {"aks": "storage", "storage": "aks"}[target]

    code, out, err = env.provision("--json")

    assert_clean_failure(code, err)
    assert f"{target}: " in err
    assert azure_code in err and azure_message in err, f"the error does not name the Azure error:\n{err}"
    assert "resume with: jhubctl" in err and "provision" in err.split("resume with:")[1]
    journal = env.journal()
    assert journal[target]["status"] == "failed"
    assert azure_code in journal[target]["error"] and azure_message in journal[target]["error"]
    # The sibling was mid-operation when the failure came, and was allowed to finish.
    records = env.fake.requests.snapshot()
    failed_at = next(r.seq for r in records if isinstance(getattr(r.response, "body", None), dict)
                     and r.response.body.get("status") == "Failed")
    sibling_id = (env.ids.storage if sibling == "storage" else env.ids.cluster).lower()
    sibling_put = next(r.seq for r in records if r.method == "PUT" and r.path.lower() == sibling_id)
    assert sibling_put < failed_at
    assert journal[sibling]["status"] == "succeeded"
    assert env.fake.resources.get(sibling_id)["properties"]["provisioningState"] == "Succeeded"
    steps = json_steps(out)
    dependents = {"aks": ["role-assignments", "kubeconfig", "csi-driver"], "storage": []}[target]
    for name in dependents:
        assert steps[name]["status"] == "skipped", steps[name]
        assert journal.get(name, {}).get("status") != "succeeded"
    for name in set(PROVISION_STEPS) - {target, *dependents}:
        assert steps[name]["status"] == "succeeded", (name, steps[name])


@pytest.mark.parametrize("target", ["aks", "storage"])
def test_rerun_after_a_failed_operation_succeeds(make_env, target: str) -> None:
    """The operator fixed the cause (quota, limit) and runs the resume command: it must finish the job.

    A cluster whose create ended Failed still exists in state Failed; a re-run must PUT it again (as
    `az aks create` would), not call it unchanged.
    """
    env, _, _ = failing_env(make_env, target)
    code, _, err = env.provision()
    assert code == 1, err

    env.provision_ok()

    assert_all_succeeded(env)
    for rid in env.fake.resources.ids():
        state = (env.fake.resources.get(rid) or {}).get("properties", {}).get("provisioningState")
        assert state in (None, "Succeeded"), f"{rid}: {state}"
    assert all(n == 1 for n in role_assignment_counts(env.fake).values())


# -- the process killed ------------------------------------------------------------------------------------------

LATENCY = {
    "Microsoft.Network/networkSecurityGroups": 0.2,
    "Microsoft.Network/virtualNetworks": 0.3,
    "Microsoft.ContainerRegistry/registries": 0.3,
    "Microsoft.Storage/storageAccounts": 0.3,
    "Microsoft.ContainerService/managedClusters": 0.8,
}
#: The console script users run (next to this interpreter in the venv), else the same entry point via -c.
_SCRIPT = os.path.join(os.path.dirname(sys.executable), "jhubctl")
CLI = [_SCRIPT] if os.access(_SCRIPT, os.X_OK) else [
    sys.executable, "-c", "import sys; from jhubctl.cli import main; sys.exit(main())"]


def start_provision_process(env: AzureEnv) -> subprocess.Popen[bytes]:
    child_env = dict(os.environ, JHUBCTL_ARM_ENDPOINT=env.fake.url)
    log = open(env.root / "killed-run.log", "wb")  # noqa: SIM115 - closed with the process below
    proc = subprocess.Popen([*CLI, "provision", "--yes"], cwd=env.root, env=child_env, stdout=log,
                            stderr=subprocess.STDOUT)
    log.close()
    return proc


def kill_on_request(env: AzureEnv, proc: subprocess.Popen[bytes], when: Any) -> threading.Event:
    """SIGKILL `proc` from inside the fake, as the request for which `when(rec)` is true arrives
    (before the fake handles it, which it then still does: the write lands, nobody reads the answer)."""
    killed = threading.Event()

    def hook(rec: Any) -> None:
        if not killed.is_set() and when(rec):
            os.kill(proc.pid, signal.SIGKILL)
            killed.set()
        return None

    env.fake.faults.hook = hook
    return killed


def assert_journal_parses(env: AzureEnv) -> None:
    if env.state_file.exists():
        doc = json.loads(env.state_file.read_text())
        for name, step in doc["steps"].items():
            assert name in PROVISION_STEPS and step["status"] in ("running", "succeeded", "failed"), (name, step)


@pytest.mark.parametrize("seed", [101, 202, 303])
def test_killed_at_a_random_request_resumes_to_the_same_end_state(make_env, seed: int) -> None:
    ref_env: AzureEnv = make_env("reference")
    ref_env.provision_ok()
    ref = snapshot(ref_env.fake)
    kill_at = random.Random(seed).randint(3, len(ref_env.fake.requests) - 8)
    env: AzureEnv = make_env("killed", latency=LATENCY)
    proc = start_provision_process(env)
    killed = kill_on_request(env, proc, lambda rec: rec.seq >= kill_at)

    returncode = proc.wait(timeout=60)

    env.fake.faults.hook = None
    assert killed.is_set() and returncode == -signal.SIGKILL, (returncode, (env.root / "killed-run.log").read_text())
    assert_journal_parses(env)
    time.sleep(max(LATENCY.values()) + 0.1)  # operations the dead process started are due by now
    env.provision_ok()
    assert_converged(env.fake, ref)
    assert_csi_converged(env)
    assert_all_succeeded(env)
    seen = len(env.fake.requests)
    env.provision_ok()
    assert env.writes(seen) == []


def test_killed_during_the_cluster_create_resumes_at_once(make_env) -> None:
    """Ctrl-C (or a lost SSH session) while AKS is being created, then the resume command right away: the
    cluster is still Creating. The re-run must wait for it (as `az aks wait` would), not fail."""
    ref_env: AzureEnv = make_env("reference")
    ref_env.provision_ok()
    ref = snapshot(ref_env.fake)
    env: AzureEnv = make_env("killed", latency={**LATENCY, "Microsoft.ContainerService/managedClusters": 2.0})
    proc = start_provision_process(env)
    cluster = env.ids.cluster.lower()
    killed = kill_on_request(env, proc, lambda rec: rec.method == "GET" and "/microsoft.containerservice/" in
                             rec.path.lower() and "/operations/" in rec.path.lower())
    assert proc.wait(timeout=60) == -signal.SIGKILL and killed.is_set()
    env.fake.faults.hook = None
    assert env.fake.resources.get(cluster)["properties"]["provisioningState"] == "Creating"
    assert env.journal()["aks"]["status"] == "running"

    env.provision_ok()

    assert_converged(env.fake, ref)
    assert_all_succeeded(env)
