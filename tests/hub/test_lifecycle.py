"""`up` / `down` / `status` on a hub of its own: down must leave no process behind and keep the data."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.hub


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")  # a zombie is gone for our purpose


def wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_up_smoke_down_then_up_again_keeps_the_data(cli, tmp_path: Path) -> None:
    code, out, err = cli("up", "--json")
    assert code == 0, err
    up = json.loads(out)
    assert up["started"] is True
    notebook = Path(up["notebook"])
    assert notebook == tmp_path / ".jhubctl/local/data/demo/conversations/demo-1/demo-1.ipynb"
    assert notebook.is_file()
    assert "hello from" in err  # the smoke test's output is reported
    assert up["token_source"].endswith("secrets.json") and "token" not in (tmp_path / ".jhubctl/state.json").read_text()

    code, out, _ = cli("exec", "demo", "demo-1", "--code", "import os; print(os.getpid(), os.getppid())", "--json")
    kernel_pid, server_pid = map(int, json.loads(out)["stdout"].split())
    hub_pid = up["pid"]
    assert alive(kernel_pid) and alive(server_pid) and alive(hub_pid)

    code, out, err = cli("down", "--json")
    assert code == 0, err
    assert json.loads(out)["stopped"] is True
    for pid in (hub_pid, server_pid, kernel_pid):
        assert wait_gone(pid), f"pid {pid} survived `down`"

    code, out, _ = cli("status", "--json")
    assert json.loads(out)["hub"]["health"] == "not running"
    assert json.loads(out)["steps"]["local-hub"]["status"] == "stopped"
    assert "pid" not in json.loads(out)["steps"]["local-hub"]["outputs"]
    code, _, err = cli("down")
    assert code == 0 and "nothing to stop" in err

    code, out, err = cli("up", "--no-smoke-test", "--json")
    assert code == 0 and json.loads(out)["started"] is True
    try:
        code, out, _ = cli("exec", "demo", "demo-1", "--code", "print(len(open('demo-1.ipynb').read()) > 0)", "--json")
        assert json.loads(out)["stdout"] == "True\n"
    finally:
        assert cli("down").code == 0
