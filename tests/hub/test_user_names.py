"""User names as identity systems and the seed's client produce them, checked when the user is made.

The seed's client turns every run of characters outside [A-Za-z0-9] into '_'. Such names must work
end to end, and a name that cannot work must be refused by `POST /users/{name}` itself: 400 with the
reason, and no user left behind (a refusal only at spawn time answered 500 and kept the user).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx
import pytest

if TYPE_CHECKING:
    from conftest import RunningHub

pytestmark = pytest.mark.hub


@pytest.mark.parametrize(
    "name",
    [
        "a_b",  # a-b after the seed's client
        "x_example_com",  # x@example.com
        "john_doe_contoso_onmicrosoft_com",  # a UPN, folded to lowercase
        "0042",  # digits first: employee numbers
        "f81d4fae_7dec_11d0_a765_00a0c91e6bf6",  # an object id, '-' made '_'
    ],
)
def test_names_from_identity_systems_get_a_server_and_a_folder(running_hub: RunningHub, name: str) -> None:
    with running_hub.client() as client:
        assert client.request("POST", f"/users/{name}").status_code == 201
        started = client.start_server(name, "", {"conversationId": "conv_1"}, timeout=60, idle_timeout=30)
        assert started.server.ready
        resp = httpx.get(f"{started.server.url}api/contents", headers={"Authorization": f"token {running_hub.token}"})
        assert resp.status_code == 200
        client.stop_server(name, "")
    assert running_hub.folder(name, "conv_1").is_dir()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("John_Doe", "must be lowercase"),
        ("x@example.com", "contains '.'"),
        ("_lead", "starts with '_'"),
        ("trail_", "ends with '_'"),
        ("a" * 30 + "_" * 12 + "b", "too long"),
    ],
)
def test_a_refused_name_is_a_400_with_the_reason_and_leaves_no_user(
    running_hub: RunningHub, name: str, reason: str
) -> None:
    before = running_hub.tree()
    with running_hub.client() as client:
        resp = client.request("POST", f"/users/{name}")
        assert resp.status_code == 400, resp.text
        assert reason in resp.json()["message"]
        assert client.get_user(name) is None
    assert running_hub.tree() == before


def test_the_check_needs_the_scope_first(running_hub: RunningHub) -> None:
    """Without a token nobody learns which names would pass: 403 before the name is looked at."""
    resp = httpx.post(f"{running_hub.hub.url}/hub/api/users/Bad.Name")
    assert resp.status_code == 403
