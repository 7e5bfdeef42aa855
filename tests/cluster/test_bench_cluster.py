"""bench/bench_cluster.py runs at HEAD on a tiny setting, and its re-run still writes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "bench_cluster.py"


def test_bench_cluster_runs_and_the_rerun_writes_nothing() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--rounds", "1"], capture_output=True, text=True, check=False,
                          timeout=240)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("fresh run") and lines[1].startswith("no-op re-run")
    assert ", 0 writes (target 0); helm upgrades 0, docker builds 0" in lines[2]
