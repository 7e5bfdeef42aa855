"""`jhubctl provision` wall time against the critical path of its step graph, on the fake ARM.

    .venv/bin/python bench/bench_provision.py [--rounds N] [--scale X] [--latency TYPE=SECONDS ...]

What it measures. Each round provisions a fresh fake subscription in-process (the real CLI, the real
Azure SDK, real threads) with scaled-down but realistic per-type operation latencies, then runs provision
again on the provisioned subscription (the no-op re-run: it must send 0 write requests). A warm-up run
first pays the one-off import costs (Azure SDK, kubernetes client), which are not the runner's doing.

Latencies. Every operation takes its latency inside the fake (`FakeArm(latency=...)`): long-running ones
(ACR, VNet, NSG, storage account, AKS) stay InProgress that long, and the SDK polls them with the
Retry-After the fake sends; synchronous ones (resource groups, role assignments) are answered that much
later, outside the fake's lock, so concurrent requests still overlap. The SSH key is pre-generated and configured, so
a random 4096-bit RSA keygen (0.2-1.5 s of CPU) does not blur the measure; the csi-driver step (when the
fake Kubernetes API is available) costs a few local requests.

The model. Every step's duration is the sum of the latencies of the operations it performs one after the
other (network: the NSG, then the VNet that references it; storage: the account, then its container;
role-assignments: Network Contributor, then AcrPull; steps without a write: 0). The steps and their
`needs` come from `jhubctl.azure.steps.needs`, the very graph the runner executes. Then

* critical path = the longest chain of that DAG, weighting each step by its duration
  (with the defaults: resource-group 0.1 → network 0.2+0.4 → aks 2.0 → role-assignments 2×0.05 = 2.8 s);
* sequential = the sum of all step durations (what a one-at-a-time script like the seed's takes: 3.9 s).

A runner that starts every step the moment its inputs exist finishes in about the critical path: the
report's main ratio is wall / critical path (target ≤ 1.05). The ratio sequential / critical path says
how much the graph can gain over a sequential script with these latencies (with the defaults, AKS
dominates and it is 1.39; it exceeds 1.6 once the parallel branches weigh more, e.g. --scale-branch 2).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: Seconds per operation, by resource type (FakeArm's latency keys), scaled down from real Azure.
LATENCY = {
    "Microsoft.Resources/resourceGroups": 0.1,
    "Microsoft.ContainerRegistry/registries": 0.5,
    "Microsoft.Network/virtualNetworks": 0.4,
    "Microsoft.Network/networkSecurityGroups": 0.2,
    "Microsoft.Storage/storageAccounts": 0.6,
    "Microsoft.ContainerService/managedClusters": 2.0,
    "Microsoft.Authorization/roleAssignments": 0.05,
}
#: Which operations each step performs one after the other.
STEP_OPERATIONS = {
    "resource-group": ["Microsoft.Resources/resourceGroups"],
    "registry": ["Microsoft.ContainerRegistry/registries"],
    "network": ["Microsoft.Network/networkSecurityGroups", "Microsoft.Network/virtualNetworks"],
    "storage": ["Microsoft.Storage/storageAccounts"],
    "aks": ["Microsoft.ContainerService/managedClusters"],
    "role-assignments": ["Microsoft.Authorization/roleAssignments"] * 2,
}
BRANCH_TYPES = ("Microsoft.ContainerRegistry/registries", "Microsoft.Storage/storageAccounts")


def step_graph() -> dict[str, tuple[str, ...]]:
    """{step: needs} of the real runner's graph (managed identity, the default)."""
    from jhubctl.azure.steps import needs

    return needs(service_principal=False)


def model(graph: dict[str, tuple[str, ...]], latency: dict[str, float]) -> tuple[float, list[str], float, dict[str, float]]:
    """(critical path seconds, its steps, sequential seconds, per-step seconds)."""
    duration = {name: sum(latency.get(t, 0.0) for t in STEP_OPERATIONS.get(name, [])) for name in graph}
    finish: dict[str, tuple[float, list[str]]] = {}

    def visit(name: str) -> tuple[float, list[str]]:
        if name not in finish:
            before = max((visit(d) for d in graph[name]), default=(0.0, []), key=lambda x: x[0])
            finish[name] = (before[0] + duration[name], [*before[1], name])
        return finish[name]

    end, path = max((visit(n) for n in graph), key=lambda x: x[0])
    return end, path, sum(duration.values()), duration


def start_fakes(work: Path, latency: dict[str, float]) -> tuple[Any, Any]:
    from tests.fakes.arm import FakeArm

    kube = None
    try:
        from tests.fakes.kube.server import FakeKube

        import jhubctl.kube.csidriver  # noqa: F401

        kube = FakeKube(ca_dir=work / "kube-ca").start()
        kube.seed({"apiVersion": "storage.k8s.io/v1", "kind": "CSIDriver", "metadata": {"name": "blob.csi.azure.com"},
                   "spec": {"attachRequired": False, "podInfoOnMount": True, "fsGroupPolicy": "ReadWriteOnceWithFSType",
                            "volumeLifecycleModes": ["Persistent", "Ephemeral"]}})
    except ImportError:
        pass
    fake = FakeArm(latency=latency, ca_dir=work / "arm-ca",
                   kubeconfig=kube.kubeconfig_text("jhub-aks") if kube else None).start()
    return fake, kube


