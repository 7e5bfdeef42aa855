"""Helpers for the tests of the interpreter's package set, its local venv and the fence.

Locks here are resolved from a tiny input (ipykernel, plus the server's own JupyterHub and
jupyter-server) as of a fixed date, so they are the same on every run and cheap to build; uv's
cache keeps the second build of a run fast. The default package set has one test of its own
(`slow`). State directories live in a folder every user may search: when the tests run as root,
fenced servers run as users of their own, who must reach their folders.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jhubctl.config import Loaded, load_config

#: A resolution date: the same lock on every run, whatever PyPI published since.
AS_OF = "2025-06-01"
TINY = f"interpreter:\n  requirements: [ipykernel]\n  exclude_newer: '{AS_OF}'\n"


def make_public_dir(prefix: str) -> Path:
    """A fresh folder under the system temp dir that any user may search (mkdtemp makes 0700)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def load(folder: Path, config: str) -> Loaded:
    """Write `config` as folder/jhubctl.yaml and load it with folder/.jhubctl as the state dir."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "jhubctl.yaml").write_text(config)
    return load_config(folder / "jhubctl.yaml", folder / ".jhubctl", environ={})


def runs_as_root() -> bool:
    return os.geteuid() == 0
