"""A LocalConversationSpawner outside a hub: mock user, hub and ORM row, and a real process.

The process is a tiny Python script instead of jupyterhub-singleuser by default: it reports the
working directory, environment and arguments it was started with.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from jhubctl.spawner.local import LocalConversationSpawner

UUID = "550e8400-e29b-41d4-a716-446655440000"

REPORT = (
    "import json, os, sys; print(json.dumps({'cwd': os.getcwd(), 'home': os.environ.get('HOME'), "
    "'tmp': os.environ.get('TMPDIR'), 'root': os.environ.get('JUPYTERHUB_ROOT_DIR'), 'argv': sys.argv[1:]}))"
)


class MockUser:
    def __init__(self, name: str) -> None:
        self.name = name
        self.escaped_name = name
        self.url = f"/user/{name}/"


class MockHub:
    public_host = "http://127.0.0.1:8081"
    api_url = "http://127.0.0.1:8081/hub/api"
    base_url = "/hub/"
    url = "http://127.0.0.1:8081/hub/"


class MockOrmSpawner:
    """Spawner.name reads orm_spawner.name (a `name=` keyword would be ignored)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.server = None


def make(
    data_root: Path | str | None,
    *,
    user: str = "alice",
    name: str = "",
    user_options: dict[str, Any] | None = None,
    cmd: list[str] | None = None,
    **traits: Any,
) -> LocalConversationSpawner:
    if data_root is not None:
        traits["data_root"] = str(data_root)
    return LocalConversationSpawner(
        user=MockUser(user),
        hub=MockHub(),
        orm_spawner=MockOrmSpawner(name),
        user_options=user_options if user_options is not None else {},
        cmd=cmd or [sys.executable, "-c", REPORT],
        popen_kwargs={"stdout": subprocess.PIPE},
        **traits,
    )


def run(spawner: LocalConversationSpawner) -> dict[str, Any]:
    """start() for real, then read what the started process saw."""

    async def go() -> dict[str, Any]:
        await spawner.start()
        out, _ = spawner.proc.communicate(timeout=30)
        assert spawner.proc.returncode == 0
        await spawner.poll()  # reaps the process and clears the pid, as the Hub would
        return json.loads(out)

    return asyncio.run(go())
