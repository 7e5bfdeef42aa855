"""The fence around a local conversation server: Landlock, a user of its own, a veil, and memory limits.

A local server runs code an assistant wrote, as an ordinary process of this machine. The fence
narrows what that process tree may touch to its conversation folder, a private HOME (with its
temp directory), its Python environment (read-only) and the system files programs need (read-only).
Three mechanisms, each used when the machine allows it:

- Landlock (Linux 5.13+): a file-access ruleset the process applies to itself before it execs the
  server; every child (the kernels, anything they start) inherits it and cannot lift it.
- A user of its own per conversation, when the hub runs as root: root bypasses file modes and
  holds capabilities (load a kernel module, mount) that no ruleset stops, so a server never runs as
  root; with a uid per conversation, file modes alone keep conversations apart too.
- A veil, when that user cannot walk to its folders (a state directory under /root, mode 0700):
  the server gets a mount namespace of its own in which each such folder is an empty tmpfs with
  only the server's own paths mounted back, so it walks through and sees nothing else there.

The fence is applied by this module run as a program (``python -m jhubctl.spawner.fence PLAN --
CMD...``): it reads the plan, confines itself, then execs the server. A launcher rather than a
``preexec_fn`` because a failure can then say why (on stderr, in the hub log) instead of
"Exception occurred in preexec_fn", and because it runs no Python code in a forked, threaded hub.

Not covered: the network, Unix sockets the process can name, CPU time (see docs/interpreter.md).
Standard library only: this package is copied alone into the hub image.
"""

from __future__ import annotations

import ctypes
import functools
import json
import os
import platform
import resource
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

__all__ = [
    "FENCE_GID",
    "SYSTEM_READ",
    "FenceState",
    "Plan",
    "landlock_abi",
    "launcher",
    "outermost",
    "state",
    "veil_problem",
]

#: Kernel users are uids FENCE_GID+1, +2, ... (one per conversation) with primary group FENCE_GID.
#: The range lies above the default ranges of sssd id mapping and systemd containers, below the
#: "foreign" range of systemd-nspawn; uids that have a passwd entry are skipped.
FENCE_GID = 0x7F000000
FENCE_UID_SPAN = 1 << 20

#: Read-only (and executable) system paths, beyond the server's own Python. Found by running the
#: single-user server and the default package set (pandas, matplotlib, scikit-learn) under the fence
#: and taking entries out one at a time (see docs/interpreter.md); paths of other distributions are
#: named for the same needs. Every home directory, /tmp, /run and the rest of /etc stay out of reach.
SYSTEM_READ = (
    # shared libraries, the dynamic loader, the programs code may run (subprocess, `!ls`)
    "/usr", "/bin", "/lib", "/lib32", "/lib64", "/libx32", "/etc/ld.so.cache",
    # TLS roots and OpenSSL's configuration (Debian, RHEL)
    "/etc/ssl", "/etc/pki", "/etc/crypto-policies",
    # name resolution: without /etc/hosts not even "localhost" resolves
    "/etc/hosts", "/etc/resolv.conf", "/etc/nsswitch.conf", "/etc/host.conf", "/etc/gai.conf",
    "/etc/services", "/etc/protocols",
    # the local time zone; MIME types, without which the contents API fails (mimetypes raises)
    "/etc/localtime", "/etc/timezone", "/etc/mime.types",
    # Jupyter's and IPython's system-wide configuration: present but unreadable would fail the server
    "/etc/jupyter", "/etc/ipython",
    # the process's own status (psutil in ipykernel); other processes' details stay behind ptrace rules
    "/proc",
    "/dev/null", "/dev/random", "/dev/urandom",
)
#: Device files a server writes to (output it discards).
SYSTEM_WRITE = ("/dev/null",)

