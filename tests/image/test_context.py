"""The images' build contexts and their tags: the hub image FROM the chart's own hub image with the spawner
package alone; the singleuser image from the interpreter lock on a pinned Python with the server plugins; a
tag that changes when, and only when, what is built changes."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from jhubctl import standalone
from jhubctl.errors import JhubctlError, UsageError
from jhubctl.image.context import (
    BuildContext,
    hub_base_image,
    hub_context,
    image_tag,
    singleuser_base_image,
    singleuser_context,
    tag,
)
from jhubctl.image.platform import check, nodes_arch, vm_arch
from jhubctl.packages import read_lock, uv
from jhubctl.packages.lock import CHART_JUPYTERHUB

SPAWNER = Path(__file__).parents[2] / "src" / "jhubctl" / "spawner"
PLUGINS = Path(__file__).parents[2] / "src" / "jhubctl" / "singleuser"


def test_the_base_image_is_the_charts_hub_image_of_the_same_version() -> None:
    assert hub_base_image("3.1.0") == "jupyterhub/k8s-hub:3.1.0"
    assert hub_base_image("3.2.1") == "quay.io/jupyterhub/k8s-hub:3.2.1"  # the chart moved to quay.io in 3.2.0
    context = hub_context(hub_base_image("3.1.0"))
    from_lines = [line for line in context.dockerfile.splitlines() if line.startswith("FROM ")]
    assert from_lines == ["FROM jupyterhub/k8s-hub:3.1.0"]
    assert image_tag("jupyterhub/k8s-hub:3.1.0") == "3.1.0" and image_tag("localhost:5000/k8s-hub") is None


def test_the_context_is_the_dockerfile_and_the_spawner_package_alone() -> None:
    context = hub_context("jupyterhub/k8s-hub:3.1.0")
    files = {path: content for path, content, _ in context.files}
    modules = sorted(p.name for p in SPAWNER.glob("*.py"))
    assert sorted(files) == ["Dockerfile", "jhubctl/__init__.py", *(f"jhubctl/spawner/{m}" for m in modules)]
    assert files["jhubctl/__init__.py"] == b""
    for module in modules:
        assert files[f"jhubctl/spawner/{module}"] == (SPAWNER / module).read_bytes()
    assert 'RUN python3 -c "import jhubctl.spawner.kube, jhubctl.spawner.auth"' in context.dockerfile


def test_the_tag_changes_when_and_only_when_the_context_or_platform_changes(tmp_path: Path) -> None:
    copy = tmp_path / "spawner"
    shutil.copytree(SPAWNER, copy, ignore=shutil.ignore_patterns("__pycache__"))
    base = "jupyterhub/k8s-hub:3.1.0"
    first = tag("3.1.0", hub_context(base, copy), "linux/amd64")
    assert first.startswith("3.1.0-") and len(first) == len("3.1.0-") + 12
    for module in copy.glob("*.py"):
        os.utime(module, (1, 1))  # mtimes and a fresh checkout do not count
    (copy / "__pycache__").mkdir()
    (copy / "__pycache__" / "kube.cpython-311.pyc").write_bytes(b"noise")
    again = hub_context(base, copy)
    assert tag("3.1.0", again, "linux/amd64") == first
    assert again.tarball() == hub_context(base, copy).tarball()  # byte-identical uploads
    assert tag("3.1.0", again, "linux/arm64") != first
    (copy / "kube.py").write_text((copy / "kube.py").read_text() + "\n# changed\n")
    assert tag("3.1.0", hub_context(base, copy), "linux/amd64") != first
    assert tag("3.1.0", hub_context("mirror.example/k8s-hub:3.1.0", SPAWNER), "linux/amd64") != first


def test_the_tarball_holds_the_context_with_neutral_owners_and_times() -> None:
    context = BuildContext.of("FROM scratch\n", {"a/b.py": b"x = 1\n"})
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(context.tarball()))) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert sorted(members) == ["Dockerfile", "a", "a/b.py"]
        assert tar.extractfile(members["a/b.py"]).read() == b"x = 1\n"  # type: ignore[union-attr]
        assert {(m.mtime, m.uid, m.gid, m.uname) for m in members.values()} == {(0, 0, 0, "")}
        assert (members["a/b.py"].mode, members["a"].mode) == (0o644, 0o755)


def test_the_copied_spawner_imports_against_kubespawner_610_and_makes_the_conversation_mount(tmp_path: Path) -> None:
    """The context's own copy, not this tree: PYTHONPATH is the written context, as in the image."""
    hub_context("jupyterhub/k8s-hub:3.1.0").write(tmp_path / "ctx")
    code = r"""
import asyncio, json
import kubespawner, kubespawner.spawner as ks
from kubespawner.spawner import MockObject
ks.load_config = lambda *a, **k: None
ks.shared_client = lambda *a, **k: None
import jhubctl.spawner.kube as module, jhubctl.spawner.auth
from kubernetes_asyncio.client import ApiClient
user = MockObject(); user.name, user.id, user.url = "alice", 7, "/user/alice/"
orm = MockObject(); orm.name, orm.server = "c-42", None
spawner = module.KubeConversationSpawner(_mock=True, user=user, orm_spawner=orm, user_options={})
async def build():
    pod = await spawner.get_pod_manifest()
    async with ApiClient() as client:
        return client.sanitize_for_serialization(pod)
pod = asyncio.run(build())
print(json.dumps({"version": kubespawner.__version__, "file": module.__file__, "spec": pod["spec"]}))
"""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(tmp_path / "ctx")}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    assert answer["version"] == "6.1.0"
    assert answer["file"].startswith(str(tmp_path / "ctx"))
    spec = answer["spec"]
    assert [v for v in spec["volumes"] if "persistentVolumeClaim" in v] == [
        {"name": "conversation-data", "persistentVolumeClaim": {"claimName": "azure-blob-nfs-pvc"}}]
    notebook = spec["containers"][0]
    assert {"name": "conversation-data", "mountPath": "/home/jovyan/work", "subPath": "alice/conversations/c-42"} in (
        notebook["volumeMounts"])
    assert notebook["workingDir"] == "/home/jovyan/work"


