"""The local server venv: one per lock, reused while the lock stands, rebuilt when it changes, never half-built;
its copy of the server plugins follows the package without a rebuild."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from jhubctl import standalone
from jhubctl.errors import JhubctlError
from jhubctl.packages import ensure_lock
from jhubctl.packages.uv import find_uv
from jhubctl.packages.venv import base_python, current_venv, ensure_venv, prune, public, site_packages, venv_link
from tests.interp.support import TINY, load, runs_as_root

PLUGINS = Path(__file__).parents[2] / "src" / "jhubctl" / "singleuser"


def build(folder: Path, config: str, uv_bin: str | None = None):
    loaded = load(folder, config)
    lock, _ = ensure_lock(loaded)
    venv, built = ensure_venv(loaded.state_dir, lock, uv_bin=uv_bin or find_uv(), public_only=runs_as_root())
    return loaded, lock, venv, built


def python_reports(venv_python: Path, code: str) -> str:
    return subprocess.run([str(venv_python), "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_reused_while_the_lock_stands_rebuilt_when_it_changes(public_dir: Path) -> None:
    loaded, lock, venv, built = build(public_dir, TINY)
    assert built and venv.path == loaded.state_dir / "interpreter" / "envs" / lock.key
    assert venv_link(loaded.state_dir).resolve() == venv.path
    # the server's own packages, at the lock's versions, in the venv's own Python
    versions = python_reports(venv.python, "import importlib.metadata as m, sys; "
                                           "print(m.version('jupyterhub'), m.version('ipykernel'), sys.prefix)")
    assert versions.split() == ["4.0.2", lock.pins()["ipykernel"], str(venv.path)]
    marker = venv.path / "jhubctl-test-marker"
    marker.write_text("same venv")

    _, same_lock, again, built = build(public_dir, TINY)
    assert not built and again == venv and same_lock.sha256 == lock.sha256
    assert marker.read_text() == "same venv"  # not rebuilt, not touched

    changed = TINY.replace("[ipykernel]", "[ipykernel, iniconfig]")
    _, new_lock, new, built = build(public_dir, changed)
    assert built and new.key == new_lock.key != lock.key and new.path != venv.path
    assert current_venv(loaded.state_dir) == new  # the link now names the new venv
    assert python_reports(new.python, "import iniconfig; print('ok')") == "ok"
    assert venv.path.is_dir()  # a running server may still use the old one...
    assert prune(loaded.state_dir, new) == [venv.path] and not venv.path.exists()  # ...until no hub runs


def test_a_failed_build_leaves_no_venv_and_the_link_as_it_was(public_dir: Path) -> None:
    loaded, lock, venv, _ = build(public_dir, TINY)
    # uv that creates the venv, then dies half way through installing (as a kill or a full disk would)
    fake = public_dir / "uv-dies"
    fake.write_text(f'#!/bin/sh\nif [ "$2" = sync ]; then touch "$(dirname "$5")/../half"; exit 9; fi\n'
                    f'exec {find_uv()} "$@"\n')
    fake.chmod(0o755)
    other = TINY.replace("[ipykernel]", "[ipykernel, iniconfig]")
    with pytest.raises(JhubctlError, match="installing the interpreter lock failed"):
        build(public_dir, other, uv_bin=str(fake))
    envs = loaded.state_dir / "interpreter" / "envs"
    assert sorted(p.name for p in envs.iterdir()) == [lock.key]  # nothing half-built, under any name
    assert current_venv(loaded.state_dir) == venv

    # a build killed outright leaves its hidden folder behind: the next build removes it first
    new_lock, _ = ensure_lock(load(public_dir, other))
    leftover = envs / f".{new_lock.key}.building"
    (leftover / "bin").mkdir(parents=True)
    new, built = ensure_venv(loaded.state_dir, new_lock, uv_bin=find_uv(), public_only=runs_as_root())
    assert built and not leftover.exists() and new.python.exists()


def test_base_python_must_be_reachable_by_other_users_when_servers_get_their_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "private" / "bin"
    private.mkdir(parents=True)
    os.chmod(tmp_path / "private", 0o700)
    python = private / "python3.99"
    python.write_text("#!/bin/sh\n")
    python.chmod(0o755)
    assert not public(python)
    os.chmod(tmp_path / "private", 0o755)
    assert public(python) == all(os.stat(p).st_mode & stat.S_IXOTH for p in python.parents)

    os.chmod(tmp_path / "private", 0o700)
    monkeypatch.setenv("PATH", f"{private}{os.pathsep}{os.environ['PATH']}")
    with pytest.raises(JhubctlError, match="no Python 3.99 that every user can run"):
        base_python("3.99", public_only=True)
    assert base_python("3.99", public_only=False) == str(python)


def test_the_plugin_copy_follows_the_package_without_rebuilding_the_venv(public_dir: Path, tmp_path: Path) -> None:
    loaded, lock, venv, _ = build(public_dir, TINY)
    site = site_packages(venv.path)
    assert site == venv.path / "lib" / "python3.11" / "site-packages"  # where the image copies them too
    link = site / "jhubctl"
    first = link.resolve()
    assert link.is_symlink() and first.parent.parent == venv.path / "jhubctl-plugins"
    assert {str(p.relative_to(first.parent)): p.read_bytes() for p in first.rglob("*.py")} == standalone.files(
        "singleuser")
    marker = venv.path / "jhubctl-test-marker"
    marker.write_text("same venv")

    changed = tmp_path / "singleuser"
    shutil.copytree(PLUGINS, changed, ignore=shutil.ignore_patterns("__pycache__"))
    (changed / "kernelws.py").write_text((changed / "kernelws.py").read_text() + "\nREFRESHED = True\n")

    def ensure(folder: Path | None = None) -> bool:
        _, built = ensure_venv(loaded.state_dir, lock, uv_bin=find_uv(), public_only=runs_as_root(),
                               plugins=standalone.files("singleuser", folder))
        return built

    assert ensure(changed) is False and marker.exists()  # not rebuilt
    second = link.resolve()
    assert second != first and first.is_dir()  # the old copy stays while a server may use it
    assert python_reports(venv.python, "import os, jhubctl.singleuser.kernelws as k; print(k.REFRESHED, os.path.realpath(k.__file__))") == (
        f"True {second / 'singleuser' / 'kernelws.py'}")
    stamp = link.lstat().st_mtime_ns
    ensure(changed)
    assert link.lstat().st_mtime_ns == stamp  # the same content: nothing written

    # a copy that cannot import is refused before it is linked, and leaves nothing behind
    (changed / "contents.py").write_text("import jhubctl_no_such_module\n")
    with pytest.raises(JhubctlError, match="cannot run a user server") as info:
        ensure(changed)
    assert "jhubctl_no_such_module" in info.value.message
    assert link.resolve() == second
    store = venv.path / "jhubctl-plugins"
    assert sorted(p.name for p in store.iterdir()) == sorted([first.parent.name, second.parent.name])

    # a run killed half-way through a copy leaves a hidden folder: the next run removes it
    (store / ".0123456789abcdef.copying" / "jhubctl").mkdir(parents=True)
    ensure()  # the installed package again: its copy exists, the link goes back to it
    assert link.resolve() == first and not list(store.glob(".*"))
    assert prune(loaded.state_dir, current_venv(loaded.state_dir)) == [second.parent]  # no hub runs: unlinked go
    assert sorted(p.name for p in store.iterdir()) == [first.parent.name]


def test_the_server_check_names_a_jupyterhub_of_another_version(public_dir: Path) -> None:
    _, lock, venv, _ = build(public_dir, TINY)
    done = subprocess.run([str(venv.python), "-m", "jhubctl.singleuser.check", "4.1.0"], capture_output=True, text=True)
    assert done.returncode == 1
    assert done.stderr.strip() == ("jhubctl: this environment cannot run a user server: JupyterHub 4.0.2 here, "
                                   "the hub runs 4.1.0")
    ok = subprocess.run([str(venv.python), "-m", "jhubctl.singleuser.check", lock.jupyterhub or ""],
                        capture_output=True, text=True)
    assert ok.returncode == 0 and "user server environment ok (JupyterHub 4.0.2" in ok.stdout
