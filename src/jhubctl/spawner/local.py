"""Conversation spawner for the embedded local target (no Kubernetes, no system users).

Each spawn runs ``jupyterhub-singleuser`` as a local process whose working directory and contents
API root (``notebook_dir``) are ``<data_root>/<user>/conversations/<conversation>``, the same layout
as the shared volume of the cluster target. ``HOME`` is ``<home_root>/<user>/<conversation>``
instead (with ``TMPDIR`` inside it), so Jupyter runtime files, kernel connection files, IPython
history and caches never land in a conversation folder and never reach another conversation.

With ``fence`` on, the server and its kernels are confined to those two folders, their Python
environment and system files (see ``fence``): Landlock where the kernel has it, and a user of their
own when the hub runs as root (behind a veil when that user cannot walk to its folders). Without it,
every server runs as the hub's OS user and isolation is by folder name only.

The server's Python is ``cmd[0]``; a symlink to it is resolved at each start (``up`` points
``<state>/interpreter/venv`` at the current lock's venv), so a running server keeps the environment
it started with.

Imports only JupyterHub and the standard library: kubespawner is not installed on the local target.
"""

from __future__ import annotations

import json
import os
import pwd
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable
from typing import Any

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import Bool, List, Unicode, default

from .fence import (
    FENCE_GID,
    FENCE_UID_SPAN,
    SYSTEM_READ,
    SYSTEM_WRITE,
    Plan,
    landlock_abi,
    launcher,
    outermost,
    veil_problem,
)
from .naming import SpawnTarget, spawn_target

__all__ = ["LocalConversationSpawner"]

_PRIVATE_DIR_MODE = 0o700


def _escape_format(text: str) -> str:
    """Protect a literal path from ``Spawner.format_string`` (``str.format``) applied to notebook_dir."""
    return text.replace("{", "{{").replace("}", "}}")


def _make_private_dirs(root: str, relative: str, group: int | None = None) -> str:
    """Create ``root/relative`` one level at a time, each new level mode 0o700.

    ``os.makedirs(mode=...)`` applies the mode to the last level only; the ``<user>`` and
    ``conversations`` levels must not be world-readable either. Existing folders are left as they
    are. The result must stay inside ``root`` even if a level already exists as a symlink (the
    names are validated, but the file system may hold anything).

    With `group` (the fence's servers' group), every level but the last is made searchable, not
    readable, by that group: a server's user can then walk to its own folder and list nothing on
    the way. The last level is the caller's to hand over.
    """
    os.makedirs(root, mode=_PRIVATE_DIR_MODE, exist_ok=True)
    real_root = os.path.realpath(root)
    path = root
    parts = relative.split("/")
    if group is not None:
        _passage(root, group)
    for index, part in enumerate(parts):
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
        if group is not None and index < len(parts) - 1:
            _passage(path, group)
    return path


def _passage(folder: str, group: int) -> None:
    """Searchable by `group`, not listable: owner rwx, group x, others nothing."""
    info = os.stat(folder)
    if info.st_gid != group:
        os.chown(folder, -1, group)
    if stat.S_IMODE(info.st_mode) != 0o710:
        os.chmod(folder, 0o710)


def _hand_over(path: str, uid: int, gid: int) -> None:
    """Make a folder (and what is in it, once) the server user's own; symlinks are not followed."""
    if os.lstat(path).st_uid == uid:
        return
    for folder, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(folder, name), uid, gid)
    os.chown(path, uid, gid)
    os.chmod(path, 0o700)


class FenceError(PermissionError):
    """A server the fence cannot confine. ``log_message`` makes JupyterHub's API answer with these words
    (a failed start POST otherwise says only "error")."""

    log_message = "%s"


def blocking(path: str, uid: int, gid: int) -> list[str]:
    """The folders above `path` that user uid:gid cannot search, top first."""
    blocked = []
    current = os.path.dirname(os.path.realpath(path))
    while True:
        info = os.stat(current)
        if info.st_uid == uid:
            ok = info.st_mode & stat.S_IXUSR
        elif info.st_gid == gid:
            ok = info.st_mode & stat.S_IXGRP
        else:
            ok = info.st_mode & stat.S_IXOTH
        if not ok:
            blocked.insert(0, current)
        parent = os.path.dirname(current)
        if parent == current:
            return blocked
        current = parent


def unreachable(path: object, blocked: list[str], problem: str) -> str:
    """Why a server's user cannot reach `path`, for the spawn's error and `up`'s (one line each)."""
    one = len(blocked) == 1
    return (f"cannot reach {path}: {', '.join(blocked)} {'is' if one else 'are'} not searchable by other users, "
            f"and servers cannot get a mount namespace of their own that hides {'it' if one else 'them'} ({problem})")


_folders: dict[str, list[str]] = {}

