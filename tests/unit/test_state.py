"""The journal, the state lock and the secrets file: private, crash-safe, and exclusive between processes."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jhubctl.errors import ExitCode, JhubctlError, LockedError
from jhubctl.state import Journal, Record, Secrets, StateLock
from tests.conftest import lock_held_elsewhere


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """Files must be private because jhubctl makes them so, not because the test runner's umask is strict."""
    old = os.umask(0o002)
    try:
        yield
    finally:
        os.umask(old)


# --- permissions ----------------------------------------------------------------------------------


def test_state_and_secrets_are_private(tmp_path: Path, permissive_umask: None) -> None:
    state_dir = tmp_path / "fresh" / ".jhubctl"
    Journal(state_dir).record("provision", Record("succeeded", outputs={"rg": "jhub-rg"}))
    Secrets(state_dir, environ={}).api_token()

    assert mode(state_dir) == 0o700
    assert mode(state_dir / "state.json") == 0o600
    assert mode(state_dir / "secrets.json") == 0o600


def test_rewritten_state_stays_private(tmp_path: Path, permissive_umask: None) -> None:
    journal = Journal(tmp_path / "s")
    for i in range(3):
        journal.record(f"step{i}", Record("succeeded"))
    assert mode(journal.path) == 0o600


def test_lock_file_is_private(tmp_path: Path, permissive_umask: None) -> None:
    with StateLock(tmp_path / "s", "up"):
        assert mode(tmp_path / "s" / "lock") == 0o600
        assert mode(tmp_path / "s") == 0o700


# --- journal --------------------------------------------------------------------------------------


def test_step_records_running_then_succeeded_with_outputs(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "s")
    with journal.step("deploy-hub", config_hash="abc123") as outputs:
        during = Journal(tmp_path / "s").get("deploy-hub")  # as another process would read it
        assert during is not None
        assert during.status == "running"
        assert during.config_hash == "abc123"
        assert during.started_at and during.finished_at is None
        outputs["url"] = "http://hub.example"

    done = Journal(tmp_path / "s").get("deploy-hub")
    assert done is not None
    assert done.status == "succeeded"
    assert done.outputs == {"url": "http://hub.example"}
    assert done.config_hash == "abc123"
    assert done.started_at == during.started_at
    assert done.finished_at is not None and done.error is None

    raw = json.loads((tmp_path / "s" / "state.json").read_text())
    assert raw["steps"]["deploy-hub"]["status"] == "succeeded"


def test_step_records_failure_and_reraises(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "s")
    with pytest.raises(RuntimeError, match="quota exceeded"):
        with journal.step("provision", config_hash="h1") as outputs:
            outputs["resource_group"] = "jhub-rg"
            raise RuntimeError("quota exceeded in eastus")

    step = journal.get("provision")
    assert step is not None
    assert step.status == "failed"
    assert step.error == "quota exceeded in eastus"
    assert step.outputs == {"resource_group": "jhub-rg"}  # what was learned before the failure is kept
    assert step.config_hash == "h1"
    assert step.finished_at is not None


def test_step_failure_uses_the_user_facing_message(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "s")
    with pytest.raises(JhubctlError):
        with journal.step("provision"):
            raise JhubctlError("the subscription is disabled", hint="enable it")
    assert journal.get("provision").error == "the subscription is disabled"


def test_steps_are_kept_side_by_side_and_forgettable(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "s")
    journal.record("a", Record("succeeded", outputs={"x": 1}))
    journal.record("b", Record("failed", error="nope"))
    assert set(journal.steps()) == {"a", "b"}
    journal.forget("a")
    assert set(Journal(tmp_path / "s").steps()) == {"b"}


def test_corrupt_state_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "state.json").write_text('{"steps": {"a": ')
    with pytest.raises(JhubctlError) as info:
        Journal(tmp_path / "s").steps()
    assert "state.json" in info.value.message
    assert info.value.hint


# --- lock -----------------------------------------------------------------------------------------

@pytest.fixture
def lock_holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock on `tmp_path/.jhubctl` (the state dir of the default config)."""
    with lock_held_elsewhere(tmp_path / ".jhubctl") as proc:
        yield proc


def test_second_lock_names_the_holder(tmp_path: Path, lock_holder: subprocess.Popen[str]) -> None:
    with pytest.raises(LockedError) as info:
        with StateLock(tmp_path / ".jhubctl", "down"):
            pytest.fail("took a lock another process holds")
    assert f"pid {lock_holder.pid}" in info.value.message
    assert "up" in info.value.message  # and what it is doing
    assert info.value.exit_code == ExitCode.LOCKED


def test_up_exits_5_while_another_process_holds_the_lock(
    cli, tmp_path: Path, lock_holder: subprocess.Popen[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from jhubctl.local.process import HubProcess

    monkeypatch.setattr(HubProcess, "start", lambda self: pytest.fail("`up` started a hub without holding the lock"))
    code, out, err = cli("up", "--no-smoke-test")
    assert code == ExitCode.LOCKED
    assert f"pid {lock_holder.pid}" in err
    assert "Traceback" not in err
    assert out == ""


def test_lock_is_released_when_the_holder_is_killed(tmp_path: Path, lock_holder: subprocess.Popen[str]) -> None:
    with pytest.raises(LockedError):
        with StateLock(tmp_path / ".jhubctl", "up"):
            pass
    lock_holder.send_signal(signal.SIGKILL)
    lock_holder.wait(timeout=10)

    with StateLock(tmp_path / ".jhubctl", "up"):
        holder = (tmp_path / ".jhubctl" / "lock").read_text()
        assert f"pid {os.getpid()}" in holder


def test_the_lock_is_reentrant_in_one_process_and_released_by_the_outermost(tmp_path: Path) -> None:
    """`up` holds it while provision's workflow takes it again; another process still waits for both."""
    with StateLock(tmp_path / "s", "up"):
        with StateLock(tmp_path / "s", "provision"):
            assert StateLock.held(tmp_path / "s")
        assert StateLock.held(tmp_path / "s")
        assert "jhubctl up" in (tmp_path / "s" / "lock").read_text()  # the outer holder's line stays
    assert not StateLock.held(tmp_path / "s")


