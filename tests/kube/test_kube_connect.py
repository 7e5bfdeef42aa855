"""Which kubeconfig and context the cluster commands use (kube/connect.py)."""

from __future__ import annotations

from pathlib import Path

from jhubctl.config import load_config
from jhubctl.kube.connect import kubeconfig
from jhubctl.state import Journal, Record


def _loaded(tmp_path: Path, text: str, **environ: str):  # noqa: ANN202 - a Loaded
    (tmp_path / "jhubctl.yaml").write_text(text)
    return load_config(tmp_path / "jhubctl.yaml", tmp_path / ".jhubctl", environ={"HOME": str(tmp_path / "home"), **environ})


def test_kubernetes_uses_what_kubectl_would(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "target: kubernetes\n")
    assert kubeconfig(loaded) == (tmp_path / "home" / ".kube" / "config", None)
    loaded = _loaded(tmp_path, "target: kubernetes\n", KUBECONFIG="/etc/a.yaml:/etc/b.yaml")
    assert kubeconfig(loaded) == (Path("/etc/a.yaml"), None)


def test_azure_uses_the_kubeconfig_provision_wrote_and_its_context(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "target: azure\n", KUBECONFIG="/etc/ignored")
    Journal(loaded.state_dir).record("kubeconfig", Record("succeeded", outputs={"path": "/state/kubeconfig",
                                                                               "context": "jhub-aks"}))
    assert kubeconfig(loaded) == (Path("/state/kubeconfig"), "jhub-aks")


def test_the_config_and_the_flags_win(tmp_path: Path) -> None:
    loaded = _loaded(tmp_path, "target: azure\nkubernetes: {kubeconfig: ~/k.yaml}\n")
    Journal(loaded.state_dir).record("kubeconfig", Record("succeeded", outputs={"path": "/state/kubeconfig",
                                                                               "context": "jhub-aks"}))
    path, context = kubeconfig(loaded)
    assert path == Path("~/k.yaml").expanduser() and context is None  # another file: its own current context
    loaded = _loaded(tmp_path, "target: kubernetes\n", JHUBCTL_KUBECONFIG="/x/kc", JHUBCTL_KUBE_CONTEXT="prod")
    assert kubeconfig(loaded) == (Path("/x/kc"), "prod")
