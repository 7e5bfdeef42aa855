"""What both stubs share: their state folder, the call log, and the state file."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

STATE_ENV = "FAKE_TOOL_STATE"


def folder() -> Path:
    return Path(os.environ[STATE_ENV])


@contextmanager
def state() -> Iterator[dict[str, Any]]:
    """The state file, locked and read; written back when the block ends."""
    path = folder() / "state.json"
    with open(folder() / "state.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        data = json.loads(path.read_text()) if path.exists() else {}
        yield data
        path.write_text(json.dumps(data, indent=2, sort_keys=True))


def record(tool: str, **extra: Any) -> None:
    entry = {"tool": tool, "argv": sys.argv[1:], "env": sorted(k for k in os.environ if k != STATE_ENV), **extra}
    with open(folder() / "calls.jsonl", "a") as fh:
        fh.write(json.dumps(entry) + "\n")


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def fail(message: str, code: int = 1) -> None:
    sys.stderr.write(message.rstrip("\n") + "\n")
    sys.exit(code)


def option(args: list[str], *names: str) -> str | None:
    """The value of ``--name VALUE`` or ``--name=VALUE``."""
    for i, arg in enumerate(args):
        for name in names:
            if arg == name and i + 1 < len(args):
                return args[i + 1]
            if arg.startswith(name + "="):
                return arg.split("=", 1)[1]
    return None


def positionals(args: list[str], with_value: set[str]) -> list[str]:
    """Arguments that are not options (options in ``with_value`` take the next argument)."""
    out, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg.startswith("-"):
            skip = arg in with_value
        else:
            out.append(arg)
    return out