def test_lock_is_released_on_exit_in_process(tmp_path: Path) -> None:
    with StateLock(tmp_path / "s", "up"):
        assert StateLock.held(tmp_path / "s")
    assert not StateLock.held(tmp_path / "s")
    assert (tmp_path / "s" / "lock").read_text() == ""  # no stale holder line left behind
    with StateLock(tmp_path / "s", "down"):  # a later command gets it at once
        assert StateLock.held(tmp_path / "s")


# --- crash safety ---------------------------------------------------------------------------------

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from jhubctl.state import Journal, Record

    journal = Journal(Path(sys.argv[1]))
    blob = "x" * 300_000
    print("writing", flush=True)
    i = 0
    while True:
        i += 1
        journal.record(f"step-{i % 4}", Record("succeeded", outputs={"i": i, "blob": blob}))
    """
)


def test_sigkill_during_writes_never_corrupts_state(tmp_path: Path) -> None:
    state_dir = tmp_path / "s"
    rng = random.Random(1234)
    budget = time.monotonic() + 12
    kills = 0
    seen_steps = 0
    for _ in range(30):
        if time.monotonic() > budget:
            break
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(state_dir)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "writing"
            time.sleep(rng.uniform(0, 0.05))
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            proc.stdout.close()
        kills += 1
        assert proc.returncode == -signal.SIGKILL, "the writer died on its own; see its stderr"

        # the journal reads after every kill, whatever the writer was doing
        if (state_dir / "state.json").exists():
            json.loads((state_dir / "state.json").read_text())
            steps = Journal(state_dir).steps()
            for step in steps.values():
                assert step.status == "succeeded" and len(step.outputs["blob"]) == 300_000
            seen_steps = max(seen_steps, len(steps))

    assert kills >= 10
    assert seen_steps > 0, "no write ever completed: the test did not exercise anything"
    # leftover temp files from killed writers do not disturb the next read or write
    journal = Journal(state_dir)
    journal.record("after", Record("succeeded", outputs={"ok": True}))
    assert journal.get("after").outputs == {"ok": True}
    assert json.loads((state_dir / "state.json").read_text())["steps"]["after"]["status"] == "succeeded"


# --- secrets --------------------------------------------------------------------------------------


def test_token_is_generated_once_and_stable(tmp_path: Path) -> None:
    first = Secrets(tmp_path / "s", environ={}).api_token()
    assert first is not None and len(first) == 64
    int(first, 16)  # hex
    assert first == first.lower()
    assert Secrets(tmp_path / "s", environ={}).api_token() == first
    assert Secrets(tmp_path / "s", environ={}).api_token(create=False) == first
    assert json.loads((tmp_path / "s" / "secrets.json").read_text())["api_token"] == first


def test_no_token_is_made_without_create(tmp_path: Path) -> None:
    assert Secrets(tmp_path / "s", environ={}).api_token(create=False) is None
    assert not (tmp_path / "s" / "secrets.json").exists()


def test_tokens_differ_between_state_dirs(tmp_path: Path) -> None:
    assert Secrets(tmp_path / "a", environ={}).api_token() != Secrets(tmp_path / "b", environ={}).api_token()


def test_env_token_wins_and_is_never_written(tmp_path: Path) -> None:
    env_token = "ci-injected-token-0123456789"
    stored = Secrets(tmp_path / "s", environ={}).api_token()

    secrets = Secrets(tmp_path / "s", environ={"JHUBCTL_API_TOKEN": env_token})
    assert secrets.api_token() == env_token
    assert secrets.api_token_source() == "environment variable JHUBCTL_API_TOKEN"
    assert env_token not in (tmp_path / "s" / "secrets.json").read_text()
    assert Secrets(tmp_path / "s", environ={}).api_token() == stored


def test_env_token_creates_no_secrets_file(tmp_path: Path) -> None:
    Secrets(tmp_path / "s", environ={"JHUBCTL_API_TOKEN": "from-env"}).api_token()
    assert not (tmp_path / "s" / "secrets.json").exists()


def test_token_source_is_the_file_otherwise(tmp_path: Path) -> None:
    assert Secrets(tmp_path / "s", environ={}).api_token_source() == str(tmp_path / "s" / "secrets.json")


def test_status_reports_a_running_step_without_a_lock_holder_as_interrupted(tmp_path: Path, cli) -> None:
    from jhubctl.state import Record

    state = tmp_path / ".jhubctl"
    Journal(state).record("aks", Record("running", "2026-01-01T00:00:00+00:00"))
    code, out, _ = cli("--state-dir", str(state), "status", "--json")
    assert code == 0 and json.loads(out)["steps"]["aks"]["status"] == "interrupted"
    with StateLock(state, "provision"):
        assert StateLock.held(state)
        code, out, _ = cli("--state-dir", str(state), "status", "--json")
        assert json.loads(out)["steps"]["aks"]["status"] == "running"
    assert not StateLock.held(state)
