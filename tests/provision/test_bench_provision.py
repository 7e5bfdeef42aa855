"""bench/bench_provision.py runs at HEAD (it rotted once when the fake's internals changed under it).

Tiny setting: one round at a tenth of the latencies. No timing is asserted (docs/benchmarks.md holds the
measured figures); what must hold is that the script runs the real step graph to the end and that the
no-op re-run sends no write.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "bench" / "bench_provision.py"


def test_bench_provision_runs_on_a_tiny_setting() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--rounds", "1", "--scale", "0.1"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("critical path") and "aks" in line for line in lines), done.stdout
    assert any(line.startswith("provision wall") for line in lines), done.stdout
    assert any("write requests: 0 (must be 0)" in line for line in lines), done.stdout
    for step in ("providers", "network", "aks", "role-assignments", "csi-driver"):
        assert any(line.startswith(step) for line in lines), f"{step} missing:\n{done.stdout}"
