"""The interpreter lock: every package a code-interpreter server runs, pinned with its hashes.

Resolved by uv from `interpreter.requirements` plus the single-user server's own packages (JupyterHub
pinned to the hub's version, jupyter-server), for `interpreter.python`. The lock's header records a
digest of that input: a lock whose input changed is resolved again, with the old pins as
preferences (uv keeps every pin the new input allows, so adding a package upgrades nothing else);
an unchanged input never touches the lock. The same file feeds the local venv and the singleuser
image, so both run the very same versions.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..config import Config, Loaded
from ..errors import ConfigError
from ..state import ensure_private_dir, write_private
from . import uv

#: JupyterHub inside the chart's hub image, by chart version: the single-user server must match it.
CHART_JUPYTERHUB = {"3.1.0": "4.0.2"}

LOCK_NAME = "requirements.lock"
_HEADER = "# jhubctl interpreter lock"
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)


def jupyterhub_version(config: Config) -> str:
    """The JupyterHub version the chart's hub runs, which the single-user server must carry too."""
    version = CHART_JUPYTERHUB.get(config.hub.chart_version)
    if version is None:
        raise ConfigError(
            f"'hub.chart_version' {config.hub.chart_version} has no known JupyterHub version for the single-user "
            "server", hint=f"use a chart version jhubctl knows: {', '.join(CHART_JUPYTERHUB)}",
        )
    return version


@dataclass(frozen=True)
class LockInput:
    """Everything the resolution depends on, besides the index itself."""

    requirements: tuple[str, ...]
    python: str
    jupyterhub: str
    exclude_newer: str | None

    @classmethod
    def of(cls, config: Config) -> LockInput:
        hub = jupyterhub_version(config)
        server = (f"jupyterhub=={hub}", "jupyter-server>=2,<3")
        return cls(tuple(config.interpreter.requirements) + server, config.interpreter.python, hub,
                   config.interpreter.exclude_newer)

    @property
    def digest(self) -> str:
        """Order-free: listing the same packages in another order is the same input."""
        doc = {"requirements": sorted(r.lower() for r in self.requirements), "python": self.python,
               "jupyterhub": self.jupyterhub, "exclude_newer": self.exclude_newer}
        return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()

    def header(self) -> str:
        lines = [
            f"{_HEADER}: resolved by uv from interpreter.requirements; do not edit by hand.",
            "# To change it, edit interpreter.requirements in the jhubctl config and run `jhubctl up`.",
            f"# input: {self.digest}",
            f"# python: {self.python}",
            f"# jupyterhub: {self.jupyterhub}",
        ]
        if self.exclude_newer:
            lines.append(f"# exclude-newer: {self.exclude_newer}")
        lines += [f"# requires: {r}" for r in self.requirements]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Lock:
    """A lock file as read: what the image build and the local venv install."""

    path: Path
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def key(self) -> str:
        """Short name of this exact lock: the local venv built from it is named after it."""
        return self.sha256[:16]

    def field(self, name: str) -> str | None:
        match = re.search(rf"^# {re.escape(name)}: (.*)$", self.text, re.MULTILINE)
        return match.group(1).strip() if match else None

    @property
    def input_digest(self) -> str | None:
        return self.field("input")

    @property
    def python(self) -> str | None:
        return self.field("python")

    @property
    def jupyterhub(self) -> str | None:
        """The JupyterHub single-user version the environment must carry (the hub's)."""
        return self.field("jupyterhub")

    def pins(self) -> dict[str, str]:
        """name -> version of every package (the first pin of a name split by markers)."""
        pins: dict[str, str] = {}
        for name, version in _PIN.findall(self.text):
            pins.setdefault(name.lower(), version)
        return pins

    def summary(self) -> dict[str, object]:
        return {"path": str(self.path), "sha256": self.sha256, "packages": len(self.pins()),
                "python": self.python, "jupyterhub": self.jupyterhub}


def lock_path(loaded: Loaded) -> Path:
    """interpreter.lock_file (relative to the config file's folder), else <state>/interpreter/requirements.lock."""
    configured = loaded.config.interpreter.lock_file
    if configured is None:
        return loaded.state_dir / "interpreter" / LOCK_NAME
    if configured.is_absolute():
        return configured
    base = loaded.path.parent if loaded.path is not None else Path.cwd()
    return (base / configured).absolute()


def read_lock(path: Path) -> Lock | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read the interpreter lock {path}: {exc.strerror}") from None
    if not text.startswith(_HEADER):
        raise ConfigError(
            f"{path} is not a jhubctl interpreter lock (no '{_HEADER}' header)",
            hint="point interpreter.lock_file at a file jhubctl wrote, or at a path that does not exist yet",
        )
    return Lock(path, text)


def describe(loaded: Loaded) -> dict[str, object]:
    """The lock as `status` shows it, without resolving anything."""
    path = lock_path(loaded)
    lock = read_lock(path)
    if lock is None:
        return {"path": str(path), "state": "missing (`jhubctl up` resolves it)"}
    current = lock.input_digest == LockInput.of(loaded.config).digest
    state = "current" if current else "stale: the interpreter input changed (`jhubctl up` resolves it again)"
    return {**lock.summary(), "state": state}


def resolve(inputs: LockInput, dest: Path, *, uv_bin: str, scratch: Path) -> Lock:
    """Run uv on `inputs`, with the pins of the lock at `dest` (if any) as preferences; write `dest` atomically."""
    shutil.rmtree(scratch, ignore_errors=True)
    ensure_private_dir(scratch)
    try:
        (scratch / uv.INPUT_NAME).write_text("\n".join(inputs.requirements) + "\n", encoding="utf-8")
        if dest.is_file():
            shutil.copyfile(dest, scratch / uv.OUTPUT_NAME)
        uv.run(uv.compile_argv(uv_bin, python=inputs.python, exclude_newer=inputs.exclude_newer),
               what="resolving the interpreter lock", cwd=scratch)
        body = (scratch / uv.OUTPUT_NAME).read_text(encoding="utf-8")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    text = inputs.header() + "\n" + body
    write_private(dest, text)
    return Lock(dest, text)


def ensure_lock(loaded: Loaded, uv_bin: str | None = None, *, write: bool = True) -> tuple[Lock, bool]:
    """The lock for the current config, resolved only if missing or made from another input; (lock, resolved).

    This is the one entry point for whoever installs the package set (the local venv, the image build).
    `write=False` (a dry run) resolves what would be written, in a folder of its own, and writes nothing.
    """
    inputs = LockInput.of(loaded.config)
    dest = lock_path(loaded)
    existing = read_lock(dest)
    if existing is not None and existing.input_digest == inputs.digest:
        return existing, False
    uv_bin = uv_bin or uv.find_uv(loaded.config.interpreter.uv_path)
    if not write:
        with tempfile.TemporaryDirectory(prefix="jhubctl-lock-") as folder:
            preview = Path(folder) / LOCK_NAME
            if existing is not None:
                shutil.copyfile(dest, preview)  # the same preferences as a real run
            return Lock(dest, resolve(inputs, preview, uv_bin=uv_bin, scratch=Path(folder) / "scratch").text), True
    scratch = loaded.state_dir / "interpreter" / f".resolve-{os.getpid()}"
    for stale in scratch.parent.glob(".resolve-*") if scratch.parent.is_dir() else ():
        shutil.rmtree(stale, ignore_errors=True)  # left by a run that was killed; the state lock is ours
    return resolve(inputs, dest, uv_bin=uv_bin, scratch=scratch), True
