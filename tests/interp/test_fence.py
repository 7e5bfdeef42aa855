"""The fence, through the real spawner and launcher, without a hub: what a confined process can and cannot do.

Each fenced test first asks the machine whether the fence can be on (Landlock, or root for users of
their own); where it cannot, the test is skipped with that reason rather than passed. The mode in
force is part of every assertion message, so a failure says which mechanism let it through.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from jhubctl.packages.venv import base_python
from jhubctl.spawner.fence import FENCE_GID, FenceState, Plan, launcher, outermost, state, veil_problem
from tests.interp.support import ATTEMPT, without_sys_admin
from tests.spawner.support import make, run

FENCE = state()
REPO = Path(__file__).resolve().parents[2]
needs_fence = pytest.mark.skipif(not FENCE.active, reason=f"the fence cannot be on here: {FENCE.describe()}")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="servers get users of their own only when the hub runs as root")
VEIL_PROBLEM = veil_problem() if os.geteuid() == 0 else "servers get users of their own only when the hub runs as root"
needs_veil = pytest.mark.skipif(VEIL_PROBLEM is not None, reason=f"no veil on this machine: {VEIL_PROBLEM}")

#: Run as the "server": tries everything it was given on argv, reports what happened.
PROBE = r"""
import json, os, sys, socket, ssl, mimetypes, subprocess
def attempt(fn):
    try:
        value = fn()
        return "ok" if value is None else value
    except Exception as exc:
        return type(exc).__name__
reads, writes = json.loads(sys.argv[1]), json.loads(sys.argv[2])
report = {
    "uid": os.getuid(), "cwd": os.getcwd(), "mounts": os.readlink("/proc/self/ns/mnt"),
    "own": attempt(lambda: open("own.txt", "w").write("mine") and open("own.txt").read()),
    "read": {p: attempt(lambda p=p: open(p).read()) for p in reads},
    "list": attempt(lambda: os.listdir("..")),
    "write": {p: attempt(lambda p=p: open(p, "w").write("x") and None) for p in writes},
    "tls_roots": attempt(lambda: ssl.create_default_context().cert_store_stats()["x509_ca"] > 0),
    "localhost": attempt(lambda: bool(socket.getaddrinfo("localhost", 80))),
    "mimetypes": attempt(lambda: mimetypes.guess_type("a.csv")[0]),
    "program": attempt(lambda: subprocess.run(["ls", "."], capture_output=True, check=True).returncode),
    "tmp": attempt(lambda: __import__("tempfile").mkstemp()[1]),
}
print(json.dumps(report))
"""


def server_python() -> str:
    """A Python the fenced user can run: root's may live under /root (pyenv), out of reach of other users."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return base_python(version, public_only=os.geteuid() == 0)


def spawn(data_root: Path, conversation: str, reads: list[str], writes: list[str], **traits: Any) -> dict[str, Any]:
    spawner = make(data_root, user_options={"conversation_id": conversation},
                   cmd=[server_python(), "-c", PROBE, json.dumps(reads), json.dumps(writes)], **traits)
    return run(spawner)


def test_state_says_which_mechanisms_are_on() -> None:
    assert FenceState(7, True).describe() == "on (Landlock ABI 7, a user per conversation)"
    assert FenceState(7, True, ("/root",)).describe() == (
        "on (Landlock ABI 7, a user per conversation; /root is not searchable by other users, so each server "
        "sees only its own folders there, in a mount namespace of its own)")
    assert FenceState(3, False).describe() == "on (Landlock ABI 3, servers run as you)"
    assert FenceState(0, True).describe() == "on (a user per conversation)"
    assert not FenceState(0, False).active and FenceState(0, False).describe().startswith("off")


def test_plan_travels_as_json_in_the_launcher_argv() -> None:
    plan = Plan(read=["/usr"], write=["/data/a"], landlock=True, uid=5, gid=6, memory=1024, veil=["/root"])
    argv = launcher(plan, ["/venv/bin/python", "-m", "jupyterhub.singleuser"], python="/hub/python")
    assert argv[:3] == ["/hub/python", "-m", "jhubctl.spawner.fence"]
    assert argv[4:] == ["--", "/venv/bin/python", "-m", "jupyterhub.singleuser"]
    assert Plan.from_json(argv[3]) == plan


def test_a_veil_covers_the_outermost_folders_only() -> None:
    assert outermost(["/root/a/b", "/root", "/home/x", "/root/a", "/homes"]) == ["/home/x", "/homes", "/root"]
    assert outermost([]) == []


