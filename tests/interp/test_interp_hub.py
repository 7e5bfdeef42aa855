"""On the real local hub, brought up by `up` itself: servers run in the lock's venv, fenced, and say so.

The tiny lock keeps these tests to seconds; the default package set (pandas, matplotlib) has its own
test, marked slow. Fence tests skip, with the machine's reason, where the fence cannot be on.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jhubctl.config import Loaded
from jhubctl.errors import NotFoundError
from jhubctl.hubapi.client import HubClient
from jhubctl.interpreter import Interpreter, Result
from jhubctl.local.process import HubProcess
from jhubctl.output import Environment, Output
from jhubctl.spawner.fence import state, veil_problem
from jhubctl.state import Secrets, StateLock
from jhubctl.targets import UpResult, target_for
from tests.interp.support import ATTEMPT, TINY, load, make_private_dir, make_public_dir, tcp_sockets

pytestmark = pytest.mark.hub
FENCE = state()
VEIL_PROBLEM = veil_problem() if os.geteuid() == 0 else "servers get users of their own only when jhubctl runs as root"


@dataclass
class Up:
    loaded: Loaded
    result: UpResult
    token: str
    stderr: str
    root: Path  # removed with the hub

    def run(self, user: str, conversation: str, code: str, timeout: float = 120) -> Result:
        with HubClient(self.result.url, self.token) as client, Interpreter(client, user, conversation) as it:
            return it.execute(code, timeout=timeout)

    def folder(self, user: str, conversation: str) -> Path:
        return Path(self.result.facts["data_root"]) / user / "conversations" / conversation


def bring_up(config: str, *, private: bool = False) -> Up:
    """`up` with the state dir in a public folder, or (`private`) in a 0700 folder as a root user's clone in /root."""
    root = folder = make_public_dir("jhubctl-hub-")
    if private:
        root, folder = make_private_dir("jhubctl-hub-")
    loaded = load(folder, config)
    stderr = io.StringIO()
    out = Output(Environment(stdout=io.StringIO(), stderr=stderr, environ={}))
    try:
        with StateLock(loaded.state_dir, "up"):
            result = target_for(loaded).up(out, smoke_test=False)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    token = Secrets(loaded.state_dir, environ={}).api_token()
    assert token
    return Up(loaded, result, token, stderr.getvalue(), root)


def take_down(up: Up) -> None:
    try:
        HubProcess(up.loaded).stop()
    finally:
        shutil.rmtree(up.root, ignore_errors=True)


@pytest.fixture(scope="module")
def tiny_hub() -> Iterator[Up]:
    up = bring_up(TINY)
    yield up
    take_down(up)


def test_servers_run_in_the_locks_venv(tiny_hub: Up) -> None:
    result = tiny_hub.run("alice", "venv", "import sys, jupyterhub, ipykernel; "
                                           "print(sys.prefix); print(jupyterhub.__version__, ipykernel.__version__)")
    assert result.status == "ok", result.error
    prefix, versions = result.stdout.splitlines()
    lock = tiny_hub.result.facts["lock"]
    assert prefix == tiny_hub.result.facts["venv"] and Path(prefix).name == lock["sha256"][:16]
    assert versions.split()[0] == "4.0.2" == lock["jupyterhub"]


def test_status_names_the_lock_the_venv_and_the_fence(tiny_hub: Up, cli) -> None:
    env = ["--config", str(tiny_hub.loaded.path), "--state-dir", str(tiny_hub.loaded.state_dir)]
    code, out, err = cli(*env, "status")
    assert code == 0, err
    lock = tiny_hub.result.facts["lock"]
    assert f"lock: {lock['path']} (sha256 {lock['sha256'][:12]}, {lock['packages']} packages, Python 3.11, " \
           "JupyterHub 4.0.2; current)" in out
    assert f"venv: {tiny_hub.result.facts['venv']}" in out
    assert f"fence: {FENCE.describe()}" in out
    assert ("fence off" in err) == (not FENCE.active)  # the warning, on stderr, only when it is off
    code, out, _ = cli(*env, "status", "--json")
    report = json.loads(out)["interpreter"]
    assert report["lock"]["sha256"] == lock["sha256"] and report["mode"] == "locked"


