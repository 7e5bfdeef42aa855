"""Generic fixtures shared by every test directory.

* Each test runs in its own empty working directory with no ``JHUBCTL_*`` variable set, so the
  developer's ``./jhubctl.yaml``, ``.jhubctl/`` or exported token can never leak into a test.
* ``cli`` runs the real command line in-process (``jhubctl.cli.main``) with an ``Environment`` of its
  own streams, and returns what a user sees: the exit code, stdout (data) and stderr (status, errors).
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pytest


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
