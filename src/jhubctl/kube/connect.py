"""Which cluster the cluster commands talk to: the kubeconfig and context, decided once for all of them.

In order: ``--kubeconfig``/``--context`` (or ``kubernetes.kubeconfig``/``context``, env
``JHUBCTL_KUBECONFIG``/``JHUBCTL_KUBE_CONTEXT``); on target azure the kubeconfig provision wrote (its
context is the cluster's name); otherwise what kubectl would use: the first file of ``$KUBECONFIG``, else
``~/.kube/config``, with its current context.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..config import Loaded
from ..state import Journal
from .client import KubeClient


def kubeconfig(loaded: Loaded) -> tuple[Path, str | None]:
    settings = loaded.config.kubernetes
    recorded: dict[str, str] = {}
    if loaded.config.target == "azure":
        record = Journal(loaded.state_dir).get("kubeconfig")
        if record is not None and record.status == "succeeded":
            recorded = record.outputs
    if settings.kubeconfig is not None:
        path = settings.kubeconfig.expanduser()
    elif recorded.get("path"):
        path = Path(recorded["path"])
    elif loaded.environ.get("KUBECONFIG"):
        path = Path(loaded.environ["KUBECONFIG"].split(os.pathsep)[0]).expanduser()
    else:
        path = Path(loaded.environ.get("HOME", str(Path.home()))) / ".kube" / "config"
    context = settings.context or (recorded.get("context") if settings.kubeconfig is None else None)
    return path, context


def cluster(loaded: Loaded) -> KubeClient:
    from .client import KubeError

    path, context = kubeconfig(loaded)
    try:
        return KubeClient.from_kubeconfig(path, context)
    except KubeError as exc:
        exc.hint = exc.hint or ("target azure: run `jhubctl provision`; else pass --kubeconfig/--context or set "
                                "kubernetes.kubeconfig/context")
        raise
