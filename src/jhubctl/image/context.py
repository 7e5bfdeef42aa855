"""Build contexts and their tags: a Dockerfile plus the files it copies, hashed, so the same sources give the
same tag and a deploy can name the image without building it.

Two images, one context type. The hub image is the chart's own hub image (``k8s-hub`` of the chart's
version: chart 3.1.0 runs JupyterHub 4.0.2 and KubeSpawner 6.1.0, which the spawner is written against)
plus jhubctl's spawner package alone. The singleuser image is the interpreter lock installed on a pinned
Python, plus jhubctl's server plugins (docs/interpreter.md says why not a docker-stacks image). Each
Dockerfile checks at build time what its image must do (the spawner imports; a user server of the hub's
JupyterHub version starts), so a broken image never reaches the cluster. The tag is
``<chart version>-<12 hex of sha256(files, modes, platform)>``: it changes when, and only when, what is
built changes, and a changed tag is a changed spec, which Kubernetes rolls out.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import shlex
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from .. import standalone
from ..errors import UsageError
from ..packages import uv

DOCKERFILE = "Dockerfile"
#: Where the spawner package lands in the hub image (put on PYTHONPATH, outside the image's site-packages).
HUB_PYTHONPATH = "/opt/jhubctl"
#: From this chart version on, the z2jh images are published on quay.io.
QUAY_SINCE = (3, 2, 0)
#: The singleuser image's base by interpreter.python: the official Python image at an exact version, slim,
#: on Debian 13 (trixie), published for amd64 and arm64 (docker-library/official-images, library/python).
PYTHON_BASES = {
    "3.10": "python:3.10.21-slim-trixie",
    "3.11": "python:3.11.16-slim-trixie",
    "3.12": "python:3.12.14-slim-trixie",
    "3.13": "python:3.13.15-slim-trixie",
    "3.14": "python:3.14.7-slim-trixie",
}
#: uv, the local venv's installer, from Astral's own image of one exact release; only the build stage has it.
UV_IMAGE = "ghcr.io/astral-sh/uv:0.13.9"
#: The singleuser image's environment: a venv, laid out as the local target's.
SINGLEUSER_PREFIX = "/opt/interpreter"
#: The lock's place in the build stage.
LOCK_FILE = "requirements.lock"
#: The servers' user: the name and HOME the chart's own singleuser images give uid 1000.
SERVER_USER = "jovyan"


@dataclass(frozen=True)
class BuildContext:
    """Files (relative POSIX path -> (content, mode)) including the Dockerfile."""

    files: tuple[tuple[str, bytes, int], ...]

    @classmethod
    def of(cls, dockerfile: str, files: Mapping[str, bytes]) -> BuildContext:
        entries = {DOCKERFILE: (dockerfile.encode(), 0o644)}
        entries.update({path: (content, 0o644) for path, content in files.items()})
        return cls(tuple((path, content, mode) for path, (content, mode) in sorted(entries.items())))

    @property
    def dockerfile(self) -> str:
        return next(content for path, content, _ in self.files if path == DOCKERFILE).decode()

    def digest(self, *extra: str) -> str:
        """sha256 over every path, mode and content (and ``extra``, e.g. the platform); never mtimes."""
        h = hashlib.sha256()
        for path, content, mode in self.files:
            h.update(f"{path}\0{mode:o}\0{len(content)}\0".encode())
            h.update(content)
        for item in extra:
            h.update(f"\0{item}".encode())
        return h.hexdigest()

    def tarball(self) -> bytes:
        """A gzipped tar that is byte-identical for identical contexts (fixed mtimes, owners, order)."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for directory in sorted({str(d) for p, _, _ in self.files for d in Path(p).parents} - {"."}):
                tar.addfile(_info(directory, tarfile.DIRTYPE, 0o755, 0))
            for path, content, mode in self.files:
                tar.addfile(_info(path, tarfile.REGTYPE, mode, len(content)), io.BytesIO(content))
        packed = io.BytesIO()
        with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
            gz.write(raw.getvalue())
        return packed.getvalue()

    def write(self, directory: Path) -> list[Path]:
        """Write the context into ``directory`` (created if missing); returns the files written."""
        written = []
        for path, content, mode in self.files:
            target = directory / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content)
            target.chmod(mode)
            written.append(target)
        return written


