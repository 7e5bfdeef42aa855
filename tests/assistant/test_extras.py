"""The extras: `[langchain]` and `[mcp]` bring their SDKs, the core install brings neither.

The dependency closure is walked from the installed metadata, so the test needs no network; `.ci/run`
installs `.[test]` (which includes both extras) into a fresh venv and runs `pip check` on it.
"""

from __future__ import annotations

import importlib.metadata as metadata
import re
import subprocess
import sys

from packaging.requirements import Requirement


def closure(extras: set[str]) -> set[str]:
    """Names of every distribution `pip install jhubctl[extras]` installs, read from installed metadata."""
    done: dict[str, set[str]] = {}
    todo = [("jhubctl", extras)]
    while todo:
        name, wanted = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in done and wanted <= done[key]:
            continue
        done[key] = done.get(key, set()) | wanted
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in wanted] + [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((req.name, set(req.extras)))
    return set(done)


def test_the_core_install_pulls_in_neither_langchain_nor_mcp() -> None:
    core = closure(set())
    assert {"typer", "httpx", "websockets"} <= core
    assert not {"mcp", "mcp-types", "langchain-core", "langsmith"} & core


def test_each_extra_brings_its_sdk() -> None:
    assert "langchain-core" in closure({"langchain"}) and "mcp" not in closure({"langchain"})
    assert "mcp" in closure({"mcp"}) and "langchain-core" not in closure({"mcp"})


def test_the_command_line_does_not_import_them() -> None:
    """`jhubctl --help` (and so every command that does not serve MCP) never loads the SDKs."""
    code = ("import sys, jhubctl.cli\n"
            "jhubctl.cli.main(['--help'])\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mcp', 'langchain_core')))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_the_installed_set_is_consistent() -> None:
    done = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
