"""Which CPU the image must be built for: the nodes', never this laptop's (the seed's ``exec format error``).

On Azure the node VM size says it without asking anything: Azure size names carry a ``p`` among their
feature letters for Arm (Ampere) sizes (``Standard_D2ps_v5``, ``Standard_E4pds_v5``); every other size is
x86-64. Elsewhere the nodes' ``status.nodeInfo.architecture`` says it. The bases of both images (the
chart's hub image; Python and uv for the singleuser image) exist for amd64 and arm64 only, so anything else
is refused before a build starts.
"""

from __future__ import annotations

import re
from typing import Any

from ..errors import JhubctlError, UsageError

#: Architectures the bases of jhubctl's images are all published for.
SUPPORTED = ("amd64", "arm64")

_SIZE = re.compile(r"^Standard_([A-Z]+)(\d+)(?:-\d+)?([a-z]*)(?:_|$)")


def vm_arch(size: str) -> str:
    """``Standard_D2s_v3`` -> amd64, ``Standard_D2ps_v5`` -> arm64."""
    m = _SIZE.match(size)
    if not m:
        raise UsageError(
            f"aks.node_vm_size {size!r} is not an Azure VM size name such as Standard_D2s_v3",
            hint="or set kubernetes.node_arch to amd64 or arm64",
        )
    return "arm64" if "p" in m.group(3) else "amd64"


def nodes_arch(nodes: list[dict[str, Any]]) -> str:
    """The one architecture of all nodes; mixed or no nodes are errors (an image runs on one)."""
    found = {str(((n.get("status") or {}).get("nodeInfo") or {}).get("architecture") or "unknown") for n in nodes}
    if not found:
        raise JhubctlError("the cluster has no nodes to run the hub on", hint="add a node pool, or check the context")
    if len(found) > 1:
        raise JhubctlError(
            f"the nodes mix architectures ({', '.join(sorted(found))}); one image cannot run on all of them",
            hint="set kubernetes.node_arch to the architecture of the pool the hub runs on",
        )
    return found.pop()


def check(arch: str, nodes: str, *, force: bool) -> str:
    """``linux/<arch>`` for a build for ``arch`` on ``nodes`` nodes, or an error before anything is built."""
    if arch not in SUPPORTED:
        raise UsageError(f"jhubctl's images can be built for {' and '.join(SUPPORTED)} only, not {arch}")
    if arch != nodes and not force:
        raise UsageError(
            f"an image for linux/{arch} would not run on the cluster's {nodes} nodes (exec format error)",
            hint=f"drop --platform to build for linux/{nodes}, or pass --force if it runs on other nodes",
        )
    return f"linux/{arch}"
