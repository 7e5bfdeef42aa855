"""The uv adapter: every uv command line jhubctl runs is built here, and run by one function.

uv (Astral's resolver and installer, from PyPI) resolves the lock with exact versions and hashes and
installs it; jhubctl has no resolution code of its own. uv reads the user's own settings (for
example ``UV_INDEX_URL``, ``UV_NATIVE_TLS`` or ``uv.toml``), so a private index works the same for
the lock as for any other uv use on the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from ..errors import JhubctlError

#: The names uv is given inside the scratch folder a lock is resolved in: the lock's own comments
#: ("# via -r requirements.in") then read the same wherever and whenever it is resolved.
INPUT_NAME = "requirements.in"
OUTPUT_NAME = "requirements.txt"


def find_uv(configured: str | None = None) -> str:
    """interpreter.uv_path, else the uv installed with jhubctl, else uv on PATH."""
    if configured:
        return configured
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found:
            return found
    raise JhubctlError("uv is not installed", hint="pip install jhubctl (it depends on uv), or set interpreter.uv_path")


def compile_argv(uv: str, *, python: str, exclude_newer: str | None) -> list[str]:
    """Resolve requirements.in into requirements.txt (which, if present, holds the pins to keep).

    ``--universal``: one lock for every platform (the image's linux/amd64, a developer's macOS).
    """
    argv = [uv, "pip", "compile", INPUT_NAME, "--output-file", OUTPUT_NAME, "--generate-hashes", "--universal",
            "--python-version", python, "--no-header", "--quiet"]
    if exclude_newer:
        argv += ["--exclude-newer", exclude_newer]
    return argv


def venv_argv(uv: str, path: Path, python: str) -> list[str]:
    """A bare venv; relocatable, because it is built aside and renamed into place."""
    return [uv, "venv", str(path), "--python", python, "--relocatable", "--no-project", "--quiet"]


def sync_argv(uv: str, lock: Path, venv: Path) -> list[str]:
    """Exactly the lock, checked against its hashes; byte-compiled now, since servers see it read-only."""
    return [uv, "pip", "sync", str(lock), "--python", str(venv / "bin" / "python"), "--require-hashes",
            "--compile-bytecode"]


def version_argv(uv: str) -> list[str]:
    return [uv, "--version"]


def run(argv: Sequence[str], *, what: str, cwd: Path | None = None,
        on_line: Callable[[str], None] | None = None) -> str:
    """Run uv; its stderr lines go to `on_line` as they come (progress). Returns stdout.

    A failure raises with uv's own last lines: uv's messages name the package and the conflict.
    """
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)  # uv must act on the paths it is given, not on jhubctl's own venv
    with tempfile.TemporaryFile("w+") as stdout:  # a file, not a pipe: nothing blocks while stderr is read
        try:
            proc = subprocess.Popen(list(argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=stdout,
                                    stderr=subprocess.PIPE, text=True)
        except OSError as exc:
            raise JhubctlError(f"cannot run uv ({argv[0]}): {exc.strerror}", hint="check interpreter.uv_path") from None
        lines: list[str] = []
        assert proc.stderr is not None
        for line in proc.stderr:
            lines.append(line.rstrip())
            if on_line is not None and line.strip():
                on_line(line.strip())
        code = proc.wait()
        stdout.seek(0)
        output = stdout.read()
    if code != 0:
        detail = "\n".join(lines[-15:]) or f"exit code {code}"
        raise JhubctlError(f"{what} failed:\n{detail}", hint=f"the command was: {' '.join(argv)}")
    return output
