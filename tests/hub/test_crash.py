"""Breaking the local target on purpose, as operators will: a killed hub, a dying kernel, Ctrl-C, a flood.

Checked by pid: after `down` no live process may name the state dir on its command line or carry its
marker. A dead kernel, an interrupted cell and dropped output each end `exec` with their own status and
exit code, and each cell is in the notebook.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import nbformat
import pytest

from jhubctl.local.hubconfig import MARKER_ENV

if TYPE_CHECKING:
    from conftest import RunningHub

pytestmark = pytest.mark.hub

JHUBCTL = str(Path(sys.executable).parent / "jhubctl")


def processes_of(state_dir: Path) -> dict[int, str]:
    """pid -> command line of every live process that names `state_dir` or carries its marker."""
    found = {}
    marker = f"{MARKER_ENV}={state_dir / 'local'}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                continue
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if str(state_dir).encode() in cmdline or marker in environ.split(b"\0"):
            found[int(proc.name)] = cmdline.replace(b"\0", b" ").decode(errors="replace")
    return found


def wait_gone(pid: int, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                return
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} still runs")


def last_cell(path: Path) -> nbformat.NotebookNode:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    return nb.cells[-1]


# --- a hub killed with SIGKILL ---------------------------------------------------------------------


def test_a_sigkilled_hub_is_reported_by_status_and_down_leaves_no_process(cli, tmp_path: Path, fast_config: Path) -> None:
    state = tmp_path / ".jhubctl"
    code, out, err = cli("up", "--no-smoke-test", "--json")
    assert code == 0, err
    hub_pid = json.loads(out)["pid"]
    assert json.loads(out)["notebook"] is None  # the key is there, as with the smoke test
    code, out, err = cli("exec", "demo", "crash-1", "--code", "import os; print(os.getpid())", "--json")
    assert code == 0, err
    kernel_pid = int(json.loads(out)["stdout"])
    running = processes_of(state)
    assert {hub_pid, kernel_pid} <= set(running)
    assert len(running) >= 5, running  # hub, proxy, culler, server, kernel

    os.kill(hub_pid, signal.SIGKILL)
    wait_gone(hub_pid)
    orphans = set(processes_of(state))
    assert kernel_pid in orphans and len(orphans) >= 4  # what the dead hub left running

    code, out, _ = cli("status", "--json")
    hub = json.loads(out)["hub"]
    assert code == 0 and hub["health"].startswith("not running")
    assert {p["pid"] for p in hub["leftovers"]} == orphans
    assert {"proxy", "culler", "server", "kernel"} <= {p["role"] for p in hub["leftovers"]}
    code, out, _ = cli("status")
    assert "left by a dead hub" in out and f"leftover kernel pid {kernel_pid}" in out

    code, out, err = cli("down", "--json")
    assert code == 0, err
    assert {p["pid"] for p in json.loads(out)["ended"]} == orphans
    assert processes_of(state) == {}

    code, _, err = cli("down")
    assert code == 0 and "nothing to stop" in err
    code, out, _ = cli("status", "--json")
    assert json.loads(out)["hub"] == {"health": "not running", "url": None, "version": None, "leftovers": []}


def test_down_of_a_healthy_hub_with_kernels_reports_nothing_left_behind(cli, tmp_path: Path, fast_config: Path) -> None:
    """A normal `down` must not call the kernels of servers the hub just stopped "left": they exit on
    their own once their server is gone, and only what outlives that is a leftover."""
    state = tmp_path / ".jhubctl"
    assert cli("up", "--no-smoke-test").code == 0
    for conversation in ("k-1", "k-2"):
        code, _, err = cli("exec", "demo", conversation, "--code", "pass")
        assert code == 0, err
    assert sum("ipykernel" in line for line in processes_of(state).values()) == 2
    code, out, err = cli("down", "--json")
    assert code == 0, err
    assert json.loads(out)["ended"] == [] and "left" not in err
    assert processes_of(state) == {}


def test_up_after_a_crash_ends_what_the_dead_hub_left_before_it_starts(cli, tmp_path: Path, fast_config: Path) -> None:
    state = tmp_path / ".jhubctl"
    code, out, err = cli("up", "--no-smoke-test", "--json")
    assert code == 0, err
    first = json.loads(out)["pid"]
    old = set(processes_of(state)) - {first}
    assert old  # proxy and culler at least
    os.kill(first, signal.SIGKILL)
    wait_gone(first)
    try:
        code, out, err = cli("up", "--json")
        assert code == 0, err
        up = json.loads(out)
        assert up["started"] is True and {p["pid"] for p in up["ended"]} == old
        assert "left by a local hub that had died" in err
        assert not old & set(processes_of(state))  # the old culler is gone for good
        assert Path(up["notebook"]).is_file()
    finally:
        assert cli("down").code == 0
    assert processes_of(state) == {}


# --- a kernel that dies ----------------------------------------------------------------------------


@pytest.mark.parametrize(("conversation", "code"), [
    ("exit-1", "import os; os._exit(1)"),
    ("segv", "import ctypes; ctypes.string_at(0)"),
])
def test_a_kernel_that_dies_is_reported_as_died_and_its_cell_recorded(running_hub: RunningHub, cli,
                                                                      conversation: str, code: str) -> None:
    """--timeout 10: a death noticed only by the timeout would be status 'timeout' and exit 4."""
    env = ["--config", str(running_hub.loaded.path), "--state-dir", str(running_hub.loaded.state_dir)]
    assert cli(*env, "exec", "kd", conversation, "--code", "x = 41").code == 0
    exit_code, out, err = cli(*env, "exec", "kd", conversation, "--code", code, "--timeout", "10", "--json")
    assert exit_code == 7, err
    result = json.loads(out)
    assert result["status"] == "died" and result["error"]["ename"] == "KernelDied"
    assert "variables are lost" in err
    cell = last_cell(running_hub.folder("kd", conversation) / f"{conversation}.ipynb")
    assert cell.source == code and cell.metadata["jhubctl"] == {"status": "died"}
    assert cell.outputs[-1]["ename"] == "KernelDied"

    exit_code, _, err = cli(*env, "exec", "kd", conversation, "--code", "x + 1")
    assert exit_code == 3 and "NameError" in err  # a new kernel: x is gone, as the user was told
    assert cli(*env, "exec", "kd", conversation, "--code", "print(6 * 7)").stdout == "42\n"


# --- Ctrl-C ----------------------------------------------------------------------------------------


def kernel_state(running_hub: RunningHub, user: str, conversation: str) -> str | None:
    url = f"{running_hub.hub.url}/user/{user}/{conversation}/api/kernels"
    kernels = httpx.get(url, headers={"Authorization": f"token {running_hub.token}"}).json()
    return kernels[0]["execution_state"] if kernels else None


def wait_for_state(running_hub: RunningHub, conversation: str, state: str, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if kernel_state(running_hub, "ctrlc", conversation) == state:
            return True
        time.sleep(0.05)
    return False


def test_sigint_to_exec_interrupts_the_kernel_and_records_the_cell(running_hub: RunningHub, cli) -> None:
    env = ["--config", str(running_hub.loaded.path), "--state-dir", str(running_hub.loaded.state_dir)]
    assert cli(*env, "exec", "ctrlc", "c1", "--code", "counter = 1").code == 0
    code = "import time\nprint('started', flush=True)\ntime.sleep(60)"
    proc = subprocess.Popen([JHUBCTL, *env, "exec", "ctrlc", "c1", "--code", code], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for_state(running_hub, "c1", "busy", 30), "the code never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert wait_for_state(running_hub, "c1", "idle", 5), "the kernel still runs the interrupted code"
    assert out == "started\n" and "KeyboardInterrupt" in err and "interrupted" in err
    cell = last_cell(running_hub.folder("ctrlc", "c1") / "c1.ipynb")
    assert cell.source == code and cell.metadata["jhubctl"] == {"status": "interrupted"}
    assert cell.outputs[-1]["ename"] == "KeyboardInterrupt"
    assert cli(*env, "exec", "ctrlc", "c1", "--code", "print(counter + 1)").stdout == "2\n"  # same kernel


# --- output past the rate limit, and the per-cell cap -----------------------------------------------


FLOOD = "print('x' * 5_000_000)"


def test_output_dropped_by_the_rate_limit_is_a_warning_and_exit_8(running_hub: RunningHub, cli) -> None:
    env = ["--config", str(running_hub.loaded.path), "--state-dir", str(running_hub.loaded.state_dir)]
    code, out, err = cli(*env, "exec", "flood", "c1", "--code", FLOOD)
    assert code == 8, err
    assert "IOPub data rate exceeded" in err and "servers.iopub_data_rate_limit" in err
    cell = last_cell(running_hub.folder("flood", "c1") / "c1.ipynb")
    assert cell.metadata["jhubctl"] == {"status": "output_dropped"}


def test_the_rate_limit_is_configurable_and_a_cell_keeps_at_most_its_cap(hub_factory, cli) -> None:
    hub = hub_factory("servers:\n  iopub_data_rate_limit: 0\n  cell_output_limit: 100000\n")
    env = ["--config", str(hub.loaded.path), "--state-dir", str(hub.loaded.state_dir)]
    code, out, err = cli(*env, "exec", "flood", "c1", "--code", FLOOD)
    assert code == 0, err
    assert out == "x" * 5_000_000 + "\n"  # nothing dropped: the caller gets it all
    notebook = hub.folder("flood", "c1") / "c1.ipynb"
    cell = last_cell(notebook)
    text = "".join(o.get("text", "") for o in cell.outputs)
    assert 90_000 < text.count("x") <= 100_000 and "output cut here" in text
    assert notebook.stat().st_size < 150_000


# --- saved images, file modes, the proxy, the hot path -----------------------------------------------


IMAGE = ("import base64\nfrom IPython.display import Image, display\n"
         "display(Image(data=base64.b64decode('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
         "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==')))")


def test_images_saved_before_a_server_restart_are_not_overwritten(running_hub: RunningHub, cli,
                                                                  tmp_path: Path) -> None:
    env = ["--config", str(running_hub.loaded.path), "--state-dir", str(running_hub.loaded.state_dir)]
    first = json.loads(cli(*env, "exec", "img", "c1", "--code", IMAGE, "--output-dir", str(tmp_path), "--json").stdout)
    assert cli(*env, "stop-server", "img", "c1").code == 0
    second = json.loads(cli(*env, "exec", "img", "c1", "--code", IMAGE, "--output-dir", str(tmp_path), "--json").stdout)
    assert first["execution_count"] == second["execution_count"] == 1  # the count started again
    assert len(first["files"]) == len(second["files"]) == 1 and first["files"] != second["files"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(f).name for f in first["files"] + second["files"])


def test_every_file_under_the_state_dir_is_owner_only(running_hub: RunningHub, cli) -> None:
    env = ["--config", str(running_hub.loaded.path), "--state-dir", str(running_hub.loaded.state_dir)]
    assert cli(*env, "exec", "modes", "c1", "--code", IMAGE + "\nopen('data.csv', 'w').write('a\\n')").code == 0
    assert cli(*env, "token").code == 0
    state = running_hub.loaded.state_dir
    homes = running_hub.hub.data_root / ".homes"
    loose = {str(p): oct(p.stat().st_mode & 0o777) for p in state.rglob("*")
             if not p.is_symlink() and p.stat().st_mode & 0o077 and homes not in p.parents}
    assert loose == {}
    # Tools in a user's HOME copy files with their own modes (IPython's startup README is 0644): the
    # HOME itself is owner-only, so nothing in it is readable by others either.
    assert {oct(home.stat().st_mode & 0o777) for home in homes.iterdir()} == {"0o700"}
    names = {p.name for p in state.rglob("*")}
    assert {"jupyterhub.sqlite", "jupyterhub.log", "c1.ipynb", "data.csv"} <= names


def test_a_v1_kernel_websocket_client_gets_its_subprotocol_through_the_proxy(running_hub: RunningHub) -> None:
    """What JupyterLab and the seed's client ask for; without an answer they reconnect with the old protocol."""
    from jupyter_server.services.kernels.connection.base import (
        deserialize_msg_from_ws_v1,
        serialize_msg_to_ws_v1,
    )
    from websockets.sync.client import connect

    from jhubctl.interpreter import Interpreter

    with running_hub.client() as client, Interpreter(client, "proto", "c1") as it:
        it.execute("1")
        url = f"{running_hub.hub.url.replace('http', 'ws', 1)}/user/proto/c1/api/kernels/{it._kernel_id}/channels"
    protocol = "v1.kernel.websocket.jupyter.org"
    with connect(url, subprotocols=[protocol], additional_headers={"Authorization": f"token {running_hub.token}"}) as ws:
        assert ws.subprotocol == protocol
        msg_id = uuid.uuid4().hex  # the kernel refuses a replayed signature
        request = {"header": {"msg_id": msg_id, "msg_type": "kernel_info_request", "session": "s", "username": "u",
                              "date": "2026-01-01T00:00:00Z", "version": "5.3"},
                   "parent_header": {}, "metadata": {}, "content": {}, "buffers": []}
        ws.send(serialize_msg_to_ws_v1([json.dumps(request[k]).encode() for k in
                                        ("header", "parent_header", "metadata", "content")], "shell"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the first connection holds and answers in the v1 framing
            channel, parts = deserialize_msg_from_ws_v1(ws.recv(timeout=30))
            header, parent = json.loads(parts[0]), json.loads(parts[1])
            if channel == "shell" and parent.get("msg_id") == msg_id:
                assert header["msg_type"] == "kernel_info_reply"
                break
        else:
            raise AssertionError("no kernel_info_reply")


HOT_PATH = """
import sys
from jhubctl.cli import main
code = main(sys.argv[1:])
heavy = sorted({m.split('.')[0] for m in sys.modules} & {'nbformat', 'jsonschema', 'rfc3987_syntax', 'azure',
                                                         'kubernetes', 'jupyter_server', 'tornado', 'pydantic',
                                                         'pydantic_core', 'yaml'})
heavy += sorted({m for m in sys.modules} & {'jhubctl.config', 'jhubctl.local.hubconfig', 'jhubctl.packages'})
print(code, ' '.join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("argv", [["exec", "hot", "c1", "--code", "1"], ["start-server", "hot", "c1"],
                                  ["servers"], ["stop-server", "hot", "c1"]], ids=lambda a: a[0])
def test_the_server_commands_import_no_validator_sdk_or_server(running_hub: RunningHub, argv: list[str]) -> None:
    """Nor, once the config's values are cached, pydantic (the config models; typer 0.29 parses through it
    too), yaml, or the local hub's config renderer: a warm exec pays for none of them (docs/benchmarks.md)."""
    env = ["--config", str(running_hub.loaded.path), "--state-dir", str(running_hub.loaded.state_dir)]
    for run in ("first", "warm"):  # the first may validate the config; the warm one reads the cache
        done = subprocess.run([sys.executable, "-c", HOT_PATH, *env, *argv], capture_output=True, text=True,
                              timeout=120)
        code, _, heavy = done.stderr.strip().splitlines()[-1].partition(" ")
        assert code == "0", done.stderr
    assert heavy == ""
