"""Build contexts and their tags: a Dockerfile plus the files it copies, hashed, so the same sources give the
same tag and a deploy can name the image without building it.

The hub image is the chart's own hub image (``k8s-hub`` of the chart's version: chart 3.1.0 runs
JupyterHub 4.0.2 and KubeSpawner 6.1.0, which the spawner is written against) plus jhubctl's spawner
package alone, beside an empty ``jhubctl/__init__.py``. The Dockerfile imports the spawner at build time,
so an image whose spawner cannot load never reaches the cluster. The tag is
``<chart version>-<12 hex of sha256(files, modes, platform)>``: it changes when, and only when, what is
built changes, and a changed tag is a changed Deployment spec, which Kubernetes rolls out.

A context is a plain value (paths, bytes, modes), so a second image (the user servers') reuses all of it
with its own Dockerfile and files.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DOCKERFILE = "Dockerfile"
#: Where the spawner package lands in the hub image (put on PYTHONPATH, outside the image's site-packages).
HUB_PYTHONPATH = "/opt/jhubctl"
#: From this chart version on, the z2jh images are published on quay.io.
QUAY_SINCE = (3, 2, 0)


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


def spawner_files(package: Path) -> dict[str, bytes]:
    """``jhubctl/__init__.py`` (empty) and the spawner package's modules, as the hub image holds them."""
    files = {"jhubctl/__init__.py": b""}
    for module in sorted(package.glob("*.py")):
        files[f"jhubctl/spawner/{module.name}"] = module.read_bytes()
    return files


def hub_context(base_image: str, package: Path | None = None) -> BuildContext:
    """The hub image's context: FROM ``base_image``, plus the spawner package (default: the installed one)."""
    if package is None:
        from .. import spawner

        package = Path(spawner.__file__).parent
    dockerfile = f"""# Made by `jhubctl build-hub-image`: the chart's hub image plus jhubctl's conversation spawner.
# The image tag is a hash of this folder; change jhubctl's config or version, not this file.
FROM {base_image}
COPY --chown=root:root jhubctl {HUB_PYTHONPATH}/jhubctl
ENV PYTHONPATH={HUB_PYTHONPATH}
# Fail the build, not the hub pod, if the spawner does not import against this image's KubeSpawner.
RUN python3 -c "import jhubctl.spawner.kube, jhubctl.spawner.auth"
"""
    return BuildContext.of(dockerfile, spawner_files(package))