def _info(name: str, kind: bytes, mode: int, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size = kind, mode, size
    info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
    return info


def tag(version: str, context: BuildContext, platform: str) -> str:
    return f"{version}-{context.digest(platform)[:12]}"


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", version.split("-", 1)[0])[:3])


def hub_base_image(chart_version: str) -> str:
    """The chart's own hub image for that chart version (the registry moved to quay.io with 3.2.0)."""
    registry = "quay.io/jupyterhub" if version_tuple(chart_version) >= QUAY_SINCE else "jupyterhub"
    return f"{registry}/k8s-hub:{chart_version}"


def image_tag(reference: str) -> str | None:
    """``repo/name:tag`` -> ``tag`` (a registry port is not a tag)."""
    last = reference.rsplit("/", 1)[-1].split("@", 1)[0]
    return last.split(":", 1)[1] if ":" in last else None


def hub_context(base_image: str, package: Path | None = None) -> BuildContext:
    """The hub image's context: FROM ``base_image``, plus the spawner package (default: the installed one)."""
    dockerfile = f"""# Made by `jhubctl build-hub-image`: the chart's hub image plus jhubctl's conversation spawner.
# The image tag is a hash of this folder; change jhubctl's config or version, not this file.
FROM {base_image}
COPY --chown=root:root jhubctl {HUB_PYTHONPATH}/jhubctl
ENV PYTHONPATH={HUB_PYTHONPATH}
# Fail the build, not the hub pod, if the spawner does not import against this image's KubeSpawner.
RUN python3 -c "import jhubctl.spawner.kube, jhubctl.spawner.auth"
"""
    return BuildContext.of(dockerfile, standalone.files("spawner", package))


def singleuser_base_image(python: str) -> str:
    """The pinned Python image for interpreter.python."""
    base = PYTHON_BASES.get(python)
    if base is None:
        raise UsageError(f"jhubctl pins no Python image for interpreter.python {python}",
                         hint=f"use one of {', '.join(PYTHON_BASES)}, or set interpreter.base_image")
    return base


def singleuser_context(base_image: str, *, lock: str, python: str, jupyterhub: str, uid: int, gid: int,
                       plugins: Path | None = None) -> BuildContext:
    """The singleuser image's context: ``lock`` (the lock file's text, for Python ``python``, pinning the hub's
    ``jupyterhub``) installed by the local venv's own uv commands into a venv on ``base_image``, the server
    plugins (default: the installed ones) beside it, run as ``uid``:``gid``."""
    prefix, lock_path, home = SINGLEUSER_PREFIX, f"/tmp/jhubctl/{LOCK_FILE}", f"/home/{SERVER_USER}"
    site = f"{prefix}/lib/python{python}/site-packages"
    install = " \\\n && ".join(shlex.join(argv) for argv in (
        uv.venv_argv("uv", Path(prefix), f"python{python}"), uv.sync_argv("uv", Path(lock_path), Path(prefix))))
    dockerfile = f"""# Made by `jhubctl build-singleuser-image`: the interpreter lock on a pinned Python, plus jhubctl's
# server plugins. The image tag is a hash of this folder; change jhubctl's config or version, not this file.
FROM {UV_IMAGE} AS uv

FROM {base_image} AS build
COPY --from=uv /uv /usr/local/bin/uv
COPY {LOCK_FILE} {lock_path}
# Exactly the lock, each file checked against its hash: the commands that build the local target's venv.
ENV UV_NO_CACHE=1 UV_PYTHON_DOWNLOADS=never
RUN {install}
COPY jhubctl {site}/jhubctl

FROM {base_image}
RUN (getent group {gid} >/dev/null || groupadd --gid {gid} {SERVER_USER}) \\
 && (getent passwd {uid} >/dev/null || useradd --uid {uid} --gid {gid} --no-user-group --create-home \\
     --home-dir {home} --shell /bin/bash {SERVER_USER})
COPY --from=build {prefix} {prefix}
ENV PATH={prefix}/bin:$PATH
USER {uid}:{gid}
WORKDIR {home}
# Fail the build, not the first conversation: as the servers' uid, jupyterhub-singleuser, ipykernel and the
# plugins import, and JupyterHub is the hub's {jupyterhub}.
RUN python -m jhubctl.singleuser.check {jupyterhub}
CMD ["jupyterhub-singleuser"]
"""
    return BuildContext.of(dockerfile, {LOCK_FILE: lock.encode(), **standalone.files("singleuser", plugins)})