# Landlock UAPI (include/uapi/linux/landlock.h); the syscall numbers are the same on every architecture.
_SYS_CREATE_RULESET, _SYS_ADD_RULE, _SYS_RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_MAKE_ALL = sum(1 << n for n in range(4, 13))  # remove dir/file, make char/dir/reg/sock/fifo/block/sym
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1
_PR_CAPBSET_DROP = 24
# Mounts (include/uapi/linux/sched.h, mount.h, fcntl.h); open_tree and move_mount are numbered alike everywhere.
_CLONE_NEWNS = 0x00020000
_MS_NOSUID, _MS_NODEV, _MS_NOEXEC, _MS_REC, _MS_PRIVATE = 1 << 1, 1 << 2, 1 << 3, 1 << 14, 1 << 18
_SYS_OPEN_TREE, _SYS_MOVE_MOUNT = 428, 429
_OPEN_TREE_CLONE, _AT_RECURSIVE, _MOVE_MOUNT_F_EMPTY_PATH, _AT_FDCWD = 1, 0x8000, 0x4, -100


def _handled(abi: int) -> int:
    """Every file access right the running kernel knows: what is not granted is then denied."""
    rights = _EXECUTE | _WRITE_FILE | _READ_FILE | _READ_DIR | _MAKE_ALL
    if abi >= 2:
        rights |= _REFER
    if abi >= 3:
        rights |= _TRUNCATE
    if abi >= 5:
        rights |= _IOCTL_DEV
    return rights


