"""What the fence costs a server start: the real spawner, fenced against unfenced, in the same run.

    .venv/bin/python bench/bench_fence.py [--rounds N]

Each round starts one process through LocalConversationSpawner.start() twice, fence on and off (order
alternating), and times start() until the process has run a line of Python in its folder: the
launcher's own interpreter start, the user switch and the Landlock ruleset are the difference.
Target (docs/benchmarks.md): fenced ≤ unfenced + 150 ms; the fence is skipped, and said so, where it
cannot be on.
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
from jhubctl.spawner.fence import state  # noqa: E402
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
    try:
        times: dict[bool, list[float]] = {True: [], False: []}
        for round_ in range(args.rounds):
            for fenced in (True, False) if round_ % 2 == 0 else (False, True):
                times[fenced].append(once(folder / "data", f"c{round_}-{int(fenced)}", fenced, python))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    on, off = statistics.median(times[True]), statistics.median(times[False])
    print(f"fence: {fence.describe()}")
    print(f"server start  fenced {on * 1000:7.1f} ms   unfenced {off * 1000:7.1f} ms   "
          f"delta {(on - off) * 1000:+.1f} ms  (target ≤ +150 ms)")


if __name__ == "__main__":
    main()
