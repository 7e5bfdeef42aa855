"""Helpers for the tests of the interpreter's package set, its local venv and the fence.

Locks here are resolved from a tiny input (ipykernel, plus the server's own JupyterHub and
jupyter-server) as of a fixed date, so they are the same on every run and cheap to build; uv's
cache keeps the second build of a run fast. The default package set has one test of its own
(`slow`). State directories live in a folder every user may search: when the tests run as root,
fenced servers run as users of their own, who must reach their folders.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jhubctl.config import Loaded, load_config

#: A resolution date: the same lock on every run, whatever PyPI published since.
AS_OF = "2025-06-01"
TINY = f"interpreter:\n  requirements: [ipykernel]\n  exclude_newer: '{AS_OF}'\n"

#: Source for code run in a fenced server or kernel: `attempt(fn)` is "ok", or the name of what fn raised.
ATTEMPT = '''
def attempt(fn):
    try:
        fn()
        return "ok"
    except Exception as exc:
        return type(exc).__name__
'''


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


def make_private_dir(prefix: str) -> tuple[Path, Path]:
    """A public folder and, in it, a folder only its owner may search (0700, as /root is): the usual
    place of a root user's clone. Returns (public, private); removing the first removes both."""
    public = make_public_dir(prefix)
    private = public / "home"
    private.mkdir(mode=0o700)
    return public, private


_PR_CAPBSET_DROP, _CAP_SYS_ADMIN = 24, 21


def without_sys_admin() -> None:
    """A `preexec_fn`: the program then runs as root without CAP_SYS_ADMIN, as root in a container does
    (Docker's default drops it), so it cannot make a mount namespace."""
    if ctypes.CDLL(None, use_errno=True).prctl(_PR_CAPBSET_DROP, _CAP_SYS_ADMIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP, CAP_SYS_ADMIN)")


#: pidfd_getfd(2): the same number on every Linux architecture (the unified table, from 5.6).
SYS_PIDFD_GETFD = 438


@dataclass(frozen=True)
class TcpSocket:
    local: tuple[str, int]
    peer: tuple[str, int] | None  # None: listening
    nodelay: bool


def tcp_sockets(pid: int) -> list[TcpSocket]:
    """Every TCP socket process `pid` holds, read through copies of its descriptors (pidfd_getfd, which needs
    ptrace rights over it: root, or an ancestor). Raises OSError where the machine does not allow it."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    found = []
    pidfd = os.pidfd_open(pid)
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                    continue
            except FileNotFoundError:  # closed meanwhile
                continue
            copy = libc.syscall(SYS_PIDFD_GETFD, pidfd, int(fd), 0)
            if copy < 0:
                err = ctypes.get_errno()
                if err == errno.EBADF:
                    continue
                raise OSError(err, f"pidfd_getfd of pid {pid}: {os.strerror(err)}")
            with socket.socket(fileno=copy) as sock:  # closes the copy only
                if sock.family not in (socket.AF_INET, socket.AF_INET6) or sock.type != socket.SOCK_STREAM:
                    continue
                nodelay = bool(sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
                if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    found.append(TcpSocket(sock.getsockname()[:2], None, nodelay))
                    continue
                try:
                    found.append(TcpSocket(sock.getsockname()[:2], sock.getpeername()[:2], nodelay))
                except OSError:  # not connected (yet, or any more)
                    continue
    finally:
        os.close(pidfd)
    return found
