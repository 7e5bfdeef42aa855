"""`docker buildx` on this machine (``--local-docker``; the default on `target: kubernetes`).

Always with ``--platform linux/<node arch>`` and ``--push``: a laptop's own architecture is never assumed,
and the image goes straight to the registry the cluster pulls from. Whether the registry already holds a
tag is asked with ``docker buildx imagetools inspect``, so docker's own credentials (``docker login``)
serve both the check and the push.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from .. import programs
from ..errors import JhubctlError

INSTALL = "install Docker with the buildx plugin (https://docs.docker.com/engine/install/)"


class Docker:
    def __init__(self, configured: str, environ: Mapping[str, str]):
        self.program = programs.find(configured, key="tools.docker", install=INSTALL)
        self.environ = environ

    def check(self) -> None:
        done = programs.run([self.program, "buildx", "version"], self.environ)
        if done.code != 0:
            raise JhubctlError(f"docker buildx is not available: {done.tail(3)}", hint=INSTALL)

    def login(self, server: str, username: str, password: str) -> None:
        """``docker login`` with the password on stdin (never in argv, where `ps` shows it)."""
        done = programs.run([self.program, "login", "--username", username, "--password-stdin", server], self.environ,
                            stdin=password)
        if done.code != 0:
            raise JhubctlError(f"docker login {server} failed: {done.tail(3)}")

    def has_image(self, reference: str) -> bool:
        return programs.run([self.program, "buildx", "imagetools", "inspect", reference], self.environ).code == 0

    def build(self, context: Path, reference: str, platform: str, on_line: Callable[[str], None] | None = None) -> None:
        argv = [self.program, "buildx", "build", "--platform", platform, "--tag", reference, "--push",
                "--file", str(context / "Dockerfile"), str(context)]
        done = programs.run(argv, self.environ, on_line=on_line)
        if done.code != 0:
            raise JhubctlError(f"docker buildx build of {reference} failed (exit {done.code}):\n{done.tail()}")
