"""jhubctl's packages that run where jhubctl is not installed, as the files to copy there.

The spawner (`jhubctl.spawner`) goes into the hub image; the server plugins (`jhubctl.singleuser`) go into
the singleuser image and the local target's venv. Each is its folder's modules beside an empty
``jhubctl/__init__.py``, so it imports as ``jhubctl.<name>`` and brings nothing else of jhubctl along.
Only ``.py`` files count (no caches, no mtimes): a copy, and an image tag made from it, change when and
only when the source does.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path


def files(name: str, folder: Path | None = None) -> dict[str, bytes]:
    """``{"jhubctl/__init__.py": b"", "jhubctl/<name>/<module>.py": source, ...}``; ``folder`` defaults to the
    installed package (tests pass a changed copy)."""
    folder = folder or Path(__file__).parent / name
    copied = {"jhubctl/__init__.py": b""}
    for module in sorted(folder.glob("*.py")):
        copied[f"jhubctl/{name}/{module.name}"] = module.read_bytes()
    return copied


def digest(copied: Mapping[str, bytes]) -> str:
    """sha256 over paths and contents, in path order."""
    h = hashlib.sha256()
    for path in sorted(copied):
        h.update(f"{path}\0{len(copied[path])}\0".encode())
        h.update(copied[path])
    return h.hexdigest()