def test_a_server_in_the_venv_refuses_links_out_of_its_folder(tiny_hub: Up) -> None:
    """The venv holds jhubctl's contents manager: a link to a file the server may read (its own venv's
    pyvenv.cfg, inside the fence) but outside the folder is not served; a link inside it is."""
    venv = Path(tiny_hub.result.facts["venv"])
    with HubClient(tiny_hub.result.url, tiny_hub.token) as client, Interpreter(client, "erin", "links") as it:
        it.upload("mine.txt", b"mine")
        folder = tiny_hub.folder("erin", "links")
        os.symlink(venv / "pyvenv.cfg", folder / "venv.cfg")
        os.symlink(folder / "mine.txt", folder / "inside.txt")
        reached = it.execute("print(open('venv.cfg').read().startswith('home'))")
        assert reached.stdout.strip() == "True"  # the kernel reads it: only the contents manager refuses it
        assert it.download("inside.txt") == b"mine"
        with pytest.raises(NotFoundError):
            it.download("venv.cfg")


def test_a_server_in_the_venv_answers_kernel_messages_without_nagles_delay(tiny_hub: Up) -> None:
    """The venv holds jhubctl's kernel websocket: while a client's kernel channel is open, the server's end
    of it has TCP_NODELAY. (tornado turns Nagle's algorithm back on after every HTTP answer, and
    jupyter-server's own connection class leaves it so: that was 40 ms per execution.)"""
    with HubClient(tiny_hub.result.url, tiny_hub.token) as client, Interpreter(client, "erin", "nodelay") as it:
        answer = it.execute("import os; print(os.getppid())")  # the kernel's parent: the server
        assert answer.status == "ok", answer.error
        server = int(answer.stdout)
        try:
            held = tcp_sockets(server)
        except OSError as exc:
            pytest.skip(f"cannot read the server's sockets on this machine: {exc}")
        ports = {s.local[1] for s in held if s.peer is None}
        assert len(ports) == 1, held  # the server listens on one port
        accepted = [s for s in held if s.peer is not None and s.local[1] in ports]
        assert [s for s in accepted if s.nodelay], accepted  # the kernel channel, through the proxy
        again = it.execute("print(1)")
        assert again.stdout.strip() == "1"


@pytest.fixture(scope="module")
def veiled_hub() -> Iterator[Up]:
    if VEIL_PROBLEM is not None:
        pytest.skip(f"no veil on this machine: {VEIL_PROBLEM}")
    up = bring_up(TINY, private=True)
    yield up
    take_down(up)


#: Run in a kernel: what it can reach of the hub, the state dir and other conversations.
PROBE = ATTEMPT + """
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
def call(result):
    if result != 0:
        raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
status = dict(line.split(":\\t", 1) for line in open("/proc/self/status").read().splitlines() if ":\\t" in line)
print(json.dumps({
    "secrets": attempt(lambda: open(%(secrets)r).read()),
    "journal": attempt(lambda: open(%(journal)r).read()),
    "database": attempt(lambda: open(%(database)r).read()),
    "other": attempt(lambda: open(%(other)r).read()),
    "parent": attempt(lambda: os.listdir("..")),
    "sibling": attempt(lambda: open("../theirs/notes.txt").read()),  # the same user's other conversation
    "own": attempt(lambda: open("mine.txt", "w").write("mine") and open("mine.txt").read()),
    "uid": os.getuid(),
    "caps": {name: int(status[name], 16) for name in ("CapEff", "CapPrm", "CapBnd", "CapAmb")},
    "signal_hub": attempt(lambda: os.kill(%(hub)d, 0)),
    "hub_environ": attempt(lambda: open("/proc/%(hub)d/environ", "rb").read()),
    "setuid": attempt(lambda: os.setuid(0)),
    "unshare": attempt(lambda: call(libc.unshare(0x00020000))),  # CLONE_NEWNS
    "mount": attempt(lambda: call(libc.mount(b"none", b"mine.txt", b"tmpfs", 0, None))),
}))
"""


def kernel_sees(up: Up) -> dict[str, object]:
    """Two other conversations write a file each; a third kernel then tries to reach them and the hub."""
    for user, conversation in (("bob", "theirs"), ("alice", "other")):
        written = up.run(user, conversation, "open('notes.txt', 'w').write('private')")
        assert written.status == "ok", written.error
    state_dir = up.loaded.state_dir
    code = PROBE % {"secrets": str(state_dir / "secrets.json"), "journal": str(state_dir / "state.json"),
                    "database": str(state_dir / "local" / "jupyterhub.sqlite"),
                    "other": str(up.folder("alice", "other") / "notes.txt"),  # another user's conversation
                    "hub": up.result.facts["pid"]}
    result = up.run("bob", "mine", code)
    assert result.status == "ok", result.error
    assert (up.folder("bob", "mine") / "mine.txt").read_text() == "mine"
    log = (state_dir / "local" / "jupyterhub.log").read_text()
    assert "Conversation mine of bob in" in log and f"{up.folder('bob', 'mine')} (fenced)" in log
    return json.loads(result.stdout)