@pytest.mark.parametrize(("size", "arch"), [("Standard_D2s_v3", "amd64"), ("Standard_D2ps_v5", "arm64"),
                                             ("Standard_E4pds_v5", "arm64"), ("Standard_B2pls_v2", "arm64"),
                                             ("Standard_E4-2s_v5", "amd64"), ("Standard_NC6s_v3", "amd64")])
def test_the_node_architecture_from_the_vm_size(size: str, arch: str) -> None:
    assert vm_arch(size) == arch


def test_the_architecture_checks() -> None:
    with pytest.raises(UsageError):
        vm_arch("D2s_v3")
    node = lambda arch: {"status": {"nodeInfo": {"architecture": arch}}}  # noqa: E731
    assert nodes_arch([node("arm64"), node("arm64")]) == "arm64"
    with pytest.raises(JhubctlError, match="mix architectures"):
        nodes_arch([node("arm64"), node("amd64")])
    assert check("amd64", "amd64", force=False) == "linux/amd64"
    with pytest.raises(UsageError, match=r"linux/arm64 would not run on the cluster's amd64 nodes \(exec format error\)"):
        check("arm64", "amd64", force=False)
    assert check("arm64", "amd64", force=True) == "linux/arm64"
    with pytest.raises(UsageError, match="amd64 and arm64 only"):
        check("s390x", "s390x", force=True)


# -- the singleuser image ----------------------------------------------------------------------------------
def singleuser(lock_path: Path, *, uid: int = 1000, gid: int = 100, plugins: Path | None = None) -> BuildContext:
    lock = read_lock(lock_path)
    assert lock is not None and lock.python and lock.jupyterhub
    return singleuser_context(singleuser_base_image(lock.python), lock=lock.text, python=lock.python,
                              jupyterhub=lock.jupyterhub, uid=uid, gid=gid, plugins=plugins)


