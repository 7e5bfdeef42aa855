"""Each benchmark script runs at HEAD on a tiny setting, so a figure in docs/benchmarks.md cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench"


def run(script: str, *argv: str) -> str:
    done = subprocess.run([sys.executable, str(BENCH / script), *argv], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_bench_cli_compares_with_a_bare_app_of_as_many_commands() -> None:
    import typer

    from jhubctl.cli import app

    root = typer.main.get_command(app)
    count = sum(len(getattr(c, "commands", None) or {None: c}) for c in root.commands.values())
    out = run("bench_cli.py", "--rounds", "1")
    assert f"bare typer+rich app, {count} commands --help" in out
    assert "ratio" in out and "heavy modules imported by the CLI at start-up: none" in out


def test_bench_proxy_measures_each_proxy_against_a_direct_connection() -> None:
    out = run("bench_proxy.py", "--rounds", "3")
    rows = {line.split("  ")[0]: line for line in out.splitlines()}
    assert "v1.kernel.websocket.jupyter.org" in rows["direct"]
    ours = rows["jhubctl local proxy"]
    assert "v1.kernel.websocket.jupyter.org" in ours and "kept" in ours  # the fix: subprotocol and frames
    shipped = rows["PyPI proxy as shipped"]
    assert "none (client falls back)" in shipped and "made text" in shipped  # what it fixes
