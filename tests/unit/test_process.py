"""Finding and ending the local hub's processes from the state dir alone, on real (harmless) processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jhubctl.local import process
from jhubctl.local.hubconfig import MARKER_ENV

SLEEP = "import signal, time; signal.signal(signal.SIGTERM, signal.{handler}); time.sleep(60)"


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """Start a sleeper in a session of its own, as the hub's children are; all killed at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(marker: Path | None, *argv: str, handler: str = "SIG_DFL") -> subprocess.Popen[bytes]:
        env = {**os.environ, **({MARKER_ENV: str(marker)} if marker else {})}
        proc = subprocess.Popen([sys.executable, "-c", SLEEP.format(handler=handler), *argv], env=env,
                                start_new_session=True)
        started.append(proc)
        time.sleep(0.3)  # let exec() finish, so /proc shows the final argv and environment
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def pids(found: list[process.Tracked]) -> set[int]:
    return {p.pid for p in found}


def test_processes_are_found_by_their_marker_and_only_their_own(spawn, tmp_path: Path) -> None:
    mine = spawn(tmp_path / "a" / "local")
    other = spawn(tmp_path / "b" / "local")
    unmarked = spawn(None)
    found = process.tracked(tmp_path / "a" / "local", tmp_path / "a" / "local" / "jupyterhub_config.py")
    assert mine.pid in pids(found)
    assert other.pid not in pids(found) and unmarked.pid not in pids(found)
    assert not process.tracked(tmp_path / "a", tmp_path / "a" / "jupyterhub_config.py")  # no prefix matches


def test_the_hub_is_found_by_its_config_file_even_without_the_marker(spawn, tmp_path: Path) -> None:
    config = tmp_path / "local" / "jupyterhub_config.py"
    hub = spawn(None, "-m", "jupyterhub", "-f", str(config))
    [found] = [p for p in process.tracked(tmp_path / "local", config) if p.pid == hub.pid]
    assert found.role == "hub"


def test_end_stops_what_ignores_sigterm(spawn, tmp_path: Path) -> None:
    stubborn = spawn(tmp_path, handler="SIG_IGN")
    polite = spawn(tmp_path)
    found = [p for p in process.tracked(tmp_path, tmp_path / "x.py") if p.pid in (stubborn.pid, polite.pid)]
    began = time.monotonic()
    process.end(found, grace=1.0)
    assert stubborn.wait(5) == -signal.SIGKILL and polite.wait(5) == -signal.SIGTERM
    assert time.monotonic() - began < 5


def test_a_pid_that_now_runs_something_else_is_never_signalled(spawn, tmp_path: Path) -> None:
    """A recorded pid is re-checked by its start time: a recycled pid must survive `end`."""
    proc = spawn(tmp_path)
    [found] = [p for p in process.tracked(tmp_path, tmp_path / "x.py") if p.pid == proc.pid]
    recycled = process.Tracked(found.pid, found.ppid, found.role, found.command, str(int(found.started) + 1))
    process.end([recycled], grace=0.2)
    assert proc.poll() is None


def test_descendants_follow_parent_links() -> None:
    procs = [process.Tracked(pid, ppid, "other", "", "0") for pid, ppid in [(2, 1), (3, 2), (4, 3), (5, 1), (6, 5)]]
    assert process.descendants(procs, 2) == {3, 4}
    assert process.descendants(procs, 1) == {2, 3, 4, 5, 6}


@pytest.mark.skipif(subprocess.run(["ps", "axwwe", "-o", "pid="], capture_output=True).returncode != 0,
                    reason="this ps has no BSD options")
def test_the_ps_fallback_finds_the_same_processes(spawn, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where there is no /proc (macOS) the table comes from `ps`; it must find the same marked processes."""
    proc = spawn(tmp_path / "local")
    from_proc = pids(process.tracked(tmp_path / "local", tmp_path / "local" / "c.py"))
    monkeypatch.setattr(process.os.path, "isdir", lambda path: False if path == "/proc" else os.path.isdir(path))
    from_ps = process.tracked(tmp_path / "local", tmp_path / "local" / "c.py")
    assert proc.pid in from_proc and pids(from_ps) == from_proc
    [found] = [p for p in from_ps if p.pid == proc.pid]
    assert process._start_time(proc.pid) == found.started  # the identity check works there too


def test_with_no_hub_recorded_everything_marked_is_a_leftover(spawn, tmp_path: Path) -> None:
    from jhubctl.config import load_config

    loaded = load_config(None, tmp_path / ".jhubctl", environ={})
    hub = process.HubProcess(loaded)
    orphan = spawn(hub.workdir)
    assert hub.current() is None
    assert orphan.pid in pids(hub.leftovers())
    stopped = hub.stop()
    assert stopped.hub is None and orphan.pid in pids(stopped.ended)
    assert orphan.wait(5) == -signal.SIGTERM