def provision(work: Path, fake: Any, key: Path, extra: list[str]) -> tuple[float, int, dict[str, Any]]:
    """(wall seconds, write requests sent, --json output) of one `jhubctl provision --yes`."""
    from jhubctl.cli import main

    (work / "jhubctl.yaml").write_text(json.dumps({
        "target": "azure", "name": "bench",
        "azure": {"subscription_id": fake.subscription_id},
        "network": {"allowed_source_ips": ["203.0.113.7"]},
        "storage": {"account_name": "benchstore1"}, "registry": {"name": "benchacr1"},
        "aks": {"ssh_public_key_path": str(key)},
    }))
    os.chdir(work)
    os.environ.update({"JHUBCTL_ARM_ENDPOINT": fake.url, "REQUESTS_CA_BUNDLE": str(fake.ca_pem_path),
                       "JHUBCTL_AZURE_ACCESS_TOKEN": fake.credential().token})
    seen = len(fake.requests)
    out, err = io.StringIO(), io.StringIO()
    began = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["provision", "--yes", "--json", *extra])
    wall = time.perf_counter() - began
    if code != 0:
        raise SystemExit(f"provision failed ({code}):\n{err.getvalue()[-2000:]}")
    writes = sum(1 for r in fake.requests.snapshot()[seen:] if r.is_write)
    return wall, writes, json.loads(out.getvalue())


def make_key(directory: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = directory / "id_rsa.pub"
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
    return public


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every latency")
    parser.add_argument("--scale-branch", type=float, default=1.0,
                        help="multiply the latencies of the branches parallel to AKS (ACR, storage)")
    parser.add_argument("--latency", action="append", default=[], metavar="TYPE=SECONDS")
    args = parser.parse_args()
    latency = {k: v * args.scale * (args.scale_branch if k in BRANCH_TYPES else 1.0) for k, v in LATENCY.items()}
    for item in args.latency:
        kind, _, seconds = item.partition("=")
        latency[kind] = float(seconds)

    for var in [v for v in os.environ if v.startswith("JHUBCTL_")]:
        del os.environ[var]
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))

    with tempfile.TemporaryDirectory(prefix="bench-provision-") as tmp:
        base = Path(tmp)
        key = make_key(base)
        graph = step_graph()
        critical, path, sequential, duration = model(graph, latency)

        def fresh(name: str, lat: dict[str, float]) -> tuple[Path, Any, Any]:
            work = base / name
            work.mkdir()
            fake, kube = start_fakes(work, lat)
            return work, fake, kube

        work, fake, kube = fresh("warm-up", {})  # imports and first-use costs, not the runner's
        provision(work, fake, key, [])
        fake.stop()
        kube and kube.stop()

        walls, noop_walls, noop_writes, measured = [], [], [], []
        for n in range(args.rounds):
            work, fake, kube = fresh(f"round-{n}", latency)
            wall, writes, doc = provision(work, fake, key, [])
            again, again_writes, again_doc = provision(work, fake, key, [])
            fake.stop()
            kube and kube.stop()
            walls.append(wall)
            noop_walls.append(again)
            noop_writes.append(again_writes)
            measured.append({s["step"]: s["seconds"] for s in doc["steps"]})
            assert all(s["status"] == "succeeded" for s in doc["steps"] + again_doc["steps"])

    wall = statistics.median(walls)
    print("per-type latency (s): " + ", ".join(f"{k.split('/', 1)[1]} {v:g}" for k, v in latency.items()))
    print(f"{'step':<18}{'needs':<44}{'model s':>8}{'measured s':>12}")
    for name, needs in graph.items():
        got = statistics.median(m.get(name, 0.0) for m in measured)
        print(f"{name:<18}{', '.join(needs) or '-':<44}{duration[name]:>8.2f}{got:>12.2f}")
    print(f"critical path      {' -> '.join(p for p in path if duration[p] > 0)}: {critical:.2f} s")
    print(f"sequential sum     {sequential:.2f} s   (sequential / critical path = {sequential / critical:.2f})")
    print(f"provision wall     {wall:.2f} s   median of {args.rounds} ({', '.join(f'{w:.2f}' for w in walls)})")
    chain = statistics.median(sum(m.get(p, 0.0) for p in path) for m in measured)
    ratio = wall / critical
    print(f"  wall / critical path = {ratio:.3f}   (target <= 1.05: {'met' if ratio <= 1.05 else 'MISSED'})")
    print(f"  wall / sequential    = {wall / sequential:.3f}")
    print(f"  of the wall: critical-path steps as measured {chain:.2f} s; preflight, planning (the dry-run GETs")
    print(f"  before applying) and scheduling {wall - chain:.2f} s")
    print(f"no-op re-run       {statistics.median(noop_walls):.3f} s, write requests: {max(noop_writes)} (must be 0)")
    if max(noop_writes) != 0:
        sys.exit(1)


if __name__ == "__main__":
    main()
