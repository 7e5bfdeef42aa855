"""Running the external programs jhubctl drives (helm, docker): found once, run without jhubctl's secrets.

A program is named in the config (``tools.helm``, ``tools.docker``; env ``JHUBCTL_HELM`` ...) as a path or
a name looked up on PATH, and a missing one is one error line saying how to get it. Children inherit the
user's environment (proxies, HELM_*/DOCKER_* settings, KUBECONFIG) minus jhubctl's own secrets: the hub
API token and the Azure access token are never handed to a program that does not need them. Secrets a
program does need travel through a 0600 file or stdin, never argv (argv is world-readable in /proc).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from .errors import JhubctlError

#: Environment variables a child program never gets.
SECRET_ENV = ("JHUBCTL_API_TOKEN", "JHUBCTL_AZURE_ACCESS_TOKEN", "JHUBCTL_SERVICE_TOKEN")
#: Lines of a failed program's output quoted in the error.
TAIL = 15


@dataclass(frozen=True)
class Finished:
    code: int
    stdout: str
    stderr: str

    def tail(self, lines: int = TAIL) -> str:
        text = (self.stderr.strip() or self.stdout.strip()).splitlines()
        return "\n".join(text[-lines:])


def find(configured: str, *, key: str, install: str) -> str:
    """The absolute path of the program, or an error naming the config key and how to install it."""
    found = shutil.which(configured)
    if found is None:
        raise JhubctlError(
            f"{configured!r} ({key}) was not found" + ("" if os.sep in configured else " on PATH"),
            hint=f"{install}; or set {key} in the config / {key_env(key)} to its path",
        )
    return found


def key_env(key: str) -> str:
    return "JHUBCTL_" + key.rsplit(".", 1)[-1].upper()


def child_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in SECRET_ENV}


def run(
    argv: Sequence[str],
    environ: Mapping[str, str],
    *,
    stdin: str | None = None,
    on_line: Callable[[str], None] | None = None,
) -> Finished:
    """Run to completion. With ``on_line`` each output line is handed on as it arrives (long builds show
    progress); stdout and stderr are kept for the result either way."""
    env = child_env(environ)
    if on_line is None:
        done = subprocess.run(list(argv), input=stdin, capture_output=True, text=True, env=env, check=False)
        return Finished(done.returncode, done.stdout, done.stderr)
    kept: deque[str] = deque(maxlen=400)
    with subprocess.Popen(
        list(argv), stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, env=env,
    ) as proc:
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin)
            proc.stdin.close()
        assert proc.stdout is not None
        for line in proc.stdout:
            kept.append(line)
            on_line(line.rstrip("\n"))
        code = proc.wait()
    return Finished(code, "".join(kept), "")
