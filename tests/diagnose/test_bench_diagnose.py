"""bench/bench_diagnose.py runs at HEAD on a tiny setting, finds what it broke, and sends no call per healthy pod."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).parents[2] / "bench" / "bench_diagnose.py"


def test_bench_diagnose_runs_and_calls_do_not_grow_with_healthy_pods() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--users", "60", "--small", "25", "--rounds", "1"],
                          capture_output=True, text=True, check=False, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("diagnose, 60 user pods") and lines[1].startswith("diagnose, 25 user pods")
    assert "calls other than list pages: the same for both hubs" in lines[5]
    assert lines[6] == "found: JH312, JH315, JH317 (exit 1)"
