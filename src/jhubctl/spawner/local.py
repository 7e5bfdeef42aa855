"""Conversation spawner for the embedded local target (no Kubernetes, no system users).

Each spawn runs ``jupyterhub-singleuser`` as a local process whose working directory and contents
API root (``notebook_dir``) are ``<data_root>/<user>/conversations/<conversation>``, the same layout
as the shared volume of the cluster target. ``HOME`` is ``<home_root>/<user>`` instead, so Jupyter
runtime files, IPython history and pip caches never land in a conversation folder.

Isolation on the local target is by folder only: every server runs as the same OS user as the hub,
so a kernel can read any other conversation's folder. It is a development target, not a sandbox.

Imports only JupyterHub and the standard library: kubespawner is not installed on the local target.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Unicode, default

from .naming import SpawnTarget, spawn_target

__all__ = ["LocalConversationSpawner"]

_PRIVATE_DIR_MODE = 0o700


def _escape_format(text: str) -> str:
    """Protect a literal path from ``Spawner.format_string`` (``str.format``) applied to notebook_dir."""
    return text.replace("{", "{{").replace("}", "}}")


def _make_private_dirs(root: str, relative: str) -> str:
    """Create ``root/relative`` one level at a time, each new level mode 0o700.

    ``os.makedirs(mode=...)`` applies the mode to the last level only; the ``<user>`` and
    ``conversations`` levels must not be world-readable either. Existing folders are left as they
    are. The result must stay inside ``root`` even if a level already exists as a symlink (the
    names are validated, but the file system may hold anything).
    """
    os.makedirs(root, mode=_PRIVATE_DIR_MODE, exist_ok=True)
    real_root = os.path.realpath(root)
    path = root
    for part in relative.split("/"):
        path = os.path.join(path, part)
        try:
            os.mkdir(path, mode=_PRIVATE_DIR_MODE)
        except FileExistsError:
            pass
        # checked before going one level deeper, so nothing is ever created outside the root
        real_path = os.path.realpath(path)
        if os.path.commonpath([real_root, real_path]) != real_root:
            raise PermissionError(f"{path} resolves to {real_path}, outside the data root {real_root}")
        if not os.path.isdir(path):
            raise NotADirectoryError(f"{path} exists and is not a folder")
    return path


class LocalConversationSpawner(SimpleLocalProcessSpawner):
    """Local process per conversation, working in that conversation's folder.

    Validation comes first in ``start()``: a refused name creates no folder and starts no process,
    and the error message (which JupyterHub shows in the progress stream's ``failed`` event) says why.
    Everything derived from the spawn request is recomputed on every ``start()``: the Hub keeps
    this object across restarts, and a restart for another conversation must use the new folder.
    """

    data_root = Unicode(
        "",
        config=True,
        help="""Absolute path of the local data root (required).

        Conversation folders are ``<data_root>/<user>/conversations/<conversation>``, the layout
        of the shared volume on the cluster. Created (mode 0700) if missing.
        """,
    )

    home_root = Unicode(
        "",
        config=True,
        help="""Folder holding each user's HOME, ``<home_root>/<user>``.

        Defaults to ``<data_root>/.homes`` (no user name contains '.', so it cannot clash with a
        user's folder). Kept apart from conversation folders so that Jupyter runtime files do not
        show up in a conversation.
        """,
    )

    @default("home_root")
    def _default_home_root(self) -> str:
        return os.path.join(self.data_root, ".homes") if self.data_root else ""

    # Set by start() for the spawn in progress; never trusted across starts.
    _conversation_dir: str | None = None

    def _roots(self) -> tuple[str, str]:
        """The configured roots, checked: relative paths would depend on the hub's cwd."""
        if not self.data_root:
            raise ValueError("LocalConversationSpawner.data_root is not set: configure the local data root")
        if not os.path.isabs(self.data_root):
            raise ValueError(f"LocalConversationSpawner.data_root must be an absolute path, not {self.data_root!r}")
        if not os.path.isabs(self.home_root):
            raise ValueError(f"LocalConversationSpawner.home_root must be an absolute path, not {self.home_root!r}")
        return self.data_root, self.home_root

    def spawn_target(self) -> SpawnTarget:
        """Validate this spawn's user, server name and user_options (see ``naming.spawn_target``)."""
        return spawn_target(self.user.name, self.name, self.user_options)

    def make_preexec_fn(self, name: str) -> Callable[[], None]:
        """Start the server in the conversation folder.

        Unlike SimpleLocalProcessSpawner's, this one does not swallow errors: a server that cannot
        enter its folder must fail rather than run somewhere else.
        """
        folder = self._conversation_dir
        if folder is None:
            raise RuntimeError("no conversation folder: start() must validate the spawn first")

        def preexec() -> None:
            os.chdir(folder)

        return preexec

    def get_args(self) -> list[str]:
        """jupyter-server refuses to run as root; the local target may well run as root (containers, CI)."""
        args: list[str] = list(super().get_args())
        if os.geteuid() == 0 and not any(
            arg == "--allow-root" or arg.startswith("--ServerApp.allow_root") for arg in args
        ):
            args.append("--ServerApp.allow_root=True")
        return args

    async def start(self) -> Any:
        """Validate, create the conversation folder and HOME, then start the process there."""
        self._conversation_dir = None
        target = self.spawn_target()  # raises InvalidName before anything exists
        data_root, home_root = self._roots()

        folder = _make_private_dirs(data_root, target.subpath)
        home = _make_private_dirs(home_root, target.user)

        self._conversation_dir = folder
        self.home_dir = home
        self.notebook_dir = _escape_format(folder)
        self.log.info("Conversation %s of %s in %s", target.conversation, target.user, folder)
        return await super().start()