_FILE_ONLY = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV
_READ = _EXECUTE | _READ_FILE | _READ_DIR
_WRITE = _READ | _WRITE_FILE | _MAKE_ALL | _REFER | _TRUNCATE


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def landlock_abi() -> int:
    """The Landlock ABI version of the running kernel; 0 when there is none (not Linux, too old, disabled)."""
    if platform.system() != "Linux":
        return 0
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    version = libc.syscall(_SYS_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(int(version), 0)


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _restrict(read: Iterable[str], write: Iterable[str], abi: int) -> None:
    """Build the ruleset (paths opened now, with the caller's rights), then confine this process for good."""
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    handled = _handled(abi)
    attr = _RulesetAttr(handled, 0, (_SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL) if abi >= 6 else 0)
    # handled_access_net (ABI 4) and scoped (ABI 6) are left out of the struct size on older kernels
    size = 24 if abi >= 6 else 8
    ruleset = _check(libc.syscall(_SYS_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size),
                                  ctypes.c_uint32(0)), "landlock_create_ruleset")
    try:
        for paths, rights in ((read, _READ), (write, _WRITE)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue  # the system list names paths of several distributions
                try:
                    allowed = rights & handled
                    if not stat.S_ISDIR(os.fstat(fd).st_mode):
                        allowed &= _FILE_ONLY
                    rule = _PathBeneathAttr(allowed, fd)
                    _check(libc.syscall(_SYS_ADD_RULE, ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                                        ctypes.byref(rule), ctypes.c_uint32(0)), f"landlock_add_rule {path}")
                finally:
                    os.close(fd)
        _check(libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(libc.syscall(_SYS_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)), "landlock_restrict_self")
    finally:
        os.close(ruleset)


def outermost(paths: Iterable[str]) -> list[str]:
    """The paths that lie beneath no other path of the list (a folder stands for what is in it)."""
    result: list[str] = []
    for path in sorted(set(paths)):
        if not any(path == top or path.startswith(top.rstrip("/") + "/") for top in result):
            result.append(path)
    return result


def _beneath(path: str, folder: str) -> bool:
    return path.startswith(folder.rstrip("/") + "/")


def _veil(folders: Iterable[str], keep: Iterable[str]) -> None:
    """Enter a mount namespace of this process's own in which each folder is an empty tmpfs (root's,
    mode 0711: searchable, not listable) with the paths of `keep` beneath it mounted back in place.

    The mounts are private to the namespace: nothing changes for the hub or any other process, and
    the namespace ends with the last process in it. The paths are cloned before the folder is covered.
    """
    if platform.system() != "Linux":
        raise OSError("a veil needs Linux mount namespaces")
    libc = _libc()
    libc.syscall.restype = ctypes.c_long
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    keep = outermost(os.path.realpath(p) for p in keep if os.path.exists(p))
    cwd = os.getcwd()
    _check(libc.unshare(_CLONE_NEWNS), "unshare(CLONE_NEWNS)")
    _check(libc.mount(None, b"/", None, _MS_REC | _MS_PRIVATE, None), "mount --make-rprivate /")
    for folder in outermost(os.path.realpath(f) for f in folders):
        needed = [k for k in keep if k == folder or _beneath(folder, k)]
        if needed:
            raise OSError(f"cannot hide {folder}: the server needs all of {needed[0]}")
        clones = []
        for path in (k for k in keep if _beneath(k, folder)):
            flags = _OPEN_TREE_CLONE | _AT_RECURSIVE | os.O_CLOEXEC
            clones.append((path, _check(libc.syscall(_SYS_OPEN_TREE, ctypes.c_int(_AT_FDCWD), path.encode(),
                                                     ctypes.c_uint(flags)), f"open_tree {path}")))
        _check(libc.mount(b"tmpfs", folder.encode(), b"tmpfs", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC,
                          b"mode=0711,size=64k"), f"mount tmpfs on {folder}")
        for path, fd in clones:
            try:
                _mountpoint(folder, path, is_dir=stat.S_ISDIR(os.fstat(fd).st_mode))
                _check(libc.syscall(_SYS_MOVE_MOUNT, ctypes.c_int(fd), b"", ctypes.c_int(_AT_FDCWD), path.encode(),
                                    ctypes.c_uint(_MOVE_MOUNT_F_EMPTY_PATH)), f"move_mount {path}")
            finally:
                os.close(fd)
    os.chdir(cwd)  # the working directory (the conversation folder) in the new mounts, not under the veil


def _mountpoint(top: str, path: str, *, is_dir: bool) -> None:
    """Create `path` and the folders above it up to `top` in the veil, each searchable by everyone
    (explicit modes: the hub's umask is 077)."""
    parts = os.path.relpath(path, top).split(os.sep)
    current = top
    for index, part in enumerate(parts):
        current = os.path.join(current, part)
        if index < len(parts) - 1 or is_dir:
            if not os.path.isdir(current):
                os.mkdir(current)
                os.chmod(current, 0o711)
        else:
            os.close(os.open(current, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o400))


def _drop_bounding_set() -> None:
    """Empty the capability bounding set: no later exec can bring a capability back, whatever the file says."""
    libc = _libc()
    for cap in range(64):
        if libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) < 0:
            if ctypes.get_errno() == 22:  # EINVAL: past the last capability this kernel knows
                return
            _check(-1, "prctl(PR_CAPBSET_DROP)")