_FOLDERS_PROBE = """import json, os, sys
prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
outside = {p for p in sys.path if os.path.isdir(p) and not any(p.startswith(x + os.sep) for x in prefixes)}
print(json.dumps(sorted(prefixes | outside)))"""


def _python_folders(python: str) -> list[str]:
    """The folders a Python needs to run: its venv, the installation under it, and any import path
    outside both (an editable install's source tree, added by a .pth file); asked once per Python."""
    if python not in _folders:
        out = subprocess.run([python, "-I", "-c", _FOLDERS_PROBE], capture_output=True, text=True, timeout=60,
                             check=True).stdout
        _folders[python] = json.loads(out)
    return _folders[python]


def _resolve_python(python: str) -> str:
    """Resolve symlinks in the folders above the interpreter, not the interpreter itself: a venv's
    ``bin/python`` is a symlink to the base Python, and following it would leave the venv."""
    return os.path.join(os.path.realpath(os.path.dirname(python)), os.path.basename(python))


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
        help="""Folder holding each conversation's HOME, ``<home_root>/<user>/<conversation>``.

        Defaults to ``<data_root>/.homes`` (no user name contains '.', so it cannot clash with a
        user's folder). Kept apart from conversation folders so that Jupyter runtime files do not
        show up in a conversation; one per conversation, so that a kernel's connection file (its
        key) and IPython history are out of other conversations' reach. ``TMPDIR`` is its ``tmp``.
        """,
    )

    fence = Bool(
        False,
        config=True,
        help="""Confine each server and its kernels (see ``jhubctl.spawner.fence``).

        Read and write: the conversation folder and its HOME. Read only: the server's Python
        environment and the system files programs need. Landlock where the kernel has it; when the
        hub runs as root, each conversation's server also runs as a uid of its own (never as root),
        in a mount namespace of its own that veils the folders on its way it could not search.
        A spawn fails, saying why, if the fence cannot be built; `up` and `status` say whether it is on.
        """,
    )

    passage = List(
        Unicode(),
        config=True,
        help="""Folders above the data root and the server's Python that the hub's owner created
        (the state directory and the folders in it), when servers run as users of their own.

        Each is made searchable, not listable, by the servers' group, and the other entries in
        it are made private to their owner, so a server can walk through and read nothing there.
        A folder that blocks the way and is not listed here fails the spawn, naming it.
        """,
    )

    @default("home_root")
    def _default_home_root(self) -> str:
        return os.path.join(self.data_root, ".homes") if self.data_root else ""

    # Set by start() for the spawn in progress; never trusted across starts.
    _conversation_dir: str | None = None
    _tmp_dir: str | None = None
    _python: str | None = None

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

    def _runs_as_root(self) -> bool:
        return os.geteuid() == 0 and not (self.fence and self._server_uid is not None)

    _server_uid: int | None = None

    def get_args(self) -> list[str]:
        """jupyter-server refuses to run as root; the local target may well run as root (containers, CI)."""
        args: list[str] = list(super().get_args())
        if self._runs_as_root() and not any(
            arg == "--allow-root" or arg.startswith("--ServerApp.allow_root") for arg in args
        ):
            args.append("--ServerApp.allow_root=True")
        return args

    def get_env(self) -> dict[str, str]:
        """HOME and TMPDIR of the conversation; a server in a venv of its own sees that venv first and
        nothing of the hub's Python path."""
        env: dict[str, str] = super().get_env()
        if self._tmp_dir:
            env["TMPDIR"] = self._tmp_dir
        if self._python is not None:
            prefix = os.path.dirname(os.path.dirname(self._python))
            if os.path.realpath(prefix) != os.path.realpath(sys.prefix):
                env.pop("PYTHONPATH", None)
                env["VIRTUAL_ENV"] = prefix
                env["PATH"] = os.pathsep.join([os.path.join(prefix, "bin"), env.get("PATH", os.defpath)])
        return env

    def _allocate_uid(self, folder: str, home: str) -> int:
        """The conversation's own uid: the owner of its folder if it has one from the fence's range,
        else the next free one. The file system is the registry: nothing to keep in step."""
        low, high = FENCE_GID + 1, FENCE_GID + FENCE_UID_SPAN
        owner = os.lstat(folder).st_uid
        if low <= owner < high:
            return owner
        taken = set()
        for pattern_root, depth in ((self.data_root, 3), (self.home_root, 2)):
            taken |= {uid for uid in _owners(pattern_root, depth) if low <= uid < high}
        uid = max(taken, default=low - 1) + 1
        while uid < high:
            try:
                pwd.getpwuid(uid)
            except KeyError:
                return uid
            uid += 1
        raise RuntimeError("the fence's uid range is exhausted: remove old conversation folders")

    def _open_passage(self, gid: int, keep: Iterable[str]) -> None:
        """Make the listed folders searchable by the servers' group; everything else in them private."""
        keep = {os.path.realpath(p) for p in keep}
        for folder in self.passage:
            if not os.path.isdir(folder):
                continue
            _passage(folder, gid)
            for entry in os.scandir(folder):
                real = os.path.realpath(entry.path)
                on_the_way = any(k == real or k.startswith(real + os.sep) for k in keep)
                if entry.is_symlink() or on_the_way:
                    continue
                mode = stat.S_IMODE(entry.stat(follow_symlinks=False).st_mode)
                if mode & 0o077:
                    os.chmod(entry.path, mode & 0o700)

    def _plan(self, folder: str, home: str, python: str) -> Plan | None:
        """What the launcher does before the server runs; None when there is nothing to do.

        As root: a uid of its own, and a veil over the outermost folders on the way that this uid cannot
        search (a state directory under /root); a spawn fails, saying why, where no veil can be made.
        """
        memory = int(self.mem_limit) if self.mem_limit else None
        if self.cpu_limit:
            self.log.warning("cpu_limit %s is not enforced on the local target (no per-process CPU quota "
                             "without a writable cgroup v2)", self.cpu_limit)
        if not self.fence:
            return Plan(memory=memory) if memory else None
        python_folders = _python_folders(python)
        landlock = landlock_abi() > 0
        uid = gid = None
        veil: list[str] = []
        if os.geteuid() == 0:
            gid = FENCE_GID
            self._open_passage(gid, [folder, home, *python_folders])
            uid = self._allocate_uid(folder, home)
            _hand_over(folder, uid, gid)
            _hand_over(home, uid, gid)
            needed = [folder, home, *python_folders, python]
            blocked = {path: blocking(os.path.join(path, "."), uid, gid) for path in needed}
            veil = outermost(b for folders in blocked.values() for b in folders)
            problem = veil_problem() if veil else None
            if problem is not None:
                path = next(path for path, folders in blocked.items() if folders)
                raise FenceError(f"the fence runs this server as uid {uid}, which "
                                 f"{unreachable(path, blocked[path], problem)}; move the state directory (or "
                                 "local.data_dir) out of there, run servers in the locked venv (built on a Python "
                                 "every user can run), or set local.fence: false")
        elif not landlock:
            self.log.warning("fence off for %s: no Landlock on this kernel and the hub does not run as root", folder)
            return Plan(memory=memory) if memory else None
        self._server_uid = uid
        return Plan(read=[*python_folders, *SYSTEM_READ], write=[folder, home, *SYSTEM_WRITE], landlock=landlock,
                    uid=uid, gid=gid, memory=memory, veil=veil)

    async def start(self) -> Any:
        """Validate, create the conversation folder and HOME, confine, then start the process there."""
        self._conversation_dir = self._tmp_dir = self._python = self._server_uid = None
        target = self.spawn_target()  # raises InvalidName before anything exists
        data_root, home_root = self._roots()
        group = FENCE_GID if self.fence and os.geteuid() == 0 else None

        folder = _make_private_dirs(data_root, target.subpath, group)
        home = _make_private_dirs(home_root, f"{target.user}/{target.conversation}", group)
        tmp = os.path.join(home, "tmp")
        os.makedirs(tmp, mode=_PRIVATE_DIR_MODE, exist_ok=True)

        configured = list(self.cmd)
        python = _resolve_python(configured[0])
        if not os.path.isfile(python):
            raise FileNotFoundError(f"the server's Python {configured[0]} does not exist: `jhubctl up` builds the "
                                    "interpreter venv (or set local.interpreter: shared)")
        plan = self._plan(folder, home, python)

        self._conversation_dir = folder
        self._tmp_dir = tmp
        self._python = python
        self.home_dir = home
        self.notebook_dir = _escape_format(folder)
        self.log.info("Conversation %s of %s in %s (%s)", target.conversation, target.user, folder,
                      "fenced" if plan is not None and (plan.landlock or plan.uid is not None) else "not fenced")
        server = [python, *configured[1:]]
        self.cmd = launcher(plan, server) if plan is not None else server
        try:
            return await super().start()  # reads self.cmd before its first await
        finally:
            self.cmd = configured


def _owners(root: str, depth: int) -> Iterable[int]:
    """Owners of the folders `depth` levels below `root` (conversation folders, HOMEs)."""
    level = [root]
    for _ in range(depth):
        nxt = []
        for folder in level:
            try:
                nxt += [e.path for e in os.scandir(folder) if e.is_dir(follow_symlinks=False)]
            except OSError:
                continue
        level = nxt
    for folder in level:
        try:
            yield os.lstat(folder).st_uid
        except OSError:
            continue
