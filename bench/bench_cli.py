"""`jhubctl --help` wall time against `python -c pass` (the interpreter's own floor), same run.

    .venv/bin/python bench/bench_cli.py [--rounds N]

Target (docs/benchmarks.md): `jhubctl --help` ≤ 0.25 s. The Azure and Kubernetes SDKs, httpx and the
pydantic models must stay out of the start-up path; the report lists any that sneak in.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
HEAVY = ("azure", "kubernetes", "httpx", "pydantic", "jupyterhub", "nbformat", "websockets")


def timed(argv: list[str], rounds: int) -> float:
    samples = []
    for _ in range(rounds):
        began = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples.append(time.perf_counter() - began)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    rounds = parser.parse_args().rounds
    base = timed([sys.executable, "-c", "pass"], rounds)
    helped = timed([str(BIN / "jhubctl"), "--help"], rounds)
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys; from jhubctl.cli import app; print(' '.join(sorted(sys.modules)))"],
        check=True, capture_output=True, text=True,
    ).stdout.split()
    heavy = sorted({m.split(".")[0] for m in loaded if m.split(".")[0] in HEAVY})
    print(f"python -c pass   {base * 1000:7.1f} ms")
    print(f"jhubctl --help   {helped * 1000:7.1f} ms   ratio {helped / base:.2f}   (target ≤ 250 ms)")
    print(f"heavy modules imported by the CLI at start-up: {', '.join(heavy) or 'none'}")


if __name__ == "__main__":
    main()