@needs_fence
def test_a_fenced_server_reaches_its_folder_and_nothing_of_the_hubs_or_other_conversations(public_dir: Path) -> None:
    state_dir = public_dir / ".jhubctl"
    local = state_dir / "local"
    data = local / "data"
    data.mkdir(parents=True, mode=0o700)
    os.chmod(state_dir, 0o700)
    secrets = state_dir / "secrets.json"
    secrets.write_text('{"api_token": "s3cret"}')
    secrets.chmod(0o600)
    database = local / "jupyterhub.sqlite"  # created by the hub before umask 077, world-readable
    database.write_text("users")
    database.chmod(0o644)
    traits = {"fence": True, "passage": [str(state_dir), str(local)]}

    theirs = spawn(data, "theirs", [], [], **traits)
    assert theirs["own"] == "mine", FENCE.describe()
    their_file = data / "alice" / "conversations" / "theirs" / "own.txt"
    their_home = data / ".homes" / "alice" / "theirs"

    seen = spawn(data, "mine", [str(secrets), str(database), str(their_file), str(their_home / "tmp")],
                 [str(public_dir / "outside.txt"), str(their_file)], **traits)
    why = f"fence {FENCE.describe()}"
    assert seen["cwd"] == str(data / "alice" / "conversations" / "mine")
    assert seen["own"] == "mine", why
    assert seen["read"] == {str(secrets): "PermissionError", str(database): "PermissionError",
                            str(their_file): "PermissionError", str(their_home / "tmp"): "PermissionError"}, why
    assert seen["list"] == "PermissionError", why  # ../ out of its folder
    assert seen["write"] == {str(public_dir / "outside.txt"): "PermissionError",
                             str(their_file): "PermissionError"}, why
    assert their_file.read_text() == "mine" and not (public_dir / "outside.txt").exists()
    # what ordinary code needs still works inside
    assert seen["tls_roots"] is True and seen["localhost"] is True and seen["mimetypes"] == "text/csv", seen
    assert seen["program"] == 0, seen
    assert seen["tmp"].startswith(str(data / ".homes" / "alice" / "mine" / "tmp")), seen

    assert seen["mounts"] == os.readlink("/proc/self/ns/mnt"), "no veil where every folder on the way is searchable"
    if os.geteuid() == 0:
        assert seen["uid"] not in (0, theirs["uid"]) and FENCE_GID < seen["uid"], "each conversation has its own uid"
        # the hub's files in the folders servers pass through are its own only; the folders searchable, not listable
        assert stat.S_IMODE(database.stat().st_mode) == 0o600
        for folder in (state_dir, local):
            assert (stat.S_IMODE(folder.stat().st_mode), folder.stat().st_gid) == (0o710, FENCE_GID)


@needs_root
@needs_fence
def test_a_conversation_keeps_its_uid_across_restarts(public_dir: Path) -> None:
    data = public_dir / "data"
    first = spawn(data, "c1", [], [], fence=True)
    other = spawn(data, "c2", [], [], fence=True)
    again = spawn(data, "c1", [], [], fence=True)
    assert first["uid"] == again["uid"] != other["uid"]
    assert (data / "alice" / "conversations" / "c1").stat().st_uid == first["uid"]
    assert (data / "alice" / "conversations" / "c1" / "own.txt").stat().st_uid == first["uid"]


@needs_veil
def test_a_folder_out_of_reach_is_veiled_and_the_server_sees_only_its_own_paths_in_it(private_dir: Path) -> None:
    """A state dir under a 0700 folder (a root user's clone in /root): the server's user cannot walk there,
    so the server gets a mount namespace of its own in which that folder holds only its own paths."""
    state_dir = private_dir / ".jhubctl"
    data = state_dir / "local" / "data"
    data.mkdir(parents=True)
    secrets = state_dir / "secrets.json"
    secrets.write_text('{"api_token": "s3cret"}')
    notes = private_dir / "notes.txt"  # the user's own files next to the clone
    notes.write_text("mine")
    notes.chmod(0o644)
    traits = {"fence": True, "passage": [str(state_dir), str(state_dir / "local")]}
    theirs = spawn(data, "theirs", [], [], **traits)
    their_file = data / "alice" / "conversations" / "theirs" / "own.txt"

    outside = private_dir / "outside.txt"
    seen = spawn(data, "mine", [str(secrets), str(notes), str(their_file)], [str(outside)], **traits)
    why = f"fence {FENCE.describe()}, veiled"
    assert seen["own"] == "mine" and seen["cwd"] == str(data / "alice" / "conversations" / "mine"), why
    assert seen["uid"] not in (0, theirs["uid"]) and FENCE_GID < seen["uid"], why
    assert seen["mounts"] != os.readlink("/proc/self/ns/mnt"), why
    # hidden, not merely refused: in the server's mounts those paths do not exist
    assert seen["read"] == {str(secrets): "FileNotFoundError", str(notes): "FileNotFoundError",
                            str(their_file): "FileNotFoundError"}, why
    assert seen["list"] == "PermissionError", why  # ../ out of its folder: the veil's folders are not listable
    assert seen["write"] == {str(outside): "PermissionError"}, why
    assert not outside.exists() and theirs["own"] == "mine"
    assert seen["tls_roots"] is True and seen["program"] == 0, seen
    assert seen["tmp"].startswith(str(data / ".homes" / "alice" / "mine" / "tmp")), seen
    # the veil is the server's alone: the hub's (this process's) mounts are unchanged, the folder still 0700
    assert str(private_dir) not in Path("/proc/self/mountinfo").read_text()
    assert stat.S_IMODE(private_dir.stat().st_mode) == 0o700 and notes.read_text() == "mine"


