"""bench/bench_mcp.py runs at HEAD (a tiny setting), so the figure in docs/benchmarks.md cannot rot."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mcp")
pytestmark = pytest.mark.hub

ROOT = Path(__file__).resolve().parents[2]


def test_bench_mcp_runs_and_reports_both_figures() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "bench_mcp.py"), "--rounds", "2"], cwd=ROOT,
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr[-2000:]
    line = done.stdout.strip().splitlines()[-1]
    assert re.search(r"MCP\s+[\d.]+ ms\s+library\s+[\d.]+ ms\s+delta [+-][\d.]+ ms", line), line