def test_the_singleuser_context_pins_its_bases_and_installs_the_lock_with_hashes(tiny_lock: Path) -> None:
    lock = read_lock(tiny_lock)
    assert lock is not None
    context = singleuser(tiny_lock)
    files = {path: content for path, content, _ in context.files}
    assert sorted(files) == ["Dockerfile", "jhubctl/__init__.py", *(f"jhubctl/singleuser/{m}" for m in
                             sorted(p.name for p in PLUGINS.glob("*.py"))), "requirements.lock"]
    assert files["requirements.lock"] == lock.text.encode()  # the very lock, byte for byte, hashes and all
    assert "--hash=sha256:" in lock.text and lock.pins()["jupyterhub"] == "4.0.2"
    assert {p: c for p, c in files.items() if p.startswith("jhubctl/")} == standalone.files("singleuser")
    lines = context.dockerfile.splitlines()
    froms = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert froms == ["ghcr.io/astral-sh/uv:0.13.9", "python:3.11.16-slim-trixie", "python:3.11.16-slim-trixie"]
    for base in froms:  # exact releases, never a moving tag
        assert re.fullmatch(r"[a-z0-9./-]+:\d+\.\d+\.\d+[a-z0-9.-]*", base), base
    # installed by the commands that build the local venv (tests/interp runs them for real)
    install = next(line for line in lines if line.startswith("RUN uv "))
    assert install.removeprefix("RUN ").removesuffix(" \\") == shlex.join(
        uv.venv_argv("uv", Path("/opt/interpreter"), "python3.11"))
    sync = lines[lines.index(install) + 1].removeprefix(" && ")
    assert sync == shlex.join(uv.sync_argv("uv", Path("/tmp/jhubctl/requirements.lock"), Path("/opt/interpreter")))
    assert "--require-hashes" in sync.split()
    assert "COPY requirements.lock /tmp/jhubctl/requirements.lock" in lines
    assert "COPY jhubctl /opt/interpreter/lib/python3.11/site-packages/jhubctl" in lines
    # the last stage: no uv, the servers' uid, and the check that fails the build on another JupyterHub
    last = lines[max(i for i, line in enumerate(lines) if line.startswith("FROM "))]
    final = lines[lines.index(last):]
    assert not any("uv" in line.split()[0:2] for line in final if line.startswith("COPY"))
    assert "COPY --from=build /opt/interpreter /opt/interpreter" in final
    assert "USER 1000:100" in final and "ENV PATH=/opt/interpreter/bin:$PATH" in final
    assert final.index("USER 1000:100") < final.index("RUN python -m jhubctl.singleuser.check 4.0.2")
    assert lock.jupyterhub == CHART_JUPYTERHUB["3.1.0"] == "4.0.2"
    assert final[-1] == 'CMD ["jupyterhub-singleuser"]'


def test_the_singleuser_tag_changes_when_and_only_when_its_context_does(tiny_lock: Path, tmp_path: Path) -> None:
    copy = tmp_path / "singleuser"
    shutil.copytree(PLUGINS, copy, ignore=shutil.ignore_patterns("__pycache__"))
    first = tag("3.1.0", singleuser(tiny_lock, plugins=copy), "linux/amd64")
    for module in copy.glob("*.py"):
        os.utime(module, (1, 1))
    assert tag("3.1.0", singleuser(tiny_lock, plugins=copy), "linux/amd64") == first
    assert tag("3.1.0", singleuser(tiny_lock, plugins=copy), "linux/arm64") != first
    assert tag("3.1.0", singleuser(tiny_lock, plugins=copy, uid=1001), "linux/amd64") != first
    other = tmp_path / "other.lock"
    other.write_text(tiny_lock.read_text() + "# one more line\n")
    assert tag("3.1.0", singleuser(other, plugins=copy), "linux/amd64") != first
    (copy / "kernelws.py").write_text((copy / "kernelws.py").read_text() + "\n# changed\n")
    assert tag("3.1.0", singleuser(tiny_lock, plugins=copy), "linux/amd64") != first


def test_a_python_without_a_pinned_image_is_named() -> None:
    assert singleuser_base_image("3.12") == "python:3.12.14-slim-trixie"
    with pytest.raises(UsageError, match="interpreter.python 3.9") as info:
        singleuser_base_image("3.9")
    assert "interpreter.base_image" in str(info.value.hint)
