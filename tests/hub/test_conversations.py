"""The seed's whole flow on a real hub: users, conversation servers, code, notebooks, isolation."""

from __future__ import annotations

import base64
import json
import threading

import httpx
import nbformat
import pytest

from jhubctl.interpreter import Interpreter

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from conftest import RunningHub

pytestmark = pytest.mark.hub

# A complete 1x1 PNG: display_data image outputs must come back as this very file.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def run(hub: RunningHub, user: str, conversation: str, code: str, timeout: float = 60):
    with hub.client() as client, Interpreter(client, user, conversation) as it:
        return it.execute(code, timeout=timeout)


def test_two_conversations_run_at_once_and_see_only_their_own_folder(running_hub: RunningHub) -> None:
    code = "import os; open('mine.txt', 'w').write({tag!r}); print(os.getcwd()); print(sorted(os.listdir('.')))"
    results = {}

    def go(conversation: str) -> None:
        results[conversation] = run(running_hub, "alice", conversation, code.format(tag=conversation))

    threads = [threading.Thread(target=go, args=(c,)) for c in ("iso-a", "iso-b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    with running_hub.client() as client:
        running = {s.name for s in client.servers("alice") if s.ready}
    assert {"iso-a", "iso-b"} <= running
    for conversation in ("iso-a", "iso-b"):
        result = results[conversation]
        assert result.status == "ok", result.error
        cwd, listing = result.stdout.splitlines()
        assert cwd == str(running_hub.folder("alice", conversation))
        assert "mine.txt" in listing and "iso-" not in listing  # no sibling folders visible from here
        assert (running_hub.folder("alice", conversation) / "mine.txt").read_text() == conversation


def test_file_written_in_a_conversation_survives_stop_and_start(running_hub: RunningHub) -> None:
    assert run(running_hub, "bob", "keep", "open('data.csv', 'w').write('a,b\\n1,2\\n')").status == "ok"
    with running_hub.client() as client:
        assert client.stop_server("bob", "keep") is True
        assert client.server("bob", "keep") is None or not client.server("bob", "keep").ready
    result = run(running_hub, "bob", "keep", "print(open('data.csv').read(), end='')")
    assert result.stdout == "a,b\n1,2\n"


def test_notebook_accumulates_cells_with_real_execution_counts(running_hub: RunningHub) -> None:
    with running_hub.client() as client, Interpreter(client, "carol", "nb-1") as it:
        first = it.execute("x = 20")
        second = it.execute("x + 1")
        third = it.execute("print(x * 2)")
    assert [first.execution_count, second.execution_count, third.execution_count] == [1, 2, 3]
    path = running_hub.folder("carol", "nb-1") / "nb-1.ipynb"
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert [c.source for c in nb.cells] == ["x = 20", "x + 1", "print(x * 2)"]
    assert [c.execution_count for c in nb.cells] == [1, 2, 3]
    assert nb.cells[1].outputs[0]["output_type"] == "execute_result"
    assert nb.cells[1].outputs[0]["data"]["text/plain"] == "21"
    assert nb.cells[1].outputs[0]["execution_count"] == 2
    assert nb.cells[2].outputs == [nbformat.v4.new_output("stream", name="stdout", text="40\n")]


def test_timeout_interrupts_and_the_kernel_stays_usable(running_hub: RunningHub) -> None:
    with running_hub.client() as client, Interpreter(client, "dave", "slow") as it:
        it.execute("counter = 1")
        timed_out = it.execute("import time\nwhile True: time.sleep(0.05)", timeout=1.5)
        after = it.execute("print(counter + 1)")
    assert timed_out.status == "timeout"
    assert timed_out.error and timed_out.error["ename"] == "KeyboardInterrupt"
    assert after.status == "ok" and after.stdout == "2\n"  # same kernel: the variable is still there
    assert after.execution_count == timed_out.execution_count + 1


def test_errors_and_rich_outputs_are_collected(running_hub: RunningHub, tmp_path) -> None:
    code = (
        "import sys, base64\n"
        "from IPython.display import display, Image, HTML\n"
        f"display(Image(data=base64.b64decode({base64.b64encode(PNG).decode()!r})))\n"
        "display(HTML('<b>hi</b>'))\n"
        "print('to stderr', file=sys.stderr)\n"
        "raise ValueError('bad value')\n"
    )
    result = run(running_hub, "erin", "rich", code)
    assert result.status == "error"
    assert result.error["ename"] == "ValueError" and result.error["evalue"] == "bad value"
    assert result.stderr == "to stderr\n"
    kinds = [o.get("output_type") for o in result.outputs]
    assert kinds.count("display_data") == 2 and kinds[-1] == "error"
    assert any("text/html" in o.get("data", {}) for o in result.outputs)
    [image] = result.save_images(tmp_path)
    assert image.read_bytes() == PNG


def test_seed_body_on_the_default_server_mounts_that_conversation(running_hub: RunningHub) -> None:
    """Existing clients POST {"conversationId": ...} to the default server, exactly as the seed's script."""
    with running_hub.client() as client:
        client.ensure_user("seeduser")
        started = client.start_server("seeduser", "", {"conversationId": "Seed-Conv-7"}, timeout=60, idle_timeout=30)
        assert started.server.ready
        resp = httpx.get(f"{started.server.url}api/contents", headers={"Authorization": f"token {running_hub.token}"})
        assert resp.status_code == 200
        client.stop_server("seeduser", "")
    assert running_hub.folder("seeduser", "seed-conv-7").is_dir()


BAD_IDS = ["..", ".", "a/b", "../x", "x/..", "a\\b", "", "-a", "a-", "a b", "é", "\u212a", "а", "x" * 64]


@pytest.mark.parametrize("bad", BAD_IDS)
def test_hub_refuses_invalid_conversation_ids_and_creates_nothing(running_hub: RunningHub, bad: str) -> None:
    """Straight to the hub's REST API (no client-side check): the spawner itself must refuse."""
    before = running_hub.tree()
    with running_hub.client() as client:
        client.ensure_user("mallory")
        resp = client.request("POST", "/users/mallory/server", json={"conversationId": bad})
        if resp.status_code == 202:
            events = list(client.progress_events("mallory", "", idle_timeout=30, deadline=float("inf")))
            failed = [e for e in events if e.get("failed")]
            assert failed, events
            message = failed[-1]["message"]
        else:
            assert resp.status_code >= 400
            message = resp.json()["message"]
    assert "conversation" in message.lower()
    assert running_hub.tree() == before


def test_hub_refuses_a_named_server_whose_body_names_another_conversation(running_hub: RunningHub) -> None:
    before = running_hub.tree()
    with running_hub.client() as client:
        client.ensure_user("mallory")
        resp = client.request("POST", "/users/mallory/servers/conv-a", json={"conversation_id": "conv-b"})
        assert resp.status_code in (202, 500)
        if resp.status_code == 202:
            events = list(client.progress_events("mallory", "conv-a", idle_timeout=30, deadline=float("inf")))
            assert any(e.get("failed") for e in events)
    assert running_hub.tree() == before


@pytest.mark.parametrize("bad", ["..", "a/b", "", "\u212a", "x" * 64, "Ünïcode"])
def test_cli_refuses_invalid_ids_before_the_hub_sees_them(running_hub: RunningHub, cli, bad: str) -> None:
    before = running_hub.tree()
    env = ["--config", str(running_hub.loaded.path), "--state-dir", str(running_hub.loaded.state_dir)]
    code, out, err = cli(*env, "exec", "zed", bad, "--code", "1")
    assert code == 2
    assert "conversation" in err and "Traceback" not in err
    assert running_hub.tree() == before
    with running_hub.client() as client:
        assert client.get_user("zed") is None  # refused before any request


def test_cli_exec_exit_codes_and_json(running_hub: RunningHub, cli) -> None:
    env = ["--config", str(running_hub.loaded.path), "--state-dir", str(running_hub.loaded.state_dir)]
    code, out, _ = cli(*env, "exec", "frank", "cli-1", "--code", "print(6 * 7)", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["stdout"] == "42\n" and data["execution_count"] == 1 and data["notebook"] == "cli-1.ipynb"
    assert data["folder"] == "frank/conversations/cli-1"  # the notebook's place: folder/notebook under the data root
    assert (running_hub.hub.data_root / data["folder"] / data["notebook"]).is_file()
    assert data["error"] is None and data["status"] == "ok"
    code, out, err = cli(*env, "exec", "frank", "cli-1", "--code", "1/0")
    assert code == 3 and "ZeroDivisionError" in err
    code, out, err = cli(*env, "exec", "frank", "cli-1", "--code", "import time; time.sleep(30)", "--timeout", "1")
    assert code == 4 and "interrupted" in err
    code, out, _ = cli(*env, "start-server", "frank", "cli-1", "--json")
    started = json.loads(out)
    assert code == 0 and started["already_running"] is True and started["url"].endswith("/user/frank/cli-1/")
    code, out, _ = cli(*env, "servers", "frank", "--json")
    assert [s["name"] for s in json.loads(out)] == ["cli-1"]
    code, out, _ = cli(*env, "stop-server", "frank", "cli-1", "--remove", "--json")
    assert code == 0 and json.loads(out) == {"user": "frank", "conversation": "cli-1", "stopped": True, "removed": True}
    code, out, _ = cli(*env, "servers", "frank", "--json")
    assert json.loads(out) == []
    assert (running_hub.folder("frank", "cli-1") / "cli-1.ipynb").is_file()  # removal keeps the data


def test_up_again_is_a_no_op_that_reports_the_running_hub(running_hub: RunningHub, cli) -> None:
    env = ["--config", str(running_hub.loaded.path), "--state-dir", str(running_hub.loaded.state_dir)]
    code, out, err = cli(*env, "up", "--no-smoke-test", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["started"] is False and data["pid"] == running_hub.hub.pid and data["url"] == running_hub.hub.url
    assert "already running" in err
    code, out, _ = cli(*env, "status", "--json")
    status = json.loads(out)
    assert status["hub"]["health"] == "running (JupyterHub 4.0.2)"
    assert status["steps"]["local-hub"]["status"] == "succeeded"
    assert running_hub.token not in json.dumps(status)


def test_service_token_has_only_the_scopes_it_needs(running_hub: RunningHub) -> None:
    with running_hub.client() as client:
        whoami = client.request("GET", "/user").json()
    assert whoami["kind"] == "service"
    assert "admin:servers" not in whoami["scopes"]
    assert {"admin:users", "servers", "access:servers", "tokens"} <= set(whoami["scopes"])


def test_a_notebook_that_cannot_be_saved_is_reported_not_lost_silently(running_hub: RunningHub) -> None:
    from jhubctl.hubapi.client import HubError

    with running_hub.client() as client:
        it = Interpreter(client, "gina", "blocked")
        it.start()
        (running_hub.folder("gina", "blocked") / "blocked.ipynb").mkdir()  # the save target is a folder
        result = it.execute("print('ran')")
        assert result.status == "ok" and result.stdout == "ran\n"  # the code ran; only the save fails
        with pytest.raises(HubError, match="blocked.ipynb"):
            it.close()


def test_the_token_is_in_no_process_argv_and_no_log(running_hub: RunningHub) -> None:
    """Secrets reach the hub through its environment only: argv is world-readable in /proc."""
    from pathlib import Path

    run(running_hub, "hal", "argv", "print(1)")
    token = running_hub.token.encode()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            assert token not in cmdline, f"the API token is in the argv of pid {proc.name}"
    assert token not in running_hub.hub.log.read_bytes()
    assert token not in running_hub.hub.config_file.read_bytes()
    assert token not in (running_hub.loaded.state_dir / "state.json").read_bytes()
