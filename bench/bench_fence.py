"""What the fence costs a server start: the real spawner, fenced against unfenced, in the same run.

    .venv/bin/python bench/bench_fence.py [--rounds N]

Each round starts one process through LocalConversationSpawner.start() twice, fence on and off (order
alternating), and times start() until the process has run a line of Python in its folder: the
launcher's own interpreter start, the user switch and the Landlock ruleset are the difference.
As root where a veil can be made, a third start per round has its data root under a 0700 folder (a
root user's clone in /root): the veil's mount namespace is the further difference.
Target (docs/benchmarks.md): fenced ≤ unfenced + 150 ms, veiled ≤ fenced + 50 ms; the fence is skipped,
and said so, where it cannot be on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.spawner.support: the spawner outside a hub

from jhubctl.packages.venv import base_python  # noqa: E402
from jhubctl.spawner.fence import state, veil_problem  # noqa: E402
from tests.spawner.support import make  # noqa: E402


def once(data: Path, conversation: str, fence: bool, python: str) -> float:
    spawner = make(data, user_options={"conversation_id": conversation}, fence=fence,
                   cmd=[python, "-c", "open('ran', 'w').write('1')"])

    async def go() -> float:
        began = time.perf_counter()
        await spawner.start()
        spawner.proc.wait(timeout=60)
        elapsed = time.perf_counter() - began
        await spawner.poll()
        assert spawner.proc.returncode == 0, f"the {'fenced' if fence else 'plain'} start failed"
        return elapsed

    return asyncio.run(go())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    fence = state()
    if not fence.active:
        print(f"fence cannot be on here ({fence.describe()}): nothing to compare")
        return
    python = base_python(f"{sys.version_info.major}.{sys.version_info.minor}", public_only=os.geteuid() == 0)
    folder = Path(tempfile.mkdtemp(prefix="jhubctl-bench-fence-"))
    folder.chmod(0o755)
    (folder / "private").mkdir(mode=0o700)
    veiled = os.geteuid() == 0 and veil_problem() is None
    kinds = ["fenced", "plain", *(["veiled"] if veiled else [])]
    roots = {"fenced": folder / "data", "plain": folder / "data", "veiled": folder / "private" / "data"}
    try:
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for round_ in range(args.rounds):
            for kind in kinds[round_ % len(kinds):] + kinds[:round_ % len(kinds)]:
                times[kind].append(once(roots[kind], f"c{round_}-{kind}", kind != "plain", python))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    median = {kind: statistics.median(values) for kind, values in times.items()}
    on, off = median["fenced"], median["plain"]
    print(f"fence: {fence.describe()}")
    print(f"server start  fenced {on * 1000:7.1f} ms   unfenced {off * 1000:7.1f} ms   "
          f"delta {(on - off) * 1000:+.1f} ms  (target ≤ +150 ms)")
    if veiled:
        print(f"server start  veiled {median['veiled'] * 1000:7.1f} ms   fenced   {on * 1000:7.1f} ms   "
              f"delta {(median['veiled'] - on) * 1000:+.1f} ms  (target ≤ +50 ms)")
    else:
        print(f"no veil here: {veil_problem() if os.geteuid() == 0 else 'jhubctl does not run as root'}")


if __name__ == "__main__":
    main()
