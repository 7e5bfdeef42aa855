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
from jhubctl.spawner.fence import state
from jhubctl.state import Secrets, StateLock
from jhubctl.targets import UpResult, target_for
from tests.interp.support import TINY, load, make_public_dir, tcp_sockets

pytestmark = pytest.mark.hub
FENCE = state()


@dataclass
class Up:
    loaded: Loaded
    result: UpResult
    token: str
    stderr: str

    def run(self, user: str, conversation: str, code: str, timeout: float = 120) -> Result:
        with HubClient(self.result.url, self.token) as client, Interpreter(client, user, conversation) as it:
            return it.execute(code, timeout=timeout)

    def folder(self, user: str, conversation: str) -> Path:
        return Path(self.result.facts["data_root"]) / user / "conversations" / conversation


def bring_up(config: str) -> Up:
    folder = make_public_dir("jhubctl-hub-")
    loaded = load(folder, config)
    stderr = io.StringIO()
    out = Output(Environment(stdout=io.StringIO(), stderr=stderr, environ={}))
    try:
        with StateLock(loaded.state_dir, "up"):
            result = target_for(loaded).up(out, smoke_test=False)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    token = Secrets(loaded.state_dir, environ={}).api_token()
    assert token
    return Up(loaded, result, token, stderr.getvalue())


def take_down(up: Up) -> None:
    try:
        HubProcess(up.loaded).stop()
    finally:
        shutil.rmtree(up.loaded.state_dir.parent, ignore_errors=True)


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


@pytest.mark.skipif(not FENCE.active, reason=f"the fence cannot be on here: {FENCE.describe()}")
def test_a_kernel_reads_its_folder_and_nothing_else(tiny_hub: Up) -> None:
    """secrets.json, another conversation's file, `../`: each a permission error; its own folder works."""
    assert "fence" not in tiny_hub.stderr  # `up` warned about nothing
    for user, conversation in (("bob", "theirs"), ("alice", "other")):
        written = tiny_hub.run(user, conversation, "open('notes.txt', 'w').write('private')")
        assert written.status == "ok", written.error
    secrets = tiny_hub.loaded.state_dir / "secrets.json"
    other = tiny_hub.folder("alice", "other") / "notes.txt"  # another user's conversation
    code = f"""
import json, os
def attempt(fn):
    try:
        fn()
        return "ok"
    except Exception as exc:
        return type(exc).__name__
print(json.dumps({{
    "secrets": attempt(lambda: open({str(secrets)!r}).read()),
    "journal": attempt(lambda: open({str(tiny_hub.loaded.state_dir / "state.json")!r}).read()),
    "database": attempt(lambda: open({str(tiny_hub.loaded.state_dir / "local" / "jupyterhub.sqlite")!r}).read()),
    "other": attempt(lambda: open({str(other)!r}).read()),
    "parent": attempt(lambda: os.listdir("..")),
    "sibling": attempt(lambda: open("../theirs/notes.txt").read()),  # the same user's other conversation
    "own": attempt(lambda: open("mine.txt", "w").write("mine") and open("mine.txt").read()),
}}))
"""
    result = tiny_hub.run("bob", "mine", code)
    assert result.status == "ok", result.error
    seen = json.loads(result.stdout)
    assert seen == {"secrets": "PermissionError", "journal": "PermissionError", "database": "PermissionError",
                    "other": "PermissionError", "parent": "PermissionError", "sibling": "PermissionError",
                    "own": "ok"}, f"fence {FENCE.describe()}"
    assert (tiny_hub.folder("bob", "mine") / "mine.txt").read_text() == "mine"
    log = (tiny_hub.loaded.state_dir / "local" / "jupyterhub.log").read_text()
    assert "Conversation mine of bob in" in log and f"{tiny_hub.folder('bob', 'mine')} (fenced)" in log


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
