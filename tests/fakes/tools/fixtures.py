"""pytest fixtures for the helm and docker stubs.

``tools`` puts ``helm`` and ``docker`` on PATH (first), each a shell wrapper running its stub with its own
state folder, and returns a :class:`Tools` to read their calls and set their state::

    from tests.fakes.tools.fixtures import tools  # noqa: F401
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .common import STATE_ENV

HERE = Path(__file__).parent
CHART_REPO = "https://hub.jupyter.org/helm-chart/"


@dataclass
class Tool:
    name: str
    folder: Path
    path: Path

    def calls(self) -> list[dict[str, Any]]:
        log = self.folder / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []

    def argvs(self) -> list[list[str]]:
        return [call["argv"] for call in self.calls()]

    def state(self) -> dict[str, Any]:
        path = self.folder / "state.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def set(self, **changes: Any) -> None:
        path = self.folder / "state.json"
        path.write_text(json.dumps({**self.state(), **changes}, indent=2))


@dataclass
class Tools:
    bin: Path
    helm: Tool
    docker: Tool


def install(bin_dir: Path, name: str, stub: str, state_dir: Path) -> Tool:
    state_dir.mkdir(parents=True, exist_ok=True)
    wrapper = bin_dir / name
    wrapper.write_text(
        "#!/bin/sh\n"
        f"{STATE_ENV}={shlex.quote(str(state_dir))} exec {shlex.quote(sys.executable)} "
        f"{shlex.quote(str(HERE / stub))} \"$@\"\n"
    )
    wrapper.chmod(0o755)
    return Tool(name, state_dir, wrapper)


def make_tools(root: Path) -> Tools:
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    helm = install(bin_dir, "helm", "helm_stub.py", root / "helm-state")
    helm.set(index={CHART_REPO: ["3.0.3", "3.1.0", "3.2.1"]})
    docker = install(bin_dir, "docker", "docker_stub.py", root / "docker-state")
    return Tools(bin_dir, helm, docker)


@pytest.fixture
def tools(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Tools:
    made = make_tools(tmp_path / "tools")
    monkeypatch.setenv("PATH", f"{made.bin}{os.pathsep}{os.environ.get('PATH', '')}")
    return made
