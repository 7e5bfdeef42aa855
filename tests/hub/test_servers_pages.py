"""`servers` on a hub with more active users than one page holds (JupyterHub 4 pages GET /users).

JupyterHub 4.0.2 pages the rows of users joined with their active servers, ordered by user id, so a user
with two servers is two rows and can come on two pages. Every test here starts the same servers on its
own hub: four users, one of them with two servers (five rows).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from jhubctl.hubapi import client as hubclient
from jhubctl.hubapi.client import PAGINATION, HubClient

if TYPE_CHECKING:
    from conftest import RunningHub

pytestmark = pytest.mark.hub

SERVERS = {("pa", "c1"), ("pb", "c1"), ("pb", "c2"), ("pc", "c1"), ("pd", "c1")}


class Counting(httpx.HTTPTransport):
    """The real transport, remembering each request."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return super().handle_request(request)


@pytest.fixture(scope="module")
def busy_hub(running_hub: RunningHub) -> Iterator[RunningHub]:
    with running_hub.client() as hub:
        for user, conversation in sorted(SERVERS):
            hub.ensure_user(user)
            hub.start_server(user, conversation, {"conversation_id": conversation}, timeout=120, idle_timeout=60)
        hub.ensure_user("idle")  # a user with no server is on no page of the active ones
    yield running_hub


def pages(transport: Counting) -> list[dict[str, str]]:
    asked = [r for r in transport.requests if r.method == "GET" and r.url.path == "/hub/api/users"]
    assert all(r.headers["Accept"] == PAGINATION for r in asked)
    return [dict(r.url.params) for r in asked]


@pytest.mark.parametrize("page", [1, 2, 3, 200])
def test_every_page_is_read_once_and_every_server_listed_once(busy_hub: RunningHub, page: int) -> None:
    transport = Counting()
    with HubClient(busy_hub.hub.url, busy_hub.token, transport=transport) as hub:
        found = hub.servers(page=page)
    assert sorted((s.user, s.name) for s in found) == sorted(SERVERS)
    assert all(s.ready for s in found)
    rows = len(SERVERS)  # the hub's total: one row per active server
    asked = pages(transport)
    assert len(asked) == math.ceil(rows / page)  # one request per page, no more
    assert asked == [{"state": "active", "offset": str(offset), "limit": str(page)} for offset in range(0, rows, page)]


def test_the_cli_lists_servers_past_the_first_page(busy_hub: RunningHub, cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command itself, with pages of two (as a hub whose api_page_max_limit is 2 would serve)."""
    import json

    monkeypatch.setattr(hubclient, "PAGE", 2)
    code, out, err = cli("--config", str(busy_hub.loaded.path), "--state-dir", str(busy_hub.loaded.state_dir),
                         "servers", "--json")
    assert code == 0, err
    assert sorted((s["user"], s["name"]) for s in json.loads(out)) == sorted(SERVERS)
