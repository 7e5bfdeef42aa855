"""Generic fixtures shared by every test directory.

* Each test runs in its own empty working directory with no ``JHUBCTL_*`` variable set, so the
  developer's ``./jhubctl.yaml``, ``.jhubctl/`` or exported token can never leak into a test.
* ``cli`` runs the real command line in-process (``jhubctl.cli.main``) with an ``Environment`` of its
  own streams, and returns what a user sees: the exit code, stdout (data) and stderr (status, errors).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest


#: The fast path most real-hub tests run on: servers in jhubctl's own Python, unfenced (a hub started
#: without `up` has no interpreter venv). tests/interp runs the locked venv and the fence.
FAST_LOCAL = "local:\n  interpreter: shared\n  fence: false\n"


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("JHUBCTL_"):
            monkeypatch.delenv(name)
    return tmp_path


class CliResult(NamedTuple):
    code: int
    stdout: str
    stderr: str


CliRunner = Callable[..., CliResult]


@pytest.fixture
def cli() -> CliRunner:
    """``cli("config", "show")`` -> (code, stdout, stderr) of that one invocation; ``stdin=`` feeds it input."""
    from jhubctl.cli import main
    from jhubctl.output import Environment

    def run(*argv: str, stdin: str = "") -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        code = main(list(argv), Environment(stdin=io.StringIO(stdin), stdout=out, stderr=err, environ=os.environ))
        return CliResult(int(code), out.getvalue(), err.getvalue())

    return run


_HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from jhubctl.state import StateLock

    with StateLock(Path(sys.argv[1]), sys.argv[2]):
        print("held", flush=True)
        time.sleep(120)
    """
)


@contextlib.contextmanager
def lock_held_elsewhere(state_dir: Path, command: str = "up") -> Iterator[subprocess.Popen[str]]:
    """Another process holding the state lock (the lock is re-entrant within one process, so a test
    that holds it itself proves nothing about a second jhubctl)."""
    proc = subprocess.Popen([sys.executable, "-c", _HOLD_LOCK, str(state_dir), command], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "held", "the helper process could not take the lock"
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()