@needs_root
def test_where_no_veil_can_be_made_a_folder_out_of_reach_fails_the_spawn_naming_it(private_dir: Path) -> None:
    """Root without CAP_SYS_ADMIN (a container's root) cannot make the mount namespace: the spawn fails,
    saying which folder blocks the way, why it cannot be veiled and what to do; nothing runs."""
    script = ("import asyncio, sys\n"
              "from tests.spawner.support import make\n"
              "spawner = make(sys.argv[1], user_options={'conversation_id': 'c1'}, cmd=[sys.argv[2], '-c', ''],\n"
              "               fence=True)\n"
              "try:\n    asyncio.run(spawner.start())\n"
              "except PermissionError as exc:\n    print(type(exc).__name__, exc)\n")
    proc = subprocess.run([sys.executable, "-c", script, str(private_dir / "data"), server_python()],
                          capture_output=True, text=True, preexec_fn=without_sys_admin, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    said = proc.stdout.strip()
    assert said.startswith("FenceError the fence runs this server as uid "), said
    assert f"{private_dir} is not searchable by other users" in said
    assert "unshare(CLONE_NEWNS): Operation not permitted" in said and "move the state directory" in said
    assert not list((private_dir / "data" / "alice" / "conversations" / "c1").iterdir())  # nothing ran there


#: What uid 0 without capabilities could still do as the owner of root's things (Landlock up to ABI 7 checks none
#: of it), tried by a fenced server against the "hub" (this process) and files and a socket of root's.
ROOTS_THINGS = ATTEMPT + r"""
import json, os, resource, socket, sys
sock, owned, hub = sys.argv[1], sys.argv[2], os.getppid()
print(json.dumps({
    "connect": attempt(lambda: socket.socket(socket.AF_UNIX).connect(sock)),
    "chmod": attempt(lambda: os.chmod(owned, 0o4755)),
    "utime": attempt(lambda: os.utime(owned, (0, 0))),
    "prlimit": attempt(lambda: resource.prlimit(hub, resource.RLIMIT_NOFILE, (16, 16))),
    "kill": attempt(lambda: os.kill(hub, 0)),
}))
"""


@needs_root
def test_a_fenced_server_cannot_use_what_root_owns(public_dir: Path) -> None:
    """Why servers never run as uid 0, not even without capabilities: root-only sockets (systemd's, D-Bus's,
    docker's run anything as root), chmod of root's files, the hub's limits. A user of its own is refused all."""
    sock_path, owned = public_dir / "root.sock", public_dir / "root-file"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(sock_path))
    listener.listen(1)
    sock_path.chmod(0o600)
    owned.write_text("root's")
    owned.chmod(0o644)
    spawner = make(public_dir / "data", user_options={"conversation_id": "c1"}, fence=True,
                   cmd=[server_python(), "-c", ROOTS_THINGS, str(sock_path), str(owned)])
    try:
        seen = run(spawner)
    finally:
        listener.close()
    assert seen == {"connect": "PermissionError", "chmod": "PermissionError", "utime": "PermissionError",
                    "prlimit": "PermissionError", "kill": "PermissionError"}, f"fence {FENCE.describe()}"
    assert stat.S_IMODE(owned.stat().st_mode) == 0o644
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] > 16


def test_memory_limit_is_a_data_limit_of_the_server_and_its_children(tmp_path: Path) -> None:
    code = ("import resource, subprocess, sys; print(resource.getrlimit(resource.RLIMIT_DATA)[0]);"
            "print(subprocess.run([sys.executable, '-c', 'bytearray(400 * 2**20)'], capture_output=True).returncode);"
            "bytearray(64 * 2**20); print('small ok')")
    spawner = make(tmp_path, user_options={"conversation_id": "m"}, mem_limit="256M",
                   cmd=[sys.executable, "-c", code])

    async def go() -> list[str]:
        await spawner.start()
        out, _ = spawner.proc.communicate(timeout=60)
        await spawner.poll()
        return out.decode().split()

    limit, child, small, _ = asyncio.run(go())
    assert int(limit) == 256 * 2**20
    assert child != "0"  # a child asking for 400 MiB fails (MemoryError)
    assert small == "small"


@needs_root
def test_the_launcher_says_why_it_cannot_start(tmp_path: Path) -> None:
    private = tmp_path / "python"
    private.write_text("#!/bin/sh\n")
    private.chmod(0o700)
    plan = Plan(uid=FENCE_GID + 4242, gid=FENCE_GID)
    proc = subprocess.run(launcher(plan, [str(private)]), capture_output=True, text=True)
    assert proc.returncode == 126
    assert f"jhubctl fence: cannot start '{private}'" in proc.stderr and "Permission denied" in proc.stderr


def test_a_missing_server_python_fails_the_spawn_saying_what_builds_it(tmp_path: Path) -> None:
    spawner = make(tmp_path, user_options={"conversation_id": "c1"},
                   cmd=[str(tmp_path / "state" / "interpreter" / "venv" / "bin" / "python"), "-m", "x"])
    with pytest.raises(FileNotFoundError, match="`jhubctl up` builds the interpreter venv"):
        asyncio.run(spawner.start())
