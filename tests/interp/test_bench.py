"""bench/bench_fence.py runs at HEAD (a figure in docs/ must come from a script that works)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_fence.py"


def test_bench_fence_runs_on_a_tiny_setting() -> None:
    proc = subprocess.run([sys.executable, str(BENCH), "--rounds", "2"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "server start  fenced" in proc.stdout or "fence cannot be on here" in proc.stdout
