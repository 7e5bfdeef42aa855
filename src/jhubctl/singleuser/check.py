"""``python -m jhubctl.singleuser.check <JupyterHub version>``: can this environment run a user server?

Run where the server will run, before anything depends on it: at the end of the singleuser image build
(as the servers' uid) and before a local venv is put in place. It fails, naming what is wrong, unless
`jupyterhub-singleuser` is installed beside this Python and imports, its JupyterHub is the hub's version
(a server of another version does not talk to its hub), ipykernel imports, and so do the plugins.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import sys
from pathlib import Path

MODULES = ("jupyterhub.singleuser", "ipykernel", "jhubctl.singleuser.contents", "jhubctl.singleuser.kernelws")


def problems(hub_version: str) -> list[str]:
    found = []
    script = Path(sys.executable).parent / "jupyterhub-singleuser"
    if not script.is_file():
        found.append(f"no jupyterhub-singleuser beside {sys.executable}")
    for module in MODULES:
        try:
            importlib.import_module(module)
        except Exception as exc:  # noqa: BLE001 - any failure to import is the answer
            found.append(f"import {module}: {type(exc).__name__}: {exc}")
    try:
        version = importlib.metadata.version("jupyterhub")
    except importlib.metadata.PackageNotFoundError:
        version = None
    if version != hub_version:
        found.append(f"JupyterHub {version or 'missing'} here, the hub runs {hub_version}")
    return found


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m jhubctl.singleuser.check <JupyterHub version of the hub>", file=sys.stderr)
        return 2
    found = problems(argv[0])
    for problem in found:
        print(f"jhubctl: this environment cannot run a user server: {problem}", file=sys.stderr)
    if not found:
        print(f"jhubctl: user server environment ok (JupyterHub {argv[0]}, {sys.executable})")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
