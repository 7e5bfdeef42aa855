"""bench/bench_local.py runs at HEAD on a tiny setting (it starts a hub of its own)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.hub


def test_bench_local_reports_each_measure() -> None:
    script = Path(__file__).resolve().parents[2] / "bench" / "bench_local.py"
    done = subprocess.run([sys.executable, str(script), "--rounds", "1", "--exec-rounds", "1", "--process-rounds", "1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for measure in ("start-server→ready", "execute, answered", "execute + flush, saved", "exec process"):
        assert measure in done.stdout
    assert "of which imports" in done.stdout.splitlines()[-1]
