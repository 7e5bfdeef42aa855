"""The local target's server environment: a venv built from the interpreter lock, named by the lock's hash.

`<state>/interpreter/envs/<lock key>/` is built once per lock and reused by every later `up`; a new
lock builds a new venv beside it. The build happens in a hidden folder that is renamed into place only
when complete (uv makes the venv relocatable), so a killed build is never used: the next run deletes
it and starts again. `<state>/interpreter/venv` is a symlink to the venv of the current lock, replaced
atomically; the hub config names the link, and the spawner resolves it at each start, so a running
server keeps the venv it started with.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import JhubctlError
from ..state import ensure_private_dir
from . import uv
from .lock import Lock


def interpreter_dir(state_dir: Path) -> Path:
    return state_dir / "interpreter"


def venv_link(state_dir: Path) -> Path:
    """The path the hub config names; a symlink to the current lock's venv."""
    return interpreter_dir(state_dir) / "venv"


def server_python(state_dir: Path) -> Path:
    return venv_link(state_dir) / "bin" / "python"


@dataclass(frozen=True)
class Venv:
    path: Path
    key: str

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"


def public(path: Path) -> bool:
    """Whether any user may reach and run `path`: every folder above searchable by others, the file too."""
    try:
        real = path.resolve(strict=True)
    except OSError:
        return False
    for folder in real.parents:
        if not os.stat(folder).st_mode & stat.S_IXOTH:
            return False
    return bool(os.stat(real).st_mode & stat.S_IXOTH)


def base_python(version: str, *, public_only: bool) -> str:
    """An installed Python `version` to build the venv on: jhubctl's own first, then `python<version>`.

    With `public_only` (servers run as users of their own), the interpreter must be reachable by any
    user: a Python under /root, say, is not. uv never downloads one here: such a download is a
    toolchain from outside the package index.
    """
    candidates: list[str] = []
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        candidates.append(getattr(sys, "_base_executable", sys.executable))
    for name in (f"python{version}",):
        found = shutil.which(name)
        if found:
            candidates.append(found)
        candidates += [f"/usr/bin/{name}", f"/usr/local/bin/{name}"]
    for candidate in candidates:
        path = Path(candidate)
        if path.is_file() and (not public_only or public(path)):
            return str(path)
    where = " that every user can run (servers run as users of their own)" if public_only else ""
    raise JhubctlError(
        f"no Python {version}{where} is installed: looked at {', '.join(dict.fromkeys(candidates)) or 'PATH'}",
        hint=f"install python{version} (e.g. apt-get install python{version}), or change interpreter.python",
    )


def _clean_leftovers(envs: Path) -> None:
    for leftover in envs.glob(".*.building"):
        shutil.rmtree(leftover, ignore_errors=True)


def ensure_venv(state_dir: Path, lock: Lock, *, uv_bin: str, public_only: bool,
                on_line: Callable[[str], None] | None = None) -> tuple[Venv, bool]:
    """The venv of `lock`, built if missing, and made current; (venv, built). Call under the state lock."""
    envs = ensure_private_dir(interpreter_dir(state_dir) / "envs")
    target = Venv(envs / lock.key, lock.key)
    built = False
    if not target.path.is_dir():
        _clean_leftovers(envs)
        aside = envs / f".{lock.key}.building"
        python = base_python(lock.python or "3", public_only=public_only)
        try:
            uv.run(uv.venv_argv(uv_bin, aside, python), what="creating the server venv", on_line=on_line)
            uv.run(uv.sync_argv(uv_bin, lock.path, aside), what="installing the interpreter lock", on_line=on_line)
            _check_server(Venv(aside, lock.key), lock)
            os.rename(aside, target.path)
        except BaseException:
            shutil.rmtree(aside, ignore_errors=True)
            raise
        built = True
    _point_link(venv_link(state_dir), target.path)
    return target, built


def _check_server(venv: Venv, lock: Lock) -> None:
    """The venv runs, and carries the hub's JupyterHub: a server of another version would not talk to it."""
    probe = "import importlib.metadata as m, ipykernel, jupyterhub.singleuser; print(m.version('jupyterhub'))"
    proc = subprocess.run([str(venv.python), "-c", probe], capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise JhubctlError(f"the new server venv does not start a server:\n{proc.stderr.strip()[-2000:]}")
    if lock.jupyterhub and proc.stdout.strip() != lock.jupyterhub:
        raise JhubctlError(f"the server venv has JupyterHub {proc.stdout.strip()}, the hub runs {lock.jupyterhub}")


def _point_link(link: Path, target: Path) -> None:
    """Replace the symlink in one rename: a spawn reads the old venv or the new one, never neither."""
    relative = os.path.relpath(target, link.parent)
    if link.is_symlink() and os.readlink(link) == relative:
        return
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(relative)
    os.replace(tmp, link)


def prune(state_dir: Path, keep: Venv) -> list[Path]:
    """Delete the venvs of older locks; only when no server can be using one (no hub runs)."""
    removed = []
    envs = interpreter_dir(state_dir) / "envs"
    for path in envs.iterdir() if envs.is_dir() else ():
        if path.name != keep.key and not path.name.startswith("."):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def current_venv(state_dir: Path) -> Venv | None:
    """The venv the link points at, if it exists."""
    link = venv_link(state_dir)
    try:
        real = link.resolve(strict=True)
    except OSError:
        return None
    return Venv(real, real.name)
