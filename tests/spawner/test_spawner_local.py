"""LocalConversationSpawner: folders, HOME, notebook_dir, and refusals that create nothing.

The spawner runs a real process here, but a tiny Python script instead of jupyterhub-singleuser:
it reports the working directory, environment and arguments it was started with.
"""

from __future__ import annotations

import asyncio
import os
import stat
from pathlib import Path

import pytest
from jupyterhub.spawner import SimpleLocalProcessSpawner

from jhubctl.spawner.local import LocalConversationSpawner
from jhubctl.spawner.naming import InvalidName
from tests.spawner.support import UUID, make, run


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_is_a_simple_local_process_spawner() -> None:
    assert issubclass(LocalConversationSpawner, SimpleLocalProcessSpawner)
    traits = LocalConversationSpawner.class_traits(config=True)
    assert traits["data_root"].help and traits["home_root"].help


def test_start_runs_in_the_conversation_folder(tmp_path: Path) -> None:
    data = tmp_path / "data"
    spawner = make(data, user_options={"conversationId": UUID.upper()})
    seen = run(spawner)

    folder = data / "alice" / "conversations" / UUID
    home = data / ".homes" / "alice" / UUID  # one HOME per conversation: its kernels' keys stay its own
    assert folder.is_dir() and home.is_dir()
    for created in (data, data / "alice", data / "alice" / "conversations", folder, data / ".homes", home.parent, home):
        assert mode(created) & 0o077 == 0, created  # private: umask can only narrow 0o700

    assert seen["cwd"] == str(folder)
    assert seen["root"] == str(folder)  # notebook_dir -> contents API root
    assert seen["home"] == str(home)
    assert seen["tmp"] == str(home / "tmp") and (home / "tmp").is_dir()
    assert spawner.notebook_dir == str(folder)
    assert spawner.home_dir == str(home)
    assert ("--ServerApp.allow_root=True" in seen["argv"]) == (os.geteuid() == 0)
    # runtime files go to HOME, the conversation folder stays as the user left it
    assert list(folder.iterdir()) == []


def test_named_server_is_the_conversation(tmp_path: Path) -> None:
    seen = run(make(tmp_path, name="demo-1"))
    assert seen["cwd"] == str(tmp_path / "alice" / "conversations" / "demo-1")


def test_restart_with_another_conversation_uses_the_new_folder(tmp_path: Path) -> None:
    spawner = make(tmp_path, user_options={"conversation_id": "first"})
    assert run(spawner)["cwd"] == str(tmp_path / "alice" / "conversations" / "first")

    spawner.user_options = {"conversation_id": "second"}  # the Hub keeps the instance
    seen = run(spawner)
    assert seen["cwd"] == seen["root"] == str(tmp_path / "alice" / "conversations" / "second")

    # and a refused third start leaves nothing of the second one behind
    spawner.user_options = {"conversation_id": "../third"}
    with pytest.raises(InvalidName):
        asyncio.run(spawner.start())
    with pytest.raises(RuntimeError, match="start\\(\\) must validate"):
        spawner.make_preexec_fn("alice")


def test_existing_files_are_kept(tmp_path: Path) -> None:
    folder = tmp_path / "alice" / "conversations" / "c1"
    folder.mkdir(parents=True)
    (folder / "c1.ipynb").write_text("{}")
    run(make(tmp_path, user_options={"conversationId": "c1"}))
    assert (folder / "c1.ipynb").read_text() == "{}"


def test_home_root_can_be_configured(tmp_path: Path) -> None:
    seen = run(make(tmp_path / "data", home_root=str(tmp_path / "homes"), user_options={"conversationId": "c1"}))
    assert seen["home"] == str(tmp_path / "homes" / "alice" / "c1")
    assert not (tmp_path / "data" / ".homes").exists()


def test_braces_in_the_data_root_reach_the_server_literally(tmp_path: Path) -> None:
    # Spawner.get_env() runs notebook_dir through str.format()
    data = tmp_path / "{user}x"
    seen = run(make(data, user_options={"conversationId": "c1"}))
    assert seen["root"] == seen["cwd"] == str(data / "alice" / "conversations" / "c1")


@pytest.mark.parametrize(
    ("user", "name", "options", "message"),
    [
        ("alice", "", {}, "the default server needs a conversation id"),
        ("alice", "", {"conversationId": "../x"}, "invalid conversation id '../x'"),
        ("alice", "", {"conversationId": "a/b"}, "path separator"),
        ("alice", "", {"conversation_id": None}, "must be a string, got null"),
        ("alice", "x", {"conversation_id": "y"}, "disagree"),
        ("alice", "", {"conversationId": "\u212a"}, "KELVIN SIGN"),
        ("../bob", "", {"conversationId": "c1"}, "invalid user name '../bob'"),
        ("Alice", "", {"conversationId": "c1"}, "create the user as 'alice'"),
    ],
)
def test_refusal_creates_nothing(tmp_path: Path, user: str, name: str, options: dict, message: str) -> None:
    data = tmp_path / "data"
    spawner = make(data, user=user, name=name, user_options=options)
    with pytest.raises(InvalidName) as info:
        asyncio.run(spawner.start())
    assert message in str(info.value)
    assert list(tmp_path.iterdir()) == []  # not even the data root
    assert spawner.proc is None and spawner.pid == 0


@pytest.mark.parametrize(
    ("data_root", "message"),
    [(None, "data_root is not set"), ("relative/data", "must be an absolute path")],
)
def test_data_root_must_be_configured(tmp_path: Path, monkeypatch, data_root, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    spawner = make(data_root, user_options={"conversationId": "c1"})
    with pytest.raises(ValueError, match=message):
        asyncio.run(spawner.start())
    assert list(tmp_path.iterdir()) == []
    assert spawner.proc is None


def test_a_symlink_out_of_the_data_root_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    outside = tmp_path / "outside"
    data.mkdir()
    outside.mkdir()
    (data / "alice").symlink_to(outside)
    spawner = make(data, user_options={"conversationId": "c1"})
    with pytest.raises(PermissionError, match="outside the data root"):
        asyncio.run(spawner.start())
    assert spawner.proc is None
    assert list(outside.iterdir()) == []  # nothing created through the link


def test_a_fenced_server_may_read_an_editable_installs_source_outside_its_venv(tmp_path: Path) -> None:
    """`local.interpreter: shared` with jhubctl installed editable (`pip install -e`): the server imports
    jhubctl's plugins from the clone's src/, which a .pth file puts on the path. The fence must let it
    read there, or every server fails to start."""
    import subprocess
    import sys

    from jhubctl.spawner.local import _python_folders

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True)
    source = tmp_path / "clone" / "src"
    source.mkdir(parents=True)
    [site] = (tmp_path / "venv" / "lib").glob("python*/site-packages")
    (site / "_editable_impl_demo.pth").write_text(f"{source}\n")
    folders = _python_folders(str(tmp_path / "venv" / "bin" / "python"))
    assert str(source) in folders
    assert str(tmp_path / "venv") in folders and str(site) not in folders  # inside the venv: already covered
    assert str(tmp_path / "clone") not in folders  # the clone itself (its .git, its state) stays out