#: What no fenced kernel may do to the hub, whichever mode (the hub runs as root or as you).
HUB_OUT_OF_REACH = {"signal_hub": "PermissionError", "hub_environ": "PermissionError", "setuid": "PermissionError",
                    "unshare": "PermissionError", "mount": "PermissionError"}


@pytest.mark.skipif(not FENCE.active, reason=f"the fence cannot be on here: {FENCE.describe()}")
def test_a_kernel_reads_its_folder_and_nothing_else(tiny_hub: Up) -> None:
    """secrets.json, the journal, the database, another conversation's file, `../`: each a permission error;
    its own folder works; it cannot signal the hub, read its environment or become anyone else."""
    assert "warning" not in tiny_hub.stderr and f"fence {FENCE.describe()}\n" in tiny_hub.stderr
    seen = kernel_sees(tiny_hub)
    why = f"fence {FENCE.describe()}"
    assert {k: seen[k] for k in ("secrets", "journal", "database", "other", "parent", "sibling", "own")} == {
        "secrets": "PermissionError", "journal": "PermissionError", "database": "PermissionError",
        "other": "PermissionError", "parent": "PermissionError", "sibling": "PermissionError", "own": "ok"}, why
    if os.geteuid() == 0:  # as you, signalling your own hub is yours to do: Landlock ABI 6 scopes signals
        assert {k: seen[k] for k in HUB_OUT_OF_REACH} == HUB_OUT_OF_REACH, why
        assert seen["uid"] != 0 and seen["caps"] == {"CapEff": 0, "CapPrm": 0, "CapBnd": 0, "CapAmb": 0}, why


def test_a_state_dir_under_a_private_folder_gets_a_veil_and_still_a_user_per_conversation(veiled_hub: Up, cli) -> None:
    """A root user's clone in /root: `up` works, says how the servers are fenced, and a kernel still reaches only
    its own folder (the rest of the private folder is not there at all in its mount namespace)."""
    private = veiled_hub.loaded.state_dir.parent
    line = (f"fence on (Landlock ABI {FENCE.landlock_abi}, a user per conversation; {private} is not searchable by "
            "other users, so each server sees only its own folders there, in a mount namespace of its own)")
    if not FENCE.landlock_abi:
        line = line.replace(f"Landlock ABI {FENCE.landlock_abi}, ", "")
    assert f"{line}\n" in veiled_hub.stderr and "warning" not in veiled_hub.stderr
    code, out, _ = cli("--config", str(veiled_hub.loaded.path), "--state-dir", str(veiled_hub.loaded.state_dir),
                       "status")
    assert code == 0 and f"\nfence: {line.removeprefix('fence ')}\n" in out

    seen = kernel_sees(veiled_hub)
    why = f"{line}: {seen}"
    assert {k: seen[k] for k in ("secrets", "journal", "database", "other", "sibling")} == dict.fromkeys(
        ("secrets", "journal", "database", "other", "sibling"), "FileNotFoundError"), why
    assert seen["parent"] == "PermissionError" and seen["own"] == "ok", why
    assert {k: seen[k] for k in HUB_OUT_OF_REACH} == HUB_OUT_OF_REACH, why
    assert seen["uid"] != 0 and seen["caps"] == {"CapEff": 0, "CapPrm": 0, "CapBnd": 0, "CapAmb": 0}, why
    assert oct(private.stat().st_mode & 0o777) == "0o700"  # nothing was opened up to get there


@pytest.mark.slow
def test_the_default_package_set_plots(cli) -> None:
    """The seed's packages on the default config: pandas and matplotlib import, a figure comes back as a PNG file."""
    up = bring_up("")
    try:
        code = ("import pandas as pd, matplotlib.pyplot as plt, numpy, scipy, seaborn, sklearn, openpyxl, pypdf, faker\n"
                "df = pd.DataFrame({'x': range(5), 'y': [v * v for v in range(5)]})\n"
                "df.plot(x='x', y='y'); plt.show()\n"
                "print(df.y.sum())")
        result = up.run("carol", "plot", code, timeout=300)
        assert result.status == "ok", result.error
        assert result.stdout.strip() == "30"
        files = result.save_images(up.loaded.state_dir / "outputs")
        assert len(files) == 1 and files[0].suffix == ".png"
        assert files[0].read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
        png = next(o["data"]["image/png"] for o in result.outputs if "image/png" in o.get("data", {}))
        assert base64.b64decode(png) == files[0].read_bytes()
        pins = up.result.facts["lock"]
        assert pins["jupyterhub"] == "4.0.2" and pins["packages"] > 50
    finally:
        take_down(up)
