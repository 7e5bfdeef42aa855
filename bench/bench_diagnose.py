"""`jhubctl diagnose` on a big hub: 2,000 user pods (a few failing) against 20, same process, same machine.

    .venv/bin/python bench/bench_diagnose.py [--users N] [--small N] [--rounds N]

Each round builds the deployment of tests/diagnose/world.py on the fakes (the fake Kubernetes API with two
nodes, the chart's pods and services, the shared claim; the fake registry; the helm stub; a fake JupyterHub
API with one ready server per user), breaks a few things (3 user pods crash-looping with `exec format
error`, 2 that cannot pull their image, 1 that cannot be scheduled), then runs the real CLI in-process:
`jhubctl diagnose --json` over every area. The fakes run in this process, so their own JSON work is in the
figures too.

Reported: median wall time for the big and the small hub and their ratio, and what each run sent: requests to
the Kubernetes API (with the list calls and log reads among them), to the hub API and to the registry, and
helm runs. The target: the big hub within 3 s, and the same calls as the small one but for extra list pages
(500 pods a page for Kubernetes, 200 users a page for the hub): no call per healthy pod. The baseline in the
same run: one bare paginated list of the pods through the same adapter, the least any tool pays.
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
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

FAILING = {"crash": 3, "pull": 2, "pending": 1}


def cli(*argv: str) -> tuple[int, str]:
    from jhubctl.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue()


def break_some(world: Any) -> None:
    from tests.diagnose.world import event, user_pod, waiting

    image = world.user_image
    for i in range(FAILING["crash"]):
        world.kube.seed(user_pod(f"user{i}", f"c{i}", image, waiting("notebook", image, "CrashLoopBackOff",
                                                                     restarts=5, exit_code=1)))
        world.kube.set_pod_log("jhub", f"jupyter-user{i}--c{i}", "exec /opt/conda/bin/python: exec format error\n",
                               "notebook", previous=True)
    for i in range(10, 10 + FAILING["pull"]):
        world.kube.seed(user_pod(f"user{i}", f"c{i}", image, waiting(
            "notebook", image, "ImagePullBackOff", f'Back-off pulling image "{image}": 401 Unauthorized'), phase="Pending"))
    for i in range(20, 20 + FAILING["pending"]):
        world.kube.seed(user_pod(f"user{i}", f"c{i}", image, phase="Pending"))
        world.kube.seed(event("Pod", f"jupyter-user{i}--c{i}", "FailedScheduling",
                              "0/2 nodes are available: 2 Insufficient cpu."))


def one_round(work: Path, users: int) -> dict[str, Any]:
    from tests.diagnose.world import TOKEN, add_hub, build
    from tests.fakes.base.fixtures import write_ca_bundle
    from tests.fakes.hub import FakeHub
    from tests.fakes.kube import FakeKube
    from tests.fakes.registry import FakeRegistry

    kube = FakeKube(ca_dir=work / "kube-ca").start()
    registry = FakeRegistry(ca_dir=work / "registry-ca").start()
    hub = FakeHub(token=TOKEN).start()
    try:
        os.environ["REQUESTS_CA_BUNDLE"] = str(write_ca_bundle(work / "ca.pem", [registry.ca_pem]))
        world = build(work / "world", kube, registry, users=users)
        add_hub(world, hub, users)
        break_some(world)
        os.chdir(world.root)
        os.environ["PATH"] = f"{world.tools.bin}{os.pathsep}{os.environ['PATH']}"
        helm_before = len(world.tools.helm.calls())
        kube.requests.clear()
        began = time.perf_counter()
        code, out = cli("diagnose", "--json")
        wall = time.perf_counter() - began
        findings = json.loads(out)
        calls = kube.requests.snapshot()
        kinds = Counter(r.verb for r in calls)
        bare = _bare_list(world)
        return {
            "wall": wall, "bare": bare, "code": code, "failed": sorted(f["code"] for f in findings if f["status"] == "fail"),
            "kube": len(calls), "lists": kinds["list"], "logs": sum(r.subresource == "log" for r in calls),
            "list_calls": sorted({(r.resource, r.query.get("fieldSelector", "")) for r in calls if r.verb == "list"}),
            "hub": len(hub.requests), "registry": len(registry.requests),
            "helm": len(world.tools.helm.calls()) - helm_before,
            "shape": sorted((r.verb or r.method, r.resource or r.path, r.subresource or "") for r in calls
                            if r.verb != "list"),
        }
    finally:
        for fake in (hub, registry, kube):
            fake.stop()


def _bare_list(world: Any) -> float:
    """One paginated list of the namespace's pods through the same adapter: the floor of any check of pods."""
    from jhubctl.kube.client import KubeClient

    with KubeClient.from_kubeconfig(world.root / "kubeconfig", "fake") as kube:
        began = time.perf_counter()
        list(kube.list_objects("Pod", "jhub"))
        return time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=2000, help="user pods of the big hub")
    parser.add_argument("--small", type=int, default=20, help="user pods of the small hub (the baseline)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    for var in [v for v in os.environ if v.startswith("JHUBCTL_")]:
        del os.environ[var]
    from tests.diagnose.world import TOKEN

    os.environ["JHUBCTL_API_TOKEN"] = TOKEN
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))
    here, path = os.getcwd(), os.environ["PATH"]
    big, small = [], []
    with tempfile.TemporaryDirectory(prefix="bench-diagnose-") as tmp:
        try:
            one_round(Path(tmp) / "warm-up", args.small)  # pays the imports once
            for n in range(args.rounds):
                small.append(one_round(Path(tmp) / f"small-{n}", args.small))
                os.environ["PATH"] = path
                big.append(one_round(Path(tmp) / f"big-{n}", args.users))
                os.environ["PATH"] = path
        finally:
            os.chdir(here)
    wall_big, wall_small = statistics.median(r["wall"] for r in big), statistics.median(r["wall"] for r in small)
    bare = statistics.median(r["bare"] for r in big)
    b, s = big[-1], small[-1]
    print(f"diagnose, {args.users} user pods   {wall_big:6.3f} s   median of {args.rounds}   (target <= 3 s)")
    print(f"diagnose, {args.small} user pods     {wall_small:6.3f} s   ratio {wall_big / wall_small:.2f}")
    print(f"bare paginated list of {args.users} pods {bare:6.3f} s")
    print(f"Kubernetes API calls: {b['kube']} ({b['lists']} list pages, {b['logs']} log reads) against {s['kube']} "
          f"({s['lists']} list pages, {s['logs']} log reads)")
    print(f"hub API calls: {b['hub']} against {s['hub']}; registry calls: {b['registry']} against {s['registry']}; "
          f"helm runs: {b['helm']} against {s['helm']}")
    same = b["shape"] == s["shape"] and b["list_calls"] == s["list_calls"]
    print(f"calls other than list pages: {'the same' if same else 'DIFFERENT'} for both hubs; "
          f"one list per kind: {len(b['list_calls'])} kinds listed")
    print(f"found: {', '.join(b['failed'])} (exit {b['code']})")


if __name__ == "__main__":
    main()