@dataclass(frozen=True)
class Plan:
    """What the launcher does before it execs the server; built by the spawner, passed as JSON in argv.

    It holds paths and numbers only (never a secret), so it may show in ``ps`` and the hub log.
    """

    read: list[str] = field(default_factory=list)
    write: list[str] = field(default_factory=list)
    landlock: bool = False
    uid: int | None = None
    gid: int | None = None
    #: RLIMIT_DATA in bytes (heap and private mappings: what a program's memory use means)
    memory: int | None = None
    #: folders hidden in the server's own mount namespace, but for the paths of `read` and `write` beneath them
    veil: list[str] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Plan:
        return cls(**json.loads(text))

    def apply(self) -> None:
        """Limits first (a lowered limit cannot be raised back), then the veil and the capabilities (while
        still root), then the user switch, then the ruleset.

        The ruleset is built after the switch, so a path the server's user cannot reach fails here,
        by name, rather than as a confusing error inside the server.
        """
        if self.memory is not None:
            resource.setrlimit(resource.RLIMIT_DATA, (self.memory, self.memory))
        if self.veil:
            _veil(self.veil, [*self.read, *self.write])
        if self.uid is not None:
            _drop_bounding_set()
        if self.gid is not None:
            os.setgroups([self.gid])
            os.setresgid(self.gid, self.gid, self.gid)
        if self.uid is not None:
            os.setresuid(self.uid, self.uid, self.uid)
            if 0 in os.getresuid():
                raise OSError("still root after the user switch")
        if self.landlock:
            abi = landlock_abi()
            if abi == 0:
                raise OSError("Landlock is not available on this kernel, and the plan requires it")
            _restrict(self.read, self.write, abi)
        elif self.uid is not None:
            _check(_libc().prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def launcher(plan: Plan, cmd: Sequence[str], python: str = sys.executable) -> list[str]:
    """The command that confines itself with `plan`, then execs `cmd`."""
    return [python, "-m", __name__, plan.to_json(), "--", *cmd]


@dataclass(frozen=True)
class FenceState:
    """What the fence can do on this machine, for `up`, `status` and the tests."""

    landlock_abi: int
    separate_users: bool
    #: folders on the servers' way that their users cannot search: each server sees them veiled
    veil: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.landlock_abi > 0 or self.separate_users

    def describe(self) -> str:
        if not self.active:
            return "off: this kernel has no Landlock and jhubctl does not run as root"
        parts = []
        if self.landlock_abi:
            parts.append(f"Landlock ABI {self.landlock_abi}")
        parts.append("a user per conversation" if self.separate_users else "servers run as you")
        text = "on (" + ", ".join(parts)
        if self.separate_users and self.veil:
            text += (f"; {', '.join(self.veil)} {'is' if len(self.veil) == 1 else 'are'} not searchable by other "
                     "users, so each server sees only its own folders there, in a mount namespace of its own")
        return text + ")"


def state(veil: Iterable[str] = ()) -> FenceState:
    return FenceState(landlock_abi(), os.geteuid() == 0, tuple(veil))


_PROBE = "import os, sys; sys.exit(os.listdir(sys.argv[1]) != ['kept'])"


@functools.cache
def veil_problem() -> str | None:
    """None when this process can start servers behind a veil; else why not, in the launcher's words.

    A veil needs root with CAP_SYS_ADMIN, allowed by seccomp and AppArmor (a container's root usually
    is not): asked of the launcher itself, once per process, on a folder of its own.
    """
    with tempfile.TemporaryDirectory() as tmp:
        hidden = os.path.join(tmp, "hidden")
        os.makedirs(os.path.join(hidden, "kept"))
        open(os.path.join(hidden, "secret"), "w").close()
        cmd = [sys.executable, "-c", _PROBE, hidden]
        proc = subprocess.run(launcher(Plan(veil=[hidden], read=[os.path.join(hidden, "kept")]), cmd), cwd=tmp,
                              capture_output=True, text=True, timeout=60)
    if proc.returncode == 0:
        return None
    if not proc.stderr.strip():
        return f"a veil over {hidden} did not hide it (exit code {proc.returncode})"
    said = proc.stderr.strip().splitlines()[-1]
    said = said.partition(f"cannot start {cmd[0]!r}: ")[2] or said
    return said.split("] ", 1)[1] if said.startswith("[Errno ") else said


def main(argv: Sequence[str]) -> int:
    """``python -m jhubctl.spawner.fence PLAN -- CMD...``: confine, then exec; 126 when it cannot."""
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m jhubctl.spawner.fence PLAN_JSON -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    try:
        plan = Plan.from_json(argv[0])
        plan.apply()
        os.execvp(argv[2], list(argv[2:]))
    except (OSError, ValueError, TypeError) as exc:
        print(f"jhubctl fence: cannot start {argv[2]!r}: {exc}", file=sys.stderr)
        return 126
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
