"""The step journal, the lock that serialises mutating commands, and the secrets file.

Everything a run learns (outputs, timings, failures) goes to `state.json` so the next run can resume and
`status` can explain. The file is replaced atomically, so a kill at any moment leaves the old or the new
journal, never half of one. Secrets live apart in `secrets.json` (0600) so the journal can be shared
in a bug report.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import JhubctlError, LockedError

STATE_FILE = "state.json"
SECRETS_FILE = "secrets.json"
LOCK_FILE = "lock"
SCHEMA_VERSION = 1


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and every missing parent with mode 0700 (mkdir(parents=True) gives parents the umask's)."""
    for level in [*reversed(path.parents), path]:
        try:
            level.mkdir(mode=0o700)
        except FileExistsError:
            pass
    return path


def write_private(path: Path, text: str) -> None:
    """Write via a temp file in the same folder, fsync, then rename: readers see old or new, never a torn file."""
    ensure_private_dir(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_DIRECTORY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass
class Record:
    status: str  # running | succeeded | failed | stopped
    started_at: str | None = None
    finished_at: str | None = None
    config_hash: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


class Journal:
    """Per-step records in `state.json`. Each change re-reads the file, so concurrent readers stay correct."""

    def __init__(self, state_dir: Path):
        self.state_dir = state_dir
        self.path = state_dir / STATE_FILE

    def steps(self) -> dict[str, Record]:
        try:
            raw = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise JhubctlError(
                f"state file {self.path} is unreadable ({exc})",
                hint="move it aside; jhubctl re-checks real resources, so a fresh journal is safe",
            ) from None
        return {name: Record(**data) for name, data in raw.get("steps", {}).items()}

    def get(self, name: str) -> Record | None:
        return self.steps().get(name)

    def _save(self, steps: dict[str, Record]) -> None:
        doc = {"version": SCHEMA_VERSION, "steps": {n: vars(s) for n, s in sorted(steps.items())}}
        write_private(self.path, json.dumps(doc, indent=2, sort_keys=True) + "\n")

    def record(self, name: str, step: Record) -> None:
        steps = self.steps()
        steps[name] = step
        self._save(steps)

    def forget(self, name: str) -> None:
        steps = self.steps()
        if steps.pop(name, None) is not None:
            self._save(steps)

    @contextlib.contextmanager
    def step(self, name: str, config_hash: str | None = None) -> Iterator[dict[str, Any]]:
        """Mark a step running; on exit record succeeded with the outputs the body filled in, or failed."""
        outputs: dict[str, Any] = {}
        started = now()
        self.record(name, Record("running", started, None, config_hash))
        try:
            yield outputs
        except BaseException as exc:
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            self.record(name, Record("failed", started, now(), config_hash, outputs, message))
            raise
        self.record(name, Record("succeeded", started, now(), config_hash, outputs))


class StateLock:
    """An exclusive flock on `<state>/lock`; the kernel drops it when the holder dies, so it is never stale."""

    def __init__(self, state_dir: Path, command: str):
        self.path = state_dir / LOCK_FILE
        self.command = command
        self._fd: int | None = None

    def __enter__(self) -> StateLock:
        ensure_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockedError(
                f"another jhubctl is changing {self.path.parent} ({holder})",
                hint="wait for it to finish, or stop that process; read-only commands still work",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}: jhubctl {self.command}\n".encode(), 0)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)  # closing releases the flock
            self._fd = None

    @staticmethod
    def held(state_dir: Path) -> bool:
        """Whether a jhubctl process holds the lock now (a 'running' step without one was interrupted)."""
        try:
            fd = os.open(state_dir / LOCK_FILE, os.O_RDONLY)
        except FileNotFoundError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)
        return False


class Secrets:
    """Secrets the tool generates (the hub API token), in a 0600 file apart from the journal."""

    API_TOKEN_ENV = "JHUBCTL_API_TOKEN"

    def __init__(self, state_dir: Path, environ: Mapping[str, str] = os.environ):
        self.path = state_dir / SECRETS_FILE
        self.environ = environ

    def _read(self) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise JhubctlError(f"secrets file {self.path} is corrupt ({exc})") from None

    def api_token_source(self) -> str:
        """Where the token comes from, for output that must not show the token itself."""
        if self.environ.get(self.API_TOKEN_ENV):
            return f"environment variable {self.API_TOKEN_ENV}"
        return str(self.path)

    def api_token(self, create: bool = True) -> str | None:
        """The env var wins (CI injects it); else the stored one; else a new one if `create`."""
        if token := self.environ.get(self.API_TOKEN_ENV):
            return token
        data = self._read()
        if "api_token" not in data and create:
            data["api_token"] = secrets.token_hex(32)
            write_private(self.path, json.dumps(data, indent=2) + "\n")
        return data.get("api_token")

