"""The cluster half on the fakes: a fresh run against the no-op re-run, same process, same machine.

    .venv/bin/python bench/bench_cluster.py [--rounds N]

Each round makes a fresh fake cluster (the fake Kubernetes API with its controllers, two amd64 nodes)
and the recording helm and docker stubs, then runs the real CLI in-process: `apply-storage --yes`,
`build-hub-image`, `build-singleuser-image`, `deploy-hub --no-wait --yes` (the fresh run), then the same
four again (the re-run). No hub is involved, so the figures are jhubctl's own work plus the stubs' process
start-ups. The interpreter is a one-package input whose lock is resolved once, before the rounds, and
found in each round's state dir (as a first `up` leaves it): uv and the package index are not timed.

Reported: median wall time of each run, their ratio, and what the re-run sent: API requests, write
requests (target 0), helm upgrades and docker builds (target 0 each). The re-run's cost is reads only:
one GET per object, `helm version` + `helm list`, `docker buildx version` + `imagetools inspect` per image.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = (["apply-storage", "--yes"], ["build-hub-image"], ["build-singleuser-image"], ["deploy-hub", "--no-wait", "--yes"])
#: The interpreter of every round: one package, as of a fixed date (the same lock on every run).
INTERPRETER = {"requirements": ["ipykernel"], "exclude_newer": "2025-06-01"}


def cli(*argv: str) -> None:
    from jhubctl.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    if code != 0:
        raise SystemExit(f"jhubctl {' '.join(argv)} failed ({code}):\n{err.getvalue()}")


def resolve_lock(work: Path) -> Path:
    import yaml

    from jhubctl.config import load_config
    from jhubctl.packages import ensure_lock

    work.mkdir()
    (work / "jhubctl.yaml").write_text(yaml.safe_dump({"interpreter": INTERPRETER}))
    lock, _ = ensure_lock(load_config(work / "jhubctl.yaml", work / ".jhubctl", environ={}))
    return lock.path


def one_round(work: Path, lock: Path) -> dict[str, Any]:
    import yaml

    from tests.fakes.kube import FakeKube
    from tests.fakes.tools.fixtures import make_tools

    kube = FakeKube(ca_dir=work / "kube-ca").start()
    try:
        kube.controllers.settle = 0
        for i in range(2):
            kube.seed({"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"node-{i}"},
                       "status": {"nodeInfo": {"architecture": "amd64"}}})
        tools = make_tools(work / "tools")
        config = {"target": "kubernetes", "registry": {"server": "registry.example:5000"},
                  "storage": {"account_name": "benchstore"}, "interpreter": INTERPRETER,
                  "kubernetes": {"kubeconfig": str(kube.write_kubeconfig(work / "kubeconfig", "fake")), "context": "fake"}}
        (work / "jhubctl.yaml").write_text(yaml.safe_dump(config))
        (work / ".jhubctl" / "interpreter").mkdir(parents=True)
        shutil.copyfile(lock, work / ".jhubctl" / "interpreter" / "requirements.lock")
        os.chdir(work)
        os.environ["PATH"] = f"{tools.bin}{os.pathsep}{os.environ['PATH']}"
        began = time.perf_counter()
        for step in STEPS:
            cli(*step)
        fresh = time.perf_counter() - began
        seen, helm, docker = len(kube.requests), len(tools.helm.calls()), len(tools.docker.calls())
        began = time.perf_counter()
        for step in STEPS:
            cli(*step)
        rerun = time.perf_counter() - began
        again = kube.requests.snapshot()[seen:]
        return {
            "fresh": fresh, "rerun": rerun, "requests": len(again), "writes": sum(r.is_write for r in again),
            "upgrades": sum(c["argv"][0] == "upgrade" for c in tools.helm.calls()[helm:]),
            "builds": sum(c["argv"][:2] == ["buildx", "build"] for c in tools.docker.calls()[docker:]),
        }
    finally:
        kube.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    for var in [v for v in os.environ if v.startswith("JHUBCTL_")]:
        del os.environ[var]
    os.environ["JHUBCTL_API_TOKEN"] = "bench-" + "0" * 58
    os.environ["NO_PROXY"] = ",".join(filter(None, [os.environ.get("NO_PROXY"), "127.0.0.1"]))
    here = os.getcwd()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as tmp:
        try:
            lock = resolve_lock(Path(tmp) / "lock")
            one_round(Path(tmp) / "warm-up", lock)  # pays the kubernetes client's import once
            for n in range(rounds):
                results.append(one_round(Path(tmp) / f"round-{n}", lock))
        finally:
            os.chdir(here)
    fresh = statistics.median(r["fresh"] for r in results)
    rerun = statistics.median(r["rerun"] for r in results)
    last = results[-1]
    print(f"fresh run (apply-storage, both image builds, deploy-hub)  {fresh:6.3f} s   median of {rounds}")
    print(f"no-op re-run                                             {rerun:6.3f} s   ratio {rerun / fresh:.2f}")
    print(f"re-run sent {last['requests']} API requests, {last['writes']} writes (target 0); "
          f"helm upgrades {last['upgrades']}, docker builds {last['builds']} (target 0)")


if __name__ == "__main__":
    main()
