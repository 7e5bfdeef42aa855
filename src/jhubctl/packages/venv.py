"""The local target's server environment: a venv built from the interpreter lock, named by the lock's hash.

`<state>/interpreter/envs/<lock key>/` is built once per lock and reused by every later `up`; a new
lock builds a new venv beside it. The build happens in a hidden folder that is renamed into place only
when complete (uv makes the venv relocatable), so a killed build is never used: the next run deletes
it and starts again. `<state>/interpreter/venv` is a symlink to the venv of the current lock, replaced
atomically; the hub config names the link, and the spawner resolves it at each start, so a running
server keeps the venv it started with.

jhubctl's server plugins (`jhubctl.singleuser`) are copied into each venv and kept current without
rebuilding it: every content gets a folder of its own (`<venv>/jhubctl-plugins/<digest>/jhubctl/`),
written aside and renamed into place, and `site-packages/jhubctl` is a symlink swapped to it in one
rename, so a server starting meanwhile imports the old copy or the new one, never half of either.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import standalone
from ..errors import JhubctlError
from ..state import ensure_private_dir
from . import uv
from .lock import Lock

#: Inside a venv: one folder per content of the server plugins.
PLUGINS = "jhubctl-plugins"


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
                on_line: Callable[[str], None] | None = None,
                plugins: Mapping[str, bytes] | None = None) -> tuple[Venv, bool]:
    """The venv of `lock`, built if missing, with the current server plugins, and made current; (venv, built).

    `plugins` (default: the installed `jhubctl.singleuser`) as `standalone.files` gives them. Call under
    the state lock.
    """
    plugins = standalone.files("singleuser") if plugins is None else plugins
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
            ensure_plugins(aside, plugins)
            check_server(aside, lock)
            os.rename(aside, target.path)
        except BaseException:
            shutil.rmtree(aside, ignore_errors=True)
            raise
        built = True
    else:
        ensure_plugins(target.path, plugins, check=lambda copy: check_server(target.path, lock, copy))
    _point_link(venv_link(state_dir), target.path)
    return target, built


def check_server(venv: Path, lock: Lock, plugins: Path | None = None) -> None:
    """`jhubctl.singleuser.check` in the venv (what the image build runs): the server, the kernel and the plugins
    import, and JupyterHub is the hub's version. `plugins`: check that copy of them instead of the linked one."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    if plugins is not None:
        env["PYTHONPATH"] = str(plugins)  # ahead of site-packages: the new copy is what imports
    proc = subprocess.run([str(venv / "bin" / "python"), "-m", "jhubctl.singleuser.check", lock.jupyterhub or "?"],
                          capture_output=True, text=True, timeout=120, cwd=venv, env=env)
    if proc.returncode != 0:
        raise JhubctlError(f"the server venv {venv.name} cannot run a user server:\n{proc.stderr.strip()[-2000:]}")


def site_packages(venv: Path) -> Path:
    found = sorted(venv.glob("lib/python3*/site-packages"))
    if len(found) != 1:
        raise JhubctlError(f"{venv} is not a venv of one Python 3 (site-packages: {len(found)} found)")
    return found[0]


def ensure_plugins(venv: Path, copied: Mapping[str, bytes], *,
                   check: Callable[[Path], None] | None = None) -> bool:
    """Make `copied` the venv's `jhubctl` package; True if it changed. `check` sees a new copy before it is linked.

    A copy is written aside and renamed to `<venv>/jhubctl-plugins/<digest>` only when complete; a killed run
    leaves a hidden folder the next one removes. Unlinked copies stay until `prune` (no hub runs then): a
    running server may still import from the one it started with.
    """
    store = venv / PLUGINS
    key = standalone.digest(copied)[:16]
    copy = store / key
    link = site_packages(venv) / "jhubctl"
    if link.exists() and not link.is_symlink():
        raise JhubctlError(f"{link} is a package installed from the lock: interpreter.requirements must not "
                           "install jhubctl (its server plugins are copied in)")
    for leftover in store.glob(".*.copying") if store.is_dir() else ():
        shutil.rmtree(leftover, ignore_errors=True)  # a killed run's; the state lock is ours
    if not copy.is_dir():
        store.mkdir(mode=0o755, exist_ok=True)
        aside = store / f".{key}.copying"
        try:
            for path, content in copied.items():
                dest = aside / path
                dest.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
                dest.write_bytes(content)
                dest.chmod(0o644)  # servers with a user of their own read it
            for folder in (aside, *{aside / p for path in copied for p in Path(path).parents if str(p) != "."}):
                folder.chmod(0o755)
            if check is not None:
                check(aside)
            os.rename(aside, copy)
        except BaseException:
            shutil.rmtree(aside, ignore_errors=True)
            raise
    return _point_link(link, copy / "jhubctl")


def _point_link(link: Path, target: Path) -> bool:
    """Replace the symlink in one rename: a reader sees the old target or the new one, never neither.
    True if it changed."""
    relative = os.path.relpath(target, link.parent)
    if link.is_symlink() and os.readlink(link) == relative:
        return False
    tmp = link.with_name(f".{link.name}.{os.getpid()}")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(relative)
    os.replace(tmp, link)
    return True


def prune(state_dir: Path, keep: Venv) -> list[Path]:
    """Delete the venvs of older locks, and the unlinked plugin copies of `keep`; only when no server can be
    using one (no hub runs)."""
    removed = []
    envs = interpreter_dir(state_dir) / "envs"
    for path in envs.iterdir() if envs.is_dir() else ():
        if path.name != keep.key and not path.name.startswith("."):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    store = keep.path / PLUGINS
    linked = (site_packages(keep.path) / "jhubctl").resolve().parent if store.is_dir() else None
    for path in store.iterdir() if store.is_dir() else ():
        if path.resolve() != linked:
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
