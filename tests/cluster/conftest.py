"""One operator folder for the cluster commands, over the fakes: the real CLI, a fake Kubernetes API with its
controllers, the recording helm and docker stubs on PATH, and (for the health gate) a real local JupyterHub.

* ``cluster_env`` is a folder with ``jhubctl.yaml`` (``target: kubernetes``) whose kubeconfig points at a
  started :class:`~tests.fakes.kube.FakeKube` holding two amd64 nodes; ``make_cluster_env(...)`` makes more.
  Its interpreter is the tiny input of tests/interp, whose lock (resolved once a session by the real uv)
  is already in its state dir, as a first `up` or `build-singleuser-image` leaves it.
* ``local_hub`` (module scope) is a real JupyterHub 4.0.2 started by ``HubProcess`` with the test token:
  the helm stub's ``proxy-public`` Service gets its port and the fake load balancer the address
  127.0.0.1, so ``deploy-hub --wait`` and the health gate talk to real JupyterHub code.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from jhubctl.config import Loaded, load_config
from jhubctl.local.process import HubProcess, LocalHub
from tests.conftest import FAST_LOCAL
from tests.fakes.base.fixtures import allow_localhost, stop_all
from tests.fakes.kube import FakeKube
from tests.fakes.tools.fixtures import Tools, make_tools
from tests.interp.support import AS_OF, TINY, load
from tests.provision.conftest import AzureEnv, CliResult, run_cli

#: The hub API token of every test environment; it must never appear but where it belongs.
TOKEN = "6a1f0c9e7d5b3a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f"
REGISTRY = "registry.example:5000"
NAMESPACE = "jhub"
#: The interpreter config of every cluster test folder (tests/interp's TINY).
INTERPRETER = {"requirements": ["ipykernel"], "exclude_newer": AS_OF}


@pytest.fixture(scope="session")
def tiny_lock(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The lock of INTERPRETER, resolved once a session."""
    from jhubctl.packages import ensure_lock

    lock, _ = ensure_lock(load(tmp_path_factory.mktemp("tiny-lock"), TINY))
    return lock.path


def give_lock(state_dir: Path, lock: Path) -> Path:
    """Put ``lock`` where the state dir's own lock goes."""
    dest = state_dir / "interpreter" / "requirements.lock"
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(lock, dest)
    return dest


def node(name: str, arch: str = "amd64") -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": {"kubernetes.io/arch": arch}},
            "status": {"nodeInfo": {"architecture": arch, "operatingSystem": "linux"}}}


@dataclass
class ClusterEnv(AzureEnv):
    """The provision tests' operator folder (config, state dir, journal), for a cluster without Azure:
    ``fake`` (the fake ARM) is None unless a test adds one, ``kube`` is the fake cluster."""

    tools: Tools = field(default=None)  # type: ignore[assignment]  # always given by make_cluster_env

    def loaded(self) -> Loaded:
        return load_config(self.root / "jhubctl.yaml", environ={"JHUBCTL_API_TOKEN": TOKEN})

    def run(self, *argv: str) -> CliResult:
        self.chdir(self.root)
        for key, value in {"JHUBCTL_API_TOKEN": TOKEN, **self.extra_env}.items():
            self.setenv(key, value)
        return run_cli(*argv)

    def ok(self, *argv: str) -> CliResult:
        result = self.run(*argv)
        assert result.code == 0, f"jhubctl {' '.join(argv)} failed ({result.code}):\n{result.stderr[-3000:]}"
        return result

    def ours(self, since: int = 0) -> list[Any]:
        """Write requests jhubctl made (helm's own, through the stub, carry its User-Agent)."""
        return [r for r in self.kube.requests.snapshot()[since:]
                if r.is_write and not r.headers.get("User-Agent", "").startswith("Helm/")]

    def all_writes(self, since: int = 0) -> list[Any]:
        return [r for r in self.kube.requests.snapshot()[since:] if r.is_write]


@pytest.fixture
def make_cluster_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                     tiny_lock: Path) -> Iterator[Callable[..., ClusterEnv]]:
    """``make_cluster_env(name, config={...}, arch="amd64", **FakeKube kwargs)``."""
    kubes: list[FakeKube] = []
    allow_localhost(monkeypatch)
    for name in list(os.environ):
        if name.startswith("JHUBCTL_"):
            monkeypatch.delenv(name)

    def make(name: str = "env", *, config: dict[str, Any] | None = None, arch: str = "amd64", **kube_kwargs: Any) -> ClusterEnv:
        root = tmp_path / name
        root.mkdir()
        kube = FakeKube(ca_dir=tmp_path / f"{name}-kube-ca", **kube_kwargs).start()
        kubes.append(kube)
        kube.controllers.settle = 0
        for i in range(2):
            kube.seed(node(f"aks-nodepool1-{i}", arch))
        kubeconfig = kube.write_kubeconfig(root / "kubeconfig", "fake")
        made = make_tools(tmp_path / f"{name}-tools")
        monkeypatch.setenv("PATH", f"{made.bin}{os.pathsep}{os.environ.get('PATH', '')}")
        base = {
            "target": "kubernetes",
            "name": "demo",
            "azure": {"resource_group": "jhub-rg"},
            "storage": {"account_name": "jhubstore1"},
            "registry": {"server": REGISTRY},
            "kubernetes": {"kubeconfig": str(kubeconfig), "context": "fake", "namespace": NAMESPACE, "wait_timeout": 20},
            "interpreter": dict(INTERPRETER),
        }
        env = ClusterEnv(None, root, base, monkeypatch.chdir, monkeypatch.setenv, kube, tools=made)
        env.write_config(config)
        give_lock(env.state_dir, tiny_lock)
        return env

    yield make
    stop_all(kubes, "the fake Kubernetes API")


@pytest.fixture
def cluster_env(make_cluster_env: Callable[..., ClusterEnv]) -> ClusterEnv:
    return make_cluster_env("main")


@pytest.fixture(scope="module")
def local_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHub]:
    """A real JupyterHub (the chart's version) accepting TOKEN, standing in for the cluster's hub."""
    root = tmp_path_factory.mktemp("local-hub")
    (root / "jhubctl.yaml").write_text("target: local\n" + FAST_LOCAL)  # the hub's API is what is checked
    loaded = load_config(root / "jhubctl.yaml", root / ".jhubctl", environ={"JHUBCTL_API_TOKEN": TOKEN})
    done = HubProcess(loaded).start()
    assert done.started
    try:
        yield done.hub
    finally:
        HubProcess(loaded).stop()


def hub_port(hub: LocalHub) -> int:
    return int(hub.url.rsplit(":", 1)[1])
