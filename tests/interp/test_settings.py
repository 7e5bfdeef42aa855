"""The interpreter's config keys, and what the local hub's config makes of them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from traitlets.config import Config as TraitletsConfig

from jhubctl.cli.status_cmd import interpreter_lines
from jhubctl.config import byte_count, parse_config
from jhubctl.errors import ConfigError
from jhubctl.local.hubconfig import Ports, render
from tests.interp.support import without_sys_admin


def hub_config(tmp_path: Path, data: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    source = render(parse_config(data), ports=Ports(18000, 18081, 18001), workdir=tmp_path / "state" / "local",
                    data_root=tmp_path / "data", proxy_command=["/usr/bin/configurable-http-proxy"])
    monkeypatch.setenv("JHUBCTL_SERVICE_TOKEN", "t")
    c = TraitletsConfig()
    exec(compile(source, "jupyterhub_config.py", "exec"), {"get_config": lambda: c})
    return c, source


@pytest.mark.parametrize(("size", "count"), [("2G", 2 * 1024**3), ("512M", 512 * 1024**2), ("1.5K", 1536),
                                               ("1000", 1000), ("1T", 1024**4)])
def test_sizes_read_as_kubespawner_reads_them(size: str, count: int) -> None:
    assert byte_count(size) == count


@pytest.mark.parametrize(("servers", "message"), [
    ({"mem_limit": "2GB"}, "servers.mem_limit"),
    ({"mem_guarantee": "lots"}, "servers.mem_guarantee"),
    ({"cpu_limit": 0}, "servers.cpu_limit"),
    ({"cpu_limit": 1, "cpu_guarantee": 2}, "cpu_guarantee 2 is above cpu_limit 1"),
    ({"mem_limit": "1G", "mem_guarantee": "2G"}, "mem_guarantee 2G is above mem_limit 1G"),
])
def test_limits_and_guarantees_are_checked(servers: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"servers": servers})


@pytest.mark.parametrize(("section", "message"), [
    ({"python": "3"}, "interpreter.python"),
    ({"exclude_newer": "last tuesday"}, "interpreter.exclude_newer"),
    ({"requirements": []}, "interpreter.requirements"),
    ({"requirments": ["x"]}, "did you mean 'requirements'"),
])
def test_interpreter_keys_are_checked(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_config({"interpreter": section})


def test_locked_servers_run_the_venv_link_fenced_with_the_memory_limit(tmp_path: Path, monkeypatch) -> None:
    c, source = hub_config(tmp_path, {}, monkeypatch)
    state = tmp_path / "state"
    assert c.Spawner.cmd == [str(state / "interpreter" / "venv" / "bin" / "python"), "-m", "jupyterhub.singleuser"]
    assert c.LocalConversationSpawner.fence is True
    assert c.LocalConversationSpawner.passage == [str(state), str(state / "local"), str(state / "interpreter"),
                                                  str(state / "interpreter" / "envs")]
    assert c.Spawner.mem_limit == 2 * 1024**3 and c.Spawner.cpu_limit is None
    assert "os.umask(0o077)" in source  # the hub's database stays private in a folder servers pass through


def test_shared_unfenced_servers_are_todays(tmp_path: Path, monkeypatch) -> None:
    c, source = hub_config(tmp_path, {"local": {"interpreter": "shared", "fence": False},
                                      "servers": {"mem_limit": None, "cpu_limit": 1.5}}, monkeypatch)
    assert c.Spawner.cmd == [sys.executable, "-m", "jupyterhub.singleuser"]
    assert c.LocalConversationSpawner.fence is False and c.LocalConversationSpawner.passage == []
    assert c.Spawner.mem_limit is None and c.Spawner.cpu_limit == 1.5
    assert "umask" not in source


def test_status_lines() -> None:
    lock = {"path": "/s/interpreter/requirements.lock", "sha256": "ab" * 32, "packages": 97, "python": "3.11",
            "jupyterhub": "4.0.2", "state": "current"}
    assert interpreter_lines({"lock": lock, "mode": "locked", "venv": "/s/interpreter/envs/abab", "fence": "on (x)"}) == [
        f"lock: /s/interpreter/requirements.lock (sha256 {'ab' * 6}, 97 packages, Python 3.11, JupyterHub 4.0.2; current)",
        "venv: /s/interpreter/envs/abab",
        "fence: on (x)",
    ]
    assert interpreter_lines({"lock": None, "mode": "shared", "venv": None, "fence": "off (local.fence: false)"}) == [
        "lock: none (local.interpreter: shared; servers run in jhubctl's own Python)",
        "fence: off (local.fence: false)",
    ]
    missing = {"path": "/s/l", "state": "missing (`jhubctl up` resolves it)"}
    assert interpreter_lines({"lock": missing}) == ["lock: /s/l (missing (`jhubctl up` resolves it))"]
    # a cluster: the image and the lock it was built from, instead of the venv and the fence
    assert interpreter_lines({"lock": missing, "image": None})[1:] == [
        "image: not built yet (`jhubctl build-singleuser-image`)"]
    built = {"image": "r/singleuser:3.1.0-x", "lock": "/s/l", "lock_sha256": "cd" * 32,
             "state": "built from an older lock; deployed"}
    assert interpreter_lines({"lock": lock, "image": built})[1:] == [
        f"image: r/singleuser:3.1.0-x (lock sha256 {'cd' * 6}; built from an older lock; deployed)"]


@pytest.mark.skipif(os.geteuid() != 0, reason="the fence runs servers as users of their own only when jhubctl runs as root")
def test_up_refuses_a_state_dir_the_servers_users_cannot_reach_where_no_veil_can_be_made(tmp_path: Path) -> None:
    """pytest's own tmp folders are 0700: a fenced server's user could not walk to its folder, and root without
    CAP_SYS_ADMIN (a container's) cannot veil them. Said at `up`, in one line naming the folder and why, not as a
    failed spawn (`hub answered 500`) at the first exec."""
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    (hidden / "jhubctl.yaml").write_text("local:\n  interpreter: shared\n")
    proc = subprocess.run([sys.executable, "-m", "jhubctl", "--config", str(hidden / "jhubctl.yaml"), "up",
                           "--no-smoke-test"], capture_output=True, text=True, preexec_fn=without_sys_admin,
                          cwd=tmp_path, env={**os.environ, "NO_COLOR": "1"}, timeout=120)
    assert proc.returncode == 2 and proc.stdout == "", proc.stderr
    error, hint = proc.stderr.splitlines()
    assert error.startswith("error: local.fence: a server's user cannot reach ") and str(tmp_path.parent) in error
    assert "not searchable by other users" in error and "unshare(CLONE_NEWNS): Operation not permitted" in error
    assert hint == "hint: use a state directory (--state-dir) and local.data_dir outside it, or set local.fence: false"
    assert not (hidden / ".jhubctl" / "local").exists()  # no hub was started
